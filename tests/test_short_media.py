"""Short, small and dark clips: sampled densely enough to keep evidence, matched through an edit.

Ground truth (written, not measured): the reference is the whole of
``../shared/media/videos/tmh_bear_fence.webm`` (2.7 s, a bear behind a fence) darkened to 0.3 of its
luma and shrunk to 176x144, as an old phone at night would record it.  Its copies: a low-bitrate
re-encode at another size (the whole clip), the clip between 3 s of unrelated footage and 2 s more
(ref 0-2.7 s at query 3-5.7 s), and a 1.5 s excerpt (ref 0.6-2.1 s).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import ffmpeg, phash_index, shared_media

from provenance.frames import sample_frames, short_media_rate
from provenance.index import HashIndex
from provenance.match import match_frames, needed_frames, query_sampling
from provenance.models import Frame, Match
from provenance.settings import MatchSettings, SamplingSettings

SAMPLING = SamplingSettings()
H264 = ["-an", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
DARK_QCIF = "scale=176:144,setsar=1,lutyuv=y=val*0.3"


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("short") / "bear_dark_qcif.mp4"
    ffmpeg(
        "-i",
        str(shared_media("videos/tmh_bear_fence.webm")),
        "-vf",
        DARK_QCIF,
        *H264,
        "-crf",
        "20",
        str(path),
    )
    return path


@pytest.fixture(scope="module")
def index(reference: Path) -> HashIndex:
    return phash_index("bear", reference)


def matches_of(path: Path, index: HashIndex) -> list[Match]:
    frames = sample_frames(path, "video", query_sampling(SAMPLING, MatchSettings()))
    return match_frames("query", frames, index, {}, MatchSettings())


def assert_found(matches: list[Match], ref_s: tuple[float, float], query_s: tuple[float, float]) -> None:
    assert [m.ref_sha256 for m in matches] == ["bear"], matches
    best = matches[0].segments[0]
    assert abs(best.ref_start_ms / 1000 - ref_s[0]) <= 1.0 and abs(best.ref_end_ms / 1000 - ref_s[1]) <= 1.0
    assert abs(best.query_start_ms / 1000 - query_s[0]) <= 1.0
    assert abs(best.query_end_ms / 1000 - query_s[1]) <= 1.0


def test_a_short_video_is_sampled_densely(reference: Path) -> None:
    frames = sample_frames(reference, "video", SAMPLING)
    assert len(frames) >= SAMPLING.short_media_frames
    gaps = np.diff([f.t_ms for f in frames])
    assert gaps.max() < 1000 / SAMPLING.rate_hz


def test_a_long_video_keeps_the_archive_rate() -> None:
    frames = [Frame(t, np.zeros((4, 4), np.uint8)) for t in range(0, 30_000, 500)]
    assert short_media_rate(frames, SAMPLING) is None
    two_seconds = frames[:4]
    assert short_media_rate(two_seconds, SAMPLING) == SAMPLING.short_media_max_rate_hz


def test_a_dark_small_clip_is_found_after_a_reencode(
    reference: Path, index: HashIndex, tmp_path: Path
) -> None:
    copy = tmp_path / "reencoded.mp4"
    ffmpeg("-i", str(reference), "-vf", "scale=240:196", *H264, "-b:v", "60k", str(copy))
    assert_found(matches_of(copy, index), (0.0, 2.7), (0.0, 2.7))


def test_a_dark_small_clip_is_found_inside_a_longer_video(
    reference: Path, index: HashIndex, tmp_path: Path
) -> None:
    copy = tmp_path / "inside.mp4"
    graph = (
        "[0:v]setsar=1,format=yuv420p[a];[1:v]setsar=1,fps=30,format=yuv420p[b];"
        "[2:v]setsar=1,format=yuv420p[c];[a][b][c]concat=n=3:v=1[v]"
    )
    ffmpeg(
        "-f", "lavfi", "-t", "3", "-i", "mandelbrot=s=176x144:r=30",
        "-i", str(reference),
        "-f", "lavfi", "-t", "2", "-i", "cellauto=s=176x144:r=30",
        "-filter_complex", graph, "-map", "[v]", *H264, str(copy),
    )  # fmt: skip
    assert_found(matches_of(copy, index), (0.0, 2.7), (3.0, 5.7))


def test_a_short_excerpt_of_a_short_clip_is_found(reference: Path, index: HashIndex, tmp_path: Path) -> None:
    copy = tmp_path / "excerpt.mp4"
    ffmpeg("-ss", "0.6", "-t", "1.5", "-i", str(reference), *H264, str(copy))
    assert_found(matches_of(copy, index), (0.6, 2.1), (0.0, 1.5))


def test_the_evidence_needed_scales_with_the_sampling_and_the_shorter_side() -> None:
    opts = MatchSettings()
    at_2hz = np.arange(0, 60_000, 500)
    at_8hz = np.arange(0, 2_000, 125)
    assert needed_frames(480, at_2hz, opts) == opts.min_frames  # the archive rate: unchanged
    assert needed_frames(16, at_8hz, opts) == 8  # a whole 2 s clip: 1 s of it
    assert needed_frames(12, at_8hz, opts) == 6  # a 1.5 s excerpt: half of what it offers
    assert needed_frames(2, at_8hz, opts) == 2  # never more than a side has
    assert needed_frames(6, at_2hz, opts) == 3  # half of 6, and the 3 frames a time line needs
    assert needed_frames(2, at_2hz, opts) == 2
    assert needed_frames(480, at_2hz, MatchSettings(min_frames=2)) == 2  # a lower setting is kept
