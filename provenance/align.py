"""Frame hits between one query and one reference -> time-aligned Segments.

Copied footage shows as hits that lie on a line ``ref_t = speed * query_t + offset``: speed 1 for a
plain copy, 1.1 for a copy played 10 % slower... (ref time runs faster than query time when the copy
was sped up).  Lines are found by voting: every hit votes, for each candidate speed, for the offset
it implies, and the (speed, offset) cell backed by the most distinct query frames wins.  Hits near
that line form the copied stretch; per query frame the hit nearest the line is kept (static shots
match many reference frames equally well: the line, not the smallest distance, says which one is
right).  The stretch is cut into segments at gaps, its query frames are taken out, and the next line
is sought, so a compilation that shows two parts of one reference yields two segments.
"""

from __future__ import annotations

import numpy as np

from .models import Segment
from .settings import MatchSettings

# Candidate speeds (reference time per query time), spaced ~2 % apart: 0.75x to 1.33x covers the
# speed-ups and slow-downs re-uploads use to dodge matching, and a 2 % step keeps the line within
# the offset tolerance over a 50 s segment.
PLAIN_BONUS = 0.15
SPEEDS = np.unique(np.concatenate([np.exp(np.linspace(np.log(0.75), np.log(4 / 3), 29)), [1.0]]))


def _best_line(
    q_ms: np.ndarray, r_ms: np.ndarray, dist: np.ndarray, window_ms: float
) -> tuple[float, float, int]:
    """(speed, offset_ms, distinct query frames) of the line most query frames agree on.

    Each query frame votes once per cell, weighted 1 to 2 by how close its best hash there is, so
    closer footage wins between lines with as many frames (a reference showing the same shot twice,
    the two reference samples either side of the true time).  Offsets are binned at half the window
    and each vote also counts for the bin before, so every window of two bins is a cell: a line whose
    offsets straddle a bin edge is not split in two.
    """
    half = window_ms / 2
    offsets = r_ms[None, :] - SPEEDS[:, None] * q_ms[None, :]
    bins = np.floor(offsets / half).astype(np.int64)
    closeness = 1.0 + 1.0 / (1.0 + dist.astype(np.float64))
    speed_index = np.repeat(np.arange(SPEEDS.size), q_ms.size)
    flat_bins, query, weight = bins.ravel(), np.tile(q_ms, SPEEDS.size), np.tile(closeness, SPEEDS.size)
    cells = np.concatenate(
        [np.stack([speed_index, flat_bins, query], 1), np.stack([speed_index, flat_bins - 1, query], 1)]
    )
    weights = np.concatenate([weight, weight])
    # One vote per query frame per cell: its best weight.  (Voting by reference frames instead
    # would favour lines stretched across a still shot, which reach more reference frames.)
    order = np.lexsort((-weights, cells[:, 2], cells[:, 1], cells[:, 0]))
    cells, weights = cells[order], weights[order]
    first = np.ones(len(cells), dtype=bool)
    first[1:] = np.any(cells[1:] != cells[:-1], axis=1)
    cells, weights = cells[first], weights[first]
    keys, inverse, votes = np.unique(cells[:, :2], axis=0, return_inverse=True, return_counts=True)
    score = np.bincount(inverse.ravel(), weights=weights)
    # Most weighted votes, with the plain speed 1 preferred unless another beats it by PLAIN_BONUS
    # (slow zooms and pans fit slightly faster or slower lines almost as well); then the speed
    # nearest 1.  A real speed change leaves the speed-1 line a fraction of the votes: a 1.1x copy
    # drifts out of its window after 10 s.
    plainness = -np.abs(np.log(SPEEDS[keys[:, 0]]))
    score = score * np.where(plainness == 0, 1.0 + PLAIN_BONUS, 1.0)
    best = np.lexsort((plainness, score))[-1]
    speed_at, bin_at = keys[best]
    # The line's offset: the median of the offsets that voted for the cell, not the cell's centre.
    in_cell = (bins[speed_at] - bin_at) // 2 == 0
    voted = offsets[speed_at][in_cell]
    return float(SPEEDS[speed_at]), float(np.median(voted)), int(votes[best])


