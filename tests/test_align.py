"""align_hits on constructed hit arrays whose true alignment is known by construction.

Query and reference are sampled at 2 Hz (every 500 ms), as the default SamplingSettings do.
"""

from __future__ import annotations

import numpy as np
import pytest

from provenance import align as voting
from provenance.align import align_hits
from provenance.models import Segment
from provenance.settings import MatchSettings

OPTS = MatchSettings()
STEP = 500


def hits(pairs: list[tuple[int, int, int]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    q, r, d = zip(*pairs, strict=True) if pairs else ((), (), ())
    return np.array(q, np.int32), np.array(r, np.int32), np.array(d, np.int32)


def align(
    pairs: list[tuple[int, int, int]], min_frames: int = 3, opts: MatchSettings = OPTS
) -> list[Segment]:
    return align_hits(*hits(pairs), opts, min_frames)


def query_times(start_ms: int, end_ms: int) -> list[int]:
    return list(range(start_ms, end_ms + 1, STEP))


def test_no_hits_no_segments() -> None:
    assert align([]) == []


def test_constant_offset_is_one_segment() -> None:
    segments = align([(t, t + 10_000, 2) for t in query_times(0, 4500)])
    assert len(segments) == 1
    s = segments[0]
    assert (s.query_start_ms, s.query_end_ms) == (0, 4500)
    assert (s.ref_start_ms, s.ref_end_ms) == (10_000, 14_500)
    assert s.frames_matched == 10
    assert s.mean_distance == pytest.approx(2.0)
    assert s.speed == pytest.approx(1.0)


def test_excerpt_gives_reference_times() -> None:
    # The 5.3 s Big Buck Bunny excerpt sits at 24.7 s of the trailer (../shared/media README).  The
    # reference is sampled on its own 500 ms grid, so each query frame hits the two reference samples
    # around its true time, the nearer one closer in hash.
    pairs = []
    for t in query_times(0, 5000):
        true_ref = t + 24_700
        below = true_ref // STEP * STEP
        above = below + STEP
        near, far = (below, above) if true_ref - below <= above - true_ref else (above, below)
        pairs += [(t, near, 1), (t, far, 5)]
    segments = align(pairs)
    assert len(segments) == 1
    s = segments[0]
    assert (s.query_start_ms, s.query_end_ms) == (0, 5000)
    assert abs(s.ref_start_ms - 24_700) <= STEP // 2
    assert abs(s.ref_end_ms - 29_700) <= STEP // 2
    assert s.frames_matched == 11
    assert s.mean_distance == pytest.approx(1.0)
    assert s.speed == pytest.approx(1.0, abs=0.02)


def test_gap_longer_than_max_gap_splits() -> None:
    gap_ms = int(OPTS.max_gap_s * 1000) + 3000
    first = query_times(0, 2000)
    second = query_times(2000 + gap_ms, 4000 + gap_ms)
    segments = align([(t, t + 7000, 1) for t in first + second])
    assert sorted((s.query_start_ms, s.query_end_ms, s.ref_start_ms, s.ref_end_ms) for s in segments) == [
        (0, 2000, 7000, 9000),
        (2000 + gap_ms, 4000 + gap_ms, 9000 + gap_ms, 11_000 + gap_ms),
    ]
    assert [s.frames_matched for s in segments] == [5, 5]


def test_gap_shorter_than_max_gap_stays_one_segment() -> None:
    gap_ms = int(OPTS.max_gap_s * 1000) - STEP
    times = query_times(0, 2000) + query_times(2000 + gap_ms, 4000 + gap_ms)
    segments = align([(t, t + 7000, 1) for t in times])
    assert len(segments) == 1
    assert (segments[0].query_start_ms, segments[0].query_end_ms) == (0, 4000 + gap_ms)
    assert segments[0].frames_matched == 10


def test_two_parts_of_the_reference_give_two_segments() -> None:
    # Query 0-2 s is reference 20-22 s; query 2.5-4.5 s is reference 52.5-54.5 s (an edit).
    pairs = [(t, t + 20_000, 1) for t in query_times(0, 2000)]
    pairs += [(t, t + 50_000, 3) for t in query_times(2500, 4500)]
    segments = align(pairs)
    assert sorted((s.query_start_ms, s.query_end_ms, s.ref_start_ms, s.ref_end_ms) for s in segments) == [
        (0, 2000, 20_000, 22_000),
        (2500, 4500, 52_500, 54_500),
    ]
    assert all(s.frames_matched == 5 for s in segments)


def test_repeated_reference_footage_does_not_reuse_query_frames() -> None:
    # The reference shows the same footage twice (at +20 s and at +50 s): every query frame hits both.
    times = query_times(0, 4500)
    pairs = [(t, t + 20_000, 1) for t in times] + [(t, t + 50_000, 2) for t in times]
    segments = align(pairs)
    assert sum(s.frames_matched for s in segments) <= len(times)
    assert len(segments) == 1
    assert segments[0].ref_start_ms == 20_000  # the closer copy wins


def test_scattered_hits_without_a_consistent_offset_give_nothing() -> None:
    rng = np.random.default_rng(0)
    times = query_times(0, 29_500)
    # Every hit has its own offset, multiples of 5 s apart: no two agree within the tolerance.
    offsets = rng.permutation(len(times) * 2)[: len(times)] * 5000
    pairs = [(t, t + int(o), int(rng.integers(0, 12))) for t, o in zip(times, offsets, strict=True)]
    assert align(pairs, min_frames=3) == []


def test_scattered_hits_many_per_query_frame_give_nothing() -> None:
    rng = np.random.default_rng(1)
    times = query_times(0, 9500)
    offsets = rng.permutation(400)[: 3 * len(times)] * 5000
    pairs = [(t, t + int(o), 5) for t, o in zip(times * 3, offsets, strict=True)]
    assert align(pairs, min_frames=3) == []


def test_static_shot_does_not_inflate_frames_matched() -> None:
    # Ten query frames of a still shot; every one matches every reference frame of a 10 s still shot.
    times = query_times(0, 4500)
    ref = list(range(10_000, 20_001, STEP))
    pairs = [(t, r, 0) for t in times for r in ref]
    segments = align(pairs)
    assert segments
    assert sum(s.frames_matched for s in segments) <= len(times)
    s = max(segments, key=lambda s: s.frames_matched)
    # The segment keeps the query's pace rather than jumping around the still shot.
    assert abs((s.ref_end_ms - s.ref_start_ms) - (s.query_end_ms - s.query_start_ms)) <= STEP
    assert s.speed == pytest.approx(1.0, abs=0.15)


def test_one_photo_frame_matching_many_reference_frames_counts_once() -> None:
    pairs = [(0, r, 2) for r in range(10_000, 20_001, STEP)]
    segments = align(pairs, min_frames=1)
    assert len(segments) == 1
    s = segments[0]
    assert s.frames_matched == 1
    assert s.query_start_ms == s.query_end_ms == 0
    assert 10_000 <= s.ref_start_ms == s.ref_end_ms <= 20_000


def test_speed_change_drift_stays_one_segment() -> None:
    # The copy plays 1.1x fast: reference time = 5 s + 1.1 x query time, on the reference's 500 ms grid.
    times = query_times(0, 20_000)
    pairs = [(t, round((5000 + 1.1 * t) / STEP) * STEP, 2) for t in times]
    segments = align(pairs)
    assert len(segments) == 1
    s = segments[0]
    assert s.frames_matched == len(times)
    assert (s.query_start_ms, s.query_end_ms) == (0, 20_000)
    assert (s.ref_start_ms, s.ref_end_ms) == (5000, 27_000)
    assert s.speed == pytest.approx(1.1, abs=0.02)


def test_min_frames_is_respected() -> None:
    pairs = [(t, t + 3000, 1) for t in query_times(0, 1000)]  # 3 frames
    assert len(align(pairs, min_frames=3)) == 1
    assert align(pairs, min_frames=4) == []


def test_segments_are_longest_first() -> None:
    pairs = [(t, t + 20_000, 1) for t in query_times(0, 1500)]  # 4 frames
    pairs += [(t, t + 90_000, 1) for t in query_times(10_000, 14_000)]  # 9 frames
    segments = align(pairs)
    assert [s.frames_matched for s in segments] == [9, 4]


def runs(items: list[tuple[int, int, int, int, int]]) -> dict[str, np.ndarray]:
    """(query ms, voted ref ms, run start ms, run end ms, distance) hits as align_hits takes them."""
    q, r, lo, hi, d = (np.array(column, np.int64) for column in zip(*items, strict=True))
    return {"q_ms": q, "r_ms": r, "dist": d, "r_start_ms": lo, "r_end_ms": hi}


def test_a_still_shot_matched_with_itself_aligns_at_its_own_times() -> None:
    # 60 s of a still shot, query at 8 Hz, reference at 2 Hz: every query frame hits the whole run
    # and votes with the reference frame nearest its own time (index.py's tie-break).
    refs = np.arange(0, 60_000, STEP)
    items = [(t, int(refs[np.abs(refs - t).argmin()]), 0, 59_500, 0) for t in range(0, 60_000, 125)]
    hit = runs(items)
    segments = align_hits(
        hit["q_ms"],
        hit["r_ms"],
        hit["dist"],
        OPTS,
        3,
        r_start_ms=hit["r_start_ms"],
        r_end_ms=hit["r_end_ms"],
        ref_times_ms=refs,
    )
    assert len(segments) == 1
    s = segments[0]
    assert (
        (s.query_start_ms, s.ref_start_ms) == (0, 0) and s.query_end_ms >= 59_500 and s.ref_end_ms == 59_500
    )
    assert s.frames_matched == refs.size  # one per reference frame, not one per query frame


def test_a_still_query_against_a_still_shot_elsewhere_is_aligned_start_to_start() -> None:
    # The query's 5 s still hits a still run at 100-160 s of the reference, always at its first frame
    # (no line: each query frame votes for the same reference time).
    refs = np.arange(0, 200_000, STEP)
    items = [(t, 100_000, 100_000, 160_000, 1) for t in range(0, 5_000, 125)]
    hit = runs(items)
    segments = align_hits(
        hit["q_ms"],
        hit["r_ms"],
        hit["dist"],
        OPTS,
        3,
        r_start_ms=hit["r_start_ms"],
        r_end_ms=hit["r_end_ms"],
        ref_times_ms=refs,
    )
    assert len(segments) == 1
    s = segments[0]
    assert (s.ref_start_ms, s.query_start_ms) == (100_000, 0)
    assert s.ref_end_ms - s.ref_start_ms == pytest.approx(s.query_end_ms - s.query_start_ms, abs=STEP)


def line_with_chance_hits(
    rng: np.random.Generator, n: int, speed: float, span_ms: int, chance: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """n hits at 8 Hz query / 2 Hz reference times on a line of ``speed``, a ``chance`` share of
    them moved to random reference times beside it."""
    q = rng.integers(0, span_ms, n).astype(np.int64) // 125 * 125
    r = (speed * q + 40_000 + rng.integers(-300, 300, n)).astype(np.int64) // 500 * 500
    r[: int(n * chance)] = rng.integers(0, 7 * span_ms, int(n * chance))
    return q, r, rng.integers(0, 13, n).astype(np.int64)


def test_voting_all_speeds_in_one_pass_finds_the_lines_speed_by_speed_voting_finds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Small hit sets are voted on in one pass (voting.VOTE_ENTRIES); the line must be the same one.
    rng = np.random.default_rng(3)
    for n in (1, 3, 8, 40, 68):
        q, r, d = line_with_chance_hits(rng, n, 1.1, 30_000, 1 / 3)
        one_pass = voting._best_line(q, r, d, 1000.0)
        monkeypatch.setattr(voting, "VOTE_ENTRIES", 0)
        assert voting._best_line(q, r, d, 1000.0) == one_pass
        monkeypatch.undo()


def test_passing_over_speeds_that_cannot_win_finds_the_same_line(monkeypatch: pytest.MonkeyPatch) -> None:
    # Large hit sets are voted on speed by speed, skipping speeds whose bound is under the best
    # score so far; without the bounds (BOUND_CELLS = 0) every speed is voted on.  Same line.
    rng = np.random.default_rng(4)
    for n, speed in ((69, 1.0), (200, 1.1), (500, 0.9), (2000, 1.0)):
        q, r, d = line_with_chance_hits(rng, n, speed, 60_000, 1 / 2)
        pruned = voting._best_line(q, r, d, 1000.0)
        monkeypatch.setattr(voting, "BOUND_CELLS", 0)
        assert voting._best_line(q, r, d, 1000.0) == pruned
        monkeypatch.undo()
        assert pruned[0] == pytest.approx(speed, rel=0.03)


def test_a_speeds_bound_is_never_under_its_best_score() -> None:
    rng = np.random.default_rng(5)
    q = rng.integers(0, 20_000, 300).astype(np.int64) // 125 * 125
    r = rng.integers(0, 40_000, 300).astype(np.int64) // 500 * 500
    closeness = 1.0 + 1.0 / (1.0 + rng.integers(0, 13, 300).astype(np.float64))
    bounds = voting._score_bounds(q, r, closeness, 500.0)
    for speed in range(voting.SPEEDS.size):
        (score, *_), *_ = voting._best_of_speeds(q, r, closeness, np.array([speed]), 500.0)
        assert score <= bounds[speed] * (1 + 1e-9)
