"""The whole-frame view: bars found on the query that the archived file never had.

Ground truth (written, not measured): the reference is a real phone clip at 176x144, the copy the
same clip turned by 4 degrees with black corners, as a re-upload filmed off a tilted screen.  The
copy's corners are cut as bars, so its content box is not the reference's (which has none), and
every view inside that box sees a different region of the picture.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from conftest import ffmpeg, phash_index, shared_media

from provenance.fingerprint import INDEX_FRACTION, View, hash_views
from provenance.frames import sample_frames
from provenance.hashing import PHASH64
from provenance.match import hash_query, match_frames, query_sampling
from provenance.models import Frame, Match
from provenance.report import describe_segment
from provenance.settings import MatchSettings, SamplingSettings, load_settings

SAMPLING = SamplingSettings()
H264 = ["-an", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-crf", "23"]


def _encoded(source: Path, graph: str, out: Path) -> Path:
    ffmpeg("-i", str(source), "-vf", graph, *H264, str(out))
    return out


def test_a_copy_whose_turn_adds_bars_is_found_on_its_whole_frame(tmp_path: Path) -> None:
    phone = shared_media("videos/mei_iphone6_with-gps.mov")
    source = _encoded(phone, "scale=176:144,setsar=1", tmp_path / "source.mp4")
    copy = _encoded(source, "rotate=4*PI/180:fillcolor=black", tmp_path / "turned.mp4")
    index = phash_index("source", source)

    def matches(opts: MatchSettings) -> list[Match]:
        frames = list(sample_frames(copy, "video", query_sampling(SAMPLING, opts)))
        return match_frames("copy", frames, index, {"source": source}, opts)

    assert matches(MatchSettings(whole_frame=False)) == []
    found = matches(MatchSettings())
    assert [m.ref_sha256 for m in found] == ["source"]
    assert {s.variant for s in found[0].segments} == {"whole"}
    best = max(found[0].segments, key=lambda s: s.frames_matched)
    assert abs(best.ref_start_ms - best.query_start_ms) <= 1000
    assert abs(best.ref_end_ms - best.query_end_ms) <= 1000
    assert "on the whole frame" in describe_segment(best)


def _frames(grey: np.ndarray, count: int = 8) -> list[Frame]:
    noise = np.random.default_rng(1)
    return [
        Frame(i * 500, np.clip(grey + noise.integers(0, 40, grey.shape), 0, 255).astype(np.uint8))
        for i in range(count)
    ]


def test_the_whole_frame_is_searched_only_where_the_query_has_bars() -> None:
    picture = np.full((144, 256), 120, np.uint8)
    plain = _frames(picture)
    letterboxed = picture.copy()
    letterboxed[:24], letterboxed[-24:] = 0, 0
    boxed = [Frame(f.t_ms, np.where(letterboxed == 0, 0, f.grey).astype(np.uint8)) for f in plain]

    def views(frames: list[Frame], opts: MatchSettings) -> dict[str, np.ndarray]:
        return {label: hashes for label, hashes, _ in hash_query(frames, PHASH64, opts)[1]}

    assert "whole" not in views(plain, MatchSettings())
    assert "whole" not in views(boxed, MatchSettings(whole_frame=False))
    # The whole view hashes the letterboxed frames as a query without bars is hashed: whole.
    whole = views(boxed, MatchSettings())["whole"]
    unboxed = hash_views(boxed, None, [PHASH64], [View(INDEX_FRACTION)])[1][
        (PHASH64.name, View(INDEX_FRACTION))
    ]
    assert np.array_equal(whole, unboxed[0])
    assert not np.array_equal(whole, views(boxed, MatchSettings())["none"])


def test_the_whole_frame_is_a_setting() -> None:
    assert load_settings(environ={"PROVENANCE_MATCH_WHOLE_FRAME": "false"}).match.whole_frame is False
    assert load_settings(environ={}).match.whole_frame is True
