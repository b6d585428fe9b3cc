"""A 9:16 re-frame whose blurred fill is as flat as its footage: found by the band between borders.

Ground truth (written, not measured): the reference is 6 s of a real screen recording at 176x144,
the copy the same 6 s re-framed to 9:16 over a blurred, zoomed copy of itself, as re-uploads to
vertical platforms are.  The recording is mostly flat panels, so the fill is not softer than the
footage's middle rows and the content box keeps the whole frame; the band's borders are still sharp.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from conftest import ffmpeg, phash_index, shared_media

from provenance.contentbox import content_box_in, fill_band, sampled_stack
from provenance.frames import sample_frames
from provenance.hashing import PHASH64
from provenance.inset import inset_in
from provenance.match import hash_query, match_frames, query_sampling
from provenance.models import Box, Frame, Match
from provenance.settings import MatchSettings, SamplingSettings

SAMPLING = SamplingSettings()
H264 = ["-an", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-crf", "23"]
REFRAME = (
    "[0:v]split[a][b];[a]scale=360:640:force_original_aspect_ratio=increase,crop=360:640,"
    "boxblur=20:2[bg];[b]scale=360:-2[fg];[bg][fg]overlay=(W-w)/2:(H-h)/2,setsar=1"
)


def test_a_reframe_of_flat_footage_is_found_through_its_band(tmp_path: Path) -> None:
    recording = shared_media("videos/mei_ipod_tutorial_320x240.m4v")
    source = tmp_path / "source.mp4"
    ffmpeg(
        "-ss", "39.75", "-t", "6", "-i", str(recording), "-vf", "scale=176:144,setsar=1", *H264, str(source)
    )
    copy = tmp_path / "vertical.mp4"
    ffmpeg("-i", str(source), "-filter_complex", REFRAME, *H264, str(copy))
    index = phash_index("source", source)
    frames = list(sample_frames(copy, "video", query_sampling(SAMPLING, MatchSettings())))
    stack = sampled_stack(frames)
    assert stack is not None and content_box_in(stack) is None  # the fill is not found as such
    band = fill_band(stack)
    # The footage, 360 wide at 176:144, fills rows 173-467 of 640: 69-187 of the sampled 256.
    assert band is not None and abs(band.y - 69) <= 8 and abs(band.y + band.height - 187) <= 8, band

    def matches(opts: MatchSettings) -> list[Match]:
        return match_frames("copy", frames, index, {"source": source}, opts)

    assert matches(MatchSettings(insets=False)) == []
    found = matches(MatchSettings())
    assert [m.ref_sha256 for m in found] == ["source"]
    best = max(found[0].segments, key=lambda s: s.frames_matched)
    assert "inset" in best.variant.split("+")
    assert abs(best.ref_start_ms - best.query_start_ms) <= 1000
    assert abs(best.ref_end_ms - best.query_end_ms) <= 1000


def _stack(height: int, width: int, band: tuple[int, int] | None) -> np.ndarray:
    """Frames of grain everywhere, or, with ``band`` (top, bottom rows), grain inside the band and
    a smooth gradient outside it, as a blurred fill looks."""
    noise = np.random.default_rng(7)
    frames = noise.integers(40, 200, (8, height, width)).astype(np.float32)
    if band is not None:
        top, bottom = band
        smooth = np.linspace(60, 120, width, dtype=np.float32)
        frames[:, :top] = smooth
        frames[:, height - bottom :] = smooth
    return frames


def test_a_band_is_a_centred_pair_of_borders_on_portrait_frames_only() -> None:
    assert fill_band(_stack(256, 144, (90, 92))) == Box(x=0, y=90, width=144, height=74)
    assert fill_band(_stack(256, 144, None)) is None  # no borders: footage everywhere
    assert fill_band(_stack(256, 144, (40, 80))) is None  # not centred: a sky and a road, say
    assert fill_band(_stack(144, 256, (30, 30))) is None  # landscape frames have no 9:16 fill


def test_a_band_lies_between_pillar_bars() -> None:
    stack = _stack(256, 144, (90, 92))
    stack[:, :, :16] = 16  # black pillar bars beside the re-frame
    stack[:, :, -16:] = 16
    assert inset_in(stack, Box(x=16, y=0, width=112, height=256)) == Box(x=16, y=90, width=112, height=74)


def test_a_player_window_around_a_small_clip_is_not_taken_for_a_band() -> None:
    # A player recording of a 176x144 clip is a portrait frame: a flat title bar above the footage,
    # flat controls below it, both still.  The window (the still surround) is the inset, not a band
    # across the whole width.
    noise = np.random.default_rng(3)
    stack = np.full((12, 256, 144), 60, np.float32)
    stack[:, 70:190, 16:128] = noise.integers(20, 230, (12, 120, 112))
    assert inset_in(stack, None) == Box(x=16, y=70, width=112, height=120)


def test_a_fill_the_content_box_finds_adds_no_view() -> None:
    stack = _stack(256, 144, (90, 92))
    box = content_box_in(stack)
    assert box is not None and abs(box.y - 90) <= 3 and abs(box.y + box.height - 164) <= 3, box
    frames = [Frame(i * 500, grey.astype(np.uint8)) for i, grey in enumerate(stack)]
    labels = [label for label, _, _ in hash_query(frames, PHASH64, MatchSettings())[1]]
    assert "inset" not in labels  # the band is the content box, already searched at every zoom
