"""Frame hits between one query and one reference -> time-aligned Segments.

Copied footage shows as hits that lie on a line ``ref_t = speed * query_t + offset``: speed 1 for a
plain copy, 1.1 for a copy played 10 % slower... (ref time runs faster than query time when the copy
was sped up).  Lines are found by voting: every hit votes, for each candidate speed, for the offset
it implies, and the (speed, offset) cell backed by the most distinct query frames wins.  Hits near
that line form the copied stretch; per query frame the hit nearest the line is kept (static shots
match many reference frames equally well: the line, not the smallest distance, says which one is
right).  The stretch is cut into segments at gaps, its query frames are taken out, and the next line
is sought, so a compilation that shows two parts of one reference yields two segments.

A hit may be a run of reference frames (``r_start_ms`` to ``r_end_ms``) rather than one: a still or
slow shot whose frames all look alike (index.py collapses them, so hits never grow with the square
of a static video).  A run votes with the frame it matches best (``r_ms``), joins any line that
passes through it, and runs left over are aligned start to start with the run they share (a still
query shot shown by a still reference shot), at speed 1.

Memory: the voting holds one candidate speed at a time, O(hits) per speed (all speeds at once only
for at most VOTE_ENTRIES votes).  Before voting speed by speed, every speed's best score is bounded
by a count per offset cell, and a speed whose bound is under the best score found is passed over:
the same line, found with a few speeds voted on instead of all of them.
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


# A reference with few hits (most are chance hits of unrelated footage in a large archive) has every
# speed voted on in one pass, when that pass holds at most this many votes (each hit votes twice per
# speed): one pass of numpy calls instead of one per speed, 0.08 ms instead of 1 ms for 5 hits.  More
# hits are voted on speed by speed, where one large sort would cost more than the calls it saves.
VOTE_ENTRIES = 1 << 12


def _best_of_speeds(
    q_ms: np.ndarray, r_ms: np.ndarray, closeness: np.ndarray, speeds: np.ndarray, half: float
) -> tuple[tuple[float, float, int, int], np.ndarray, int, np.ndarray]:
    """The best (score, plainness, speed index, cell) over the speed indices ``speeds``, the
    votes of that cell, and its speed's offsets."""
    n = q_ms.size
    rate = SPEEDS[speeds][:, None]
    offsets = r_ms[None, :] - rate * q_ms[None, :]
    bins = np.floor(offsets / half).astype(np.int64)
    cells = np.concatenate([bins, bins - 1], axis=1).ravel()
    speed = np.repeat(speeds, 2 * n)
    query = np.tile(np.concatenate([q_ms, q_ms]), speeds.size)
    weights = np.tile(np.concatenate([closeness, closeness]), speeds.size)
    # One vote per query frame per cell: its best weight.  (Voting by reference frames instead
    # would favour lines stretched across a still shot, which reach more reference frames.)
    order = np.lexsort((-weights, query, cells, speed) if speeds.size > 1 else (-weights, query, cells))
    cells, query, weights, speed = cells[order], query[order], weights[order], speed[order]
    new_cell = np.ones(cells.size, dtype=bool)
    new_cell[1:] = (cells[1:] != cells[:-1]) | (speed[1:] != speed[:-1])
    first = new_cell.copy()
    first[1:] |= query[1:] != query[:-1]
    cells, weights, speed, new_cell = cells[first], weights[first], speed[first], new_cell[first]
    group = np.cumsum(new_cell) - 1
    # Summed in the order of the sort, cell by cell, as one speed at a time would sum them.
    score = np.bincount(group, weights=weights)
    votes = np.bincount(group)
    keys, key_speed = cells[new_cell], speed[new_cell]
    plainness = -np.abs(np.log(SPEEDS[key_speed]))
    score = score * np.where(plainness == 0, 1.0 + PLAIN_BONUS, 1.0)
    top = np.lexsort((keys, key_speed, plainness, score))[-1]
    at = int(np.searchsorted(speeds, key_speed[top]))
    best = (float(score[top]), float(plainness[top]), int(key_speed[top]), int(keys[top]))
    return best, np.asarray((bins[at] - keys[top]) // 2 == 0), int(votes[top]), offsets[at]


# A speed whose hits spread over more offset cells than this is not bounded (it is voted on).
BOUND_CELLS = 1 << 20


def _score_bounds(q_ms: np.ndarray, r_ms: np.ndarray, closeness: np.ndarray, half: float) -> np.ndarray:
    """Per speed, a bound on the score `_best_of_speeds` can find there: the weights of every hit
    in a cell summed (not one vote per query frame), with the plain speed's bonus; +inf where the
    hits spread over more than BOUND_CELLS cells.  A count per cell, no sort: O(hits) a speed."""
    bounds = np.full(SPEEDS.size, np.inf)
    for at, rate in enumerate(SPEEDS):
        bins = np.floor((r_ms - rate * q_ms) / half).astype(np.int64)
        low, cells = int(bins.min()), int(np.ptp(bins)) + 2
        if cells > BOUND_CELLS:
            continue
        sums = np.bincount(bins - low, weights=closeness, minlength=cells)
        bounds[at] = float((sums[:-1] + sums[1:]).max())  # a hit in bin b votes for cells b, b - 1
    return bounds * np.where(SPEEDS == 1.0, 1.0 + PLAIN_BONUS, 1.0)


def _best_line(
    q_ms: np.ndarray, r_ms: np.ndarray, dist: np.ndarray, window_ms: float
) -> tuple[float, float, int]:
    """(speed, offset_ms, distinct query frames) of the line most query frames agree on.

    Each query frame votes once per cell, weighted 1 to 2 by how close its best hash there is, so
    closer footage wins between lines with as many frames (a reference showing the same shot twice,
    the two reference samples either side of the true time).  Offsets are binned at half the window
    and each vote also counts for the bin before, so every window of two bins is a cell: a line whose
    offsets straddle a bin edge is not split in two.

    Most weighted votes win, with the plain speed 1 preferred unless another beats it by PLAIN_BONUS
    (slow zooms and pans fit slightly faster or slower lines almost as well); then the speed nearest
    1; then the faster speed; then the later cell.  A real speed change leaves the speed-1 line a
    fraction of the votes: a 1.1x copy drifts out of its window after 10 s.
    """
    half = window_ms / 2
    closeness = 1.0 + 1.0 / (1.0 + dist.astype(np.float64))
    if 2 * q_ms.size * SPEEDS.size <= VOTE_ENTRIES:
        passes = [np.arange(SPEEDS.size)]
        bounds = np.full(1, np.inf)
    else:  # speed by speed, the most promising first, so the others can be passed over
        bounds = _score_bounds(q_ms, r_ms, closeness, half)
        order = np.argsort(-bounds, kind="stable")
        passes, bounds = [np.array([speed]) for speed in order], bounds[order]
    best: tuple[float, float, int, int] | None = None
    found: tuple[float, float, int] = (1.0, 0.0, 0)
    for speeds, bound in zip(passes, bounds, strict=True):
        # No cell of this speed can reach the best score (the bound is a sum over a superset of
        # its votes, so float rounding alone could not put it under the exact score).
        if best is not None and bound * (1 + 1e-9) < best[0]:
            continue
        candidate, voted, votes, offsets = _best_of_speeds(q_ms, r_ms, closeness, speeds, half)
        if best is None or candidate > best:
            best = candidate
            # The line's offset: the median of the offsets that voted for the cell, not its centre.
            found = (float(SPEEDS[candidate[2]]), float(np.median(offsets[voted])), votes)
    return found


def _project(
    q_ms: np.ndarray,
    r_lo: np.ndarray,
    r_hi: np.ndarray,
    speed: float,
    offset: float,
    ref_times_ms: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray]:
    """(residual, reference time) of each hit against the line: how far the line passes from the
    hit's frame or run, and where on it the line meets it, as the reference frame sampled nearest."""
    line = speed * q_ms + offset
    residual = np.maximum(0.0, np.maximum(r_lo - line, line - r_hi))
    met = np.clip(np.rint(line), r_lo, r_hi).astype(np.int64)
    if ref_times_ms is not None and ref_times_ms.size and np.any(r_hi > r_lo):
        at = np.clip(np.searchsorted(ref_times_ms, met), 1, ref_times_ms.size - 1)
        before, after = ref_times_ms[at - 1], ref_times_ms[at]
        nearest = np.where(met - before <= after - met, before, after)
        met = np.where(r_hi > r_lo, np.clip(nearest, r_lo, r_hi), met)
    return residual, met


def _on_line(q_ms: np.ndarray, residual: np.ndarray, dist: np.ndarray, tolerance_ms: float) -> np.ndarray:
    """Indices of the hits near the line, one per query frame: nearest the line, then closest hash."""
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


class _Hits:
    """The hits still to be explained, as parallel arrays: query time, the reference time it votes
    for, the reference frames it covers (r_lo < r_hi for a run), its distance."""

    def __init__(
        self, q: np.ndarray, r: np.ndarray, r_lo: np.ndarray, r_hi: np.ndarray, dist: np.ndarray
    ) -> None:
        self.q, self.r, self.r_lo, self.r_hi, self.dist = q, r, r_lo, r_hi, dist

    def keep(self, mask: np.ndarray) -> None:
        self.q, self.r, self.r_lo = self.q[mask], self.r[mask], self.r_lo[mask]
        self.r_hi, self.dist = self.r_hi[mask], self.dist[mask]

    def spend(self, kept: np.ndarray, found: list[Segment]) -> None:
        # A moment of the query shows one moment of the reference: hits inside a segment's query
        # span are spent, or a still camera's look-alike frames would add a second, wrong segment.
        remaining = ~np.isin(self.q, self.q[kept])
        for segment in found:
            remaining &= (self.q < segment.query_start_ms) | (self.q > segment.query_end_ms)
        self.keep(remaining)


def _line_segments(
    hits: _Hits, ref_times_ms: np.ndarray | None, opts: MatchSettings, min_frames: int
) -> list[Segment]:
    """Lines voted for by the hits' best frames, joined by the runs they pass through."""
    tolerance_ms = opts.offset_tolerance_s * 1000
    segments: list[Segment] = []
    while hits.q.size and np.unique(hits.r).size >= min_frames:
        speed, offset, votes = _best_line(hits.q, hits.r, hits.dist, tolerance_ms)
        if votes < min_frames:  # no line has enough query frames, so none has enough reference frames
            break
        residual, met = _project(hits.q, hits.r_lo, hits.r_hi, speed, offset, ref_times_ms)
        kept = _on_line(hits.q, residual, hits.dist, tolerance_ms)
        speed, offset = _refit(hits.q[kept], met[kept], speed, offset)
        residual, met = _project(hits.q, hits.r_lo, hits.r_hi, speed, offset, ref_times_ms)
        kept = _on_line(hits.q, residual, hits.dist, tolerance_ms)
        if kept.size == 0:
            break
        found = _segments_of(hits.q[kept], met[kept], hits.dist[kept], speed, opts, min_frames)
        segments.extend(found)
        hits.spend(kept, found)
    return segments


def _still_segments(
    hits: _Hits, ref_times_ms: np.ndarray | None, opts: MatchSettings, min_frames: int
) -> list[Segment]:
    """Runs no line passed through: a still stretch of the query against a still stretch of the
    reference, aligned start to start at speed 1 (where on the run it lies, nothing can tell)."""
    tolerance_ms = opts.offset_tolerance_s * 1000
    segments: list[Segment] = []
    hits.keep(hits.r_lo < hits.r_hi)
    while hits.q.size:
        first = int(np.argmin(hits.q))
        offset = float(hits.r_lo[first] - hits.q[first])
        residual, met = _project(hits.q, hits.r_lo, hits.r_hi, 1.0, offset, ref_times_ms)
        kept = _on_line(hits.q, residual, hits.dist, tolerance_ms)
        found = _segments_of(hits.q[kept], met[kept], hits.dist[kept], 1.0, opts, min_frames)
        segments.extend(found)
        before = hits.q.size
        hits.spend(kept, found)
        if hits.q.size == before:  # this run start gave nothing: drop the hit that set it
            hits.keep(np.arange(hits.q.size) != first)
    return segments


def align_hits(
    q_ms: np.ndarray,
    r_ms: np.ndarray,
    dist: np.ndarray,
    opts: MatchSettings,
    min_frames: int,
    *,
    r_start_ms: np.ndarray | None = None,
    r_end_ms: np.ndarray | None = None,
    ref_times_ms: np.ndarray | None = None,
) -> list[Segment]:
    """Segments of the query found in one reference, longest first, no query time used twice.

    ``r_start_ms``..``r_end_ms`` (default ``r_ms``) is each hit's run of reference frames;
    ``ref_times_ms``, the reference's sampled frame times, says which frame of a run a line meets.
    ``min_frames`` and ``Segment.frames_matched`` count distinct reference frames (the evidence).
    """
    r = r_ms.astype(np.int64)
    r_lo = r if r_start_ms is None else r_start_ms.astype(np.int64)
    r_hi = r if r_end_ms is None else r_end_ms.astype(np.int64)
    hits = _Hits(q_ms.astype(np.int64), r, r_lo, r_hi, dist.astype(np.int64))
    refs = None if ref_times_ms is None else np.asarray(ref_times_ms, dtype=np.int64)
    segments = _line_segments(hits, refs, opts, min_frames)
    segments += _still_segments(hits, refs, opts, min_frames)
    segments.sort(key=lambda s: (-s.frames_matched, s.query_start_ms))
    return segments