def _on_line(
    q_ms: np.ndarray, r_ms: np.ndarray, dist: np.ndarray, speed: float, offset: float, tolerance_ms: float
) -> np.ndarray:
    """Indices of the hits near the line, one per query frame: nearest the line, then closest hash."""
    residual = np.abs(r_ms - (speed * q_ms + offset))
    near = np.nonzero(residual <= tolerance_ms)[0]
    order = near[np.lexsort((dist[near], residual[near], q_ms[near]))]
    _, first = np.unique(q_ms[order], return_index=True)
    return order[first]


def _refit(q_ms: np.ndarray, r_ms: np.ndarray, speed: float, offset: float) -> tuple[float, float]:
    """Least-squares line through the kept hits, when they span enough time to tell a speed."""
    if q_ms.size >= 3 and np.ptp(q_ms) > 0:
        fitted_speed, fitted_offset = np.polyfit(q_ms.astype(float), r_ms.astype(float), 1)
        if SPEEDS[0] * 0.98 <= fitted_speed <= SPEEDS[-1] * 1.02:
            return float(fitted_speed), float(fitted_offset)
    return speed, offset


def _segments_of(
    q_ms: np.ndarray, r_ms: np.ndarray, dist: np.ndarray, speed: float, opts: MatchSettings, min_frames: int
) -> list[Segment]:
    """Cut one line's hits into segments at query gaps; times are those of the first and last
    matched samples (a segment of one photo frame starts and ends at the same time)."""
    order = np.argsort(q_ms, kind="stable")
    q_ms, r_ms, dist = q_ms[order], r_ms[order], dist[order]
    cuts = np.nonzero(np.diff(q_ms) > opts.max_gap_s * 1000)[0] + 1
    segments = []
    for part in np.split(np.arange(q_ms.size), cuts):
        q, r = q_ms[part], r_ms[part]
        evidence = np.unique(r).size  # reference frames: the query is sampled more densely
        if evidence < min_frames:
            continue
        segments.append(
            Segment(
                query_start_ms=int(q[0]),
                query_end_ms=int(q[-1]),
                ref_start_ms=int(r.min()),
                ref_end_ms=int(r.max()),
                frames_matched=int(evidence),
                mean_distance=round(float(dist[part].mean()), 2),
                speed=round(speed, 3) if evidence > 2 else 1.0,
            )
        )
    return segments


def align_hits(
    q_ms: np.ndarray, r_ms: np.ndarray, dist: np.ndarray, opts: MatchSettings, min_frames: int
) -> list[Segment]:
    """Segments of the query found in one reference, longest first, no query time used twice.

    ``min_frames`` and ``Segment.frames_matched`` count distinct reference frames (the evidence).
    """
    tolerance_ms = opts.offset_tolerance_s * 1000
    q_ms, r_ms, dist = q_ms.astype(np.int64), r_ms.astype(np.int64), dist.astype(np.int64)
    segments: list[Segment] = []
    while q_ms.size and np.unique(r_ms).size >= min_frames:
        speed, offset, votes = _best_line(q_ms, r_ms, dist, tolerance_ms)
        if votes < min_frames:  # no line has enough query frames, so none has enough reference frames
            break
        kept = _on_line(q_ms, r_ms, dist, speed, offset, tolerance_ms)
        speed, offset = _refit(q_ms[kept], r_ms[kept], speed, offset)
        kept = _on_line(q_ms, r_ms, dist, speed, offset, tolerance_ms)
        if kept.size == 0:
            break
        found = _segments_of(q_ms[kept], r_ms[kept], dist[kept], speed, opts, min_frames)
        segments.extend(found)
        # A moment of the query shows one moment of the reference: hits inside a segment's query
        # span are spent, or a still camera's look-alike frames would add a second, wrong segment.
        remaining = ~np.isin(q_ms, q_ms[kept])
        for segment in found:
            remaining &= (q_ms < segment.query_start_ms) | (q_ms > segment.query_end_ms)
        q_ms, r_ms, dist = q_ms[remaining], r_ms[remaining], dist[remaining]
    segments.sort(key=lambda s: (-s.frames_matched, s.query_start_ms))
    return segments
