"""`provenance keyframes` and `info` on every real file: what an investigator takes to image search."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import SHARED_MEDIA, ffmpeg, shared_media
from PIL import Image
from test_cli import json_lines, run

# Every file the media README lists; an empty list (no ../shared/media) skips in shared_media().
REAL_FILES = sorted(
    p.relative_to(SHARED_MEDIA).as_posix() for p in SHARED_MEDIA.glob("*/*") if p.name != "README.md"
) or ["videos/openshot_run.mp4"]


@pytest.fixture(scope="module")
def cuts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three distinct real shots of 3 s each, joined by hard cuts at 3 s and 6 s."""
    folder = tmp_path_factory.mktemp("cuts")
    parts = []
    for n, name in enumerate(("openshot_run.mp4", "gopro_karma.mp4", "mei_issue515_geese.mp4")):
        part = folder / f"part{n}.mp4"
        ffmpeg(
            "-t",
            "3",
            "-i",
            str(shared_media(f"videos/{name}")),
            "-vf",
            "scale=640:360,setsar=1",
            "-r",
            "25",
            "-an",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            str(part),
        )
        parts.append(part)
    joined = folder / "cuts.mp4"
    inputs = [arg for p in parts for arg in ("-i", str(p))]
    ffmpeg(
        *inputs,
        "-filter_complex",
        "[0:v][1:v][2:v]concat=n=3:v=1[v]",
        "-map",
        "[v]",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        str(joined),
    )
    return joined


def test_keyframes_of_an_archived_video_are_kept_in_the_archive(tmp_path, cuts, capsys) -> None:
    root = tmp_path / "archive"
    assert run(capsys, "--archive", str(root), "add", str(cuts))[0] == 0
    sheet = tmp_path / "sheet.jpg"
    code, out, _ = run(
        capsys, "--archive", str(root), "keyframes", str(cuts), "--sheet", str(sheet), "--json"
    )
    assert code == 0
    rows = json_lines(out)
    assert [r["shot"] for r in rows] == [0, 1, 2]
    for row, (start, end) in zip(rows, [(0, 3), (3, 6), (6, 9)], strict=True):
        assert start <= row["t"] < end  # one keyframe inside each shot
        assert Path(row["path"]).is_relative_to(root / "keyframes")
        with Image.open(row["path"]) as img:
            assert img.size == (640, 360)
        assert set(row["search"]) == {"google_lens", "bing", "yandex", "tineye"}
    with Image.open(sheet) as img:
        assert img.width >= 3 * 200
    # Asked again: read back from the archive, the same files.
    code, again, _ = run(capsys, "--archive", str(root), "keyframes", str(cuts), "--json")
    assert code == 0 and [r["path"] for r in json_lines(again)] == [r["path"] for r in rows]


def test_keyframes_of_a_file_outside_the_archive_go_to_the_folder_given(tmp_path, cuts, capsys) -> None:
    out_dir = tmp_path / "frames"
    code, out, _ = run(capsys, "--archive", str(tmp_path / "a"), "keyframes", str(cuts), "-o", str(out_dir))
    assert code == 0
    assert len(list(out_dir.glob("*.jpg"))) == 3 and "00:00:0" in out


def test_keyframes_of_a_photo_or_non_media_is_bad_input(tmp_path, capsys) -> None:
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    for target in (str(shared_media("photos/pillow_flower.jpg")), str(text), str(tmp_path / "missing.mp4")):
        code, _, err = run(capsys, "--archive", str(tmp_path / "a"), "keyframes", target)
        assert code == 3 and err.count("\n") == 1, err


@pytest.mark.parametrize("name", REAL_FILES)
def test_info_reads_every_real_file(name: str, tmp_path, capsys) -> None:
    code, out, err = run(capsys, "--archive", str(tmp_path / "a"), "info", str(shared_media(name)), "--json")
    assert code == 0, err
    record = json.loads(out)
    assert record["kind"] == ("image" if name.startswith("photos/") else "video")
    assert record["container"]["width"] > 0 and record["container"]["height"] > 0


def test_keyframe_times_count_from_the_start_of_the_stream(tmp_path, cuts, capsys) -> None:
    # MPEG-TS streams start at 1.4 s of presentation time; times in provenance count from the start.
    ts = tmp_path / "cuts.ts"
    ffmpeg("-i", str(cuts), "-c", "copy", "-f", "mpegts", str(ts))
    code, out, _ = run(
        capsys, "--archive", str(tmp_path / "a"), "keyframes", str(ts), "-o", str(tmp_path / "k"), "--json"
    )
    assert code == 0
    times = [row["t"] for row in json_lines(out)]
    assert len(times) == 3
    for t, (start, end) in zip(times, [(0, 3), (3, 6), (6, 9)], strict=True):
        assert start <= t < end
