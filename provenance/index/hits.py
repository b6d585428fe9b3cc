"""What a search returns: bounded hits of query frames on index rows, and how raw pairs become them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np

# At most this many hits per query frame and media, and HITS_PER_FRAME over the whole archive, the
# closest first.  Past HITS_PER_MEDIA, the frame's consecutive rows of that media that are all within
# the search distance (a still camera, a slide, a frozen livestream, a slow pan) become one hit per
# run, with its first and last row and the row it matches best; without this a still query against
# a still reference gives every pair of frames, and memory grows with the square of the footage.
HITS_PER_MEDIA = 16
HITS_PER_FRAME = 512


@dataclass(frozen=True, slots=True, eq=False)
class FrameHits:
    """(query frame, index row) pairs within the search distance, as parallel arrays.

    A hit covers the rows ``row_start..row_end`` (equal for a single frame) of one media; ``row`` is
    the one it matches best (the closest, and of those the nearest in time to the query frame) and
    ``distance`` its distance.  Bounded: at most HITS_PER_MEDIA hits per query frame and media and
    HITS_PER_FRAME per query frame, so a search holds O(query frames) hits whatever it meets.
    """

    query_index: np.ndarray
    row: np.ndarray
    row_start: np.ndarray
    row_end: np.ndarray
    distance: np.ndarray


def empty_hits() -> FrameHits:
    empty = np.zeros(0, np.int32)
    return FrameHits(empty, empty, empty, empty, empty)


def concat_hits(found: Sequence[FrameHits]) -> FrameHits:
    if not found:
        return empty_hits()
    return FrameHits(*(np.concatenate([getattr(h, f.name) for h in found]) for f in fields(FrameHits)))


def shift_rows(hits: FrameHits, rows: np.ndarray | int) -> FrameHits:
    """The hits with their rows mapped: by an offset, or through an array (local row -> row)."""
    if isinstance(rows, int):
        return FrameHits(
            hits.query_index, hits.row + rows, hits.row_start + rows, hits.row_end + rows, hits.distance
        )
    return FrameHits(
        hits.query_index, rows[hits.row], rows[hits.row_start], rows[hits.row_end], hits.distance
    )


def group_starts(*keys: np.ndarray) -> np.ndarray:
    """Where each run of equal ``keys`` begins (the arrays are sorted by them)."""
    changed = np.zeros(keys[0].size, dtype=bool)
    changed[:1] = True
    for key in keys:
        changed[1:] |= key[1:] != key[:-1]
    return np.flatnonzero(changed)


def _ranks(*keys: np.ndarray) -> np.ndarray:
    """Each element's rank within its run of equal ``keys`` (the arrays are sorted by them)."""
    size = keys[0].size
    starts = group_starts(*keys)
    return np.arange(size) - np.repeat(starts, np.diff(np.append(starts, size)))


def _runs(q: np.ndarray, r: np.ndarray, d: np.ndarray, owners: np.ndarray, gap: np.ndarray) -> tuple:
    """Consecutive rows of one (query frame, media) as one hit each: (q, best row, first, last, distance).

    ``gap`` ranks each pair's row by its time distance to the query frame: the best row is the
    closest hash, and of those the nearest in time (a still shot matches everywhere alike)."""
    if q.size == 0:
        return q, r, r, r, d
    changed = np.ones(q.size, dtype=bool)
    changed[1:] = (q[1:] != q[:-1]) | (r[1:] != r[:-1] + 1) | (owners[1:] != owners[:-1])
    starts = np.flatnonzero(changed)
    run_id = np.cumsum(changed) - 1
    order = np.lexsort((gap, d, run_id))
    best = order[group_starts(run_id[order])]
    lasts = np.append(starts[1:], q.size) - 1
    return q[starts], r[best], r[starts], r[lasts], d[best]


def collapse_hits(
    q: np.ndarray, r: np.ndarray, d: np.ndarray, owner: np.ndarray, gap: np.ndarray | None = None
) -> FrameHits:
    """Raw (query, row, distance) pairs, sorted by query then row, into bounded hits (see FrameHits).

    ``owner`` gives each row's media.  A (query frame, media) with at most HITS_PER_MEDIA pairs keeps
    them all as they are."""
    if q.size == 0:
        return empty_hits()
    gap = np.zeros(q.size, np.int64) if gap is None else gap
    owners = owner[r]
    per_group = np.diff(np.append(group_starts(q, owners), q.size))
    crowded = np.repeat(per_group > HITS_PER_MEDIA, per_group)
    plain = ~crowded
    rq, rr, rs, re, rd = _runs(q[crowded], r[crowded], d[crowded], owners[crowded], gap[crowded])
    hq, hr, hs, he, hd = (
        np.concatenate(pair)
        for pair in ((q[plain], rq), (r[plain], rr), (r[plain], rs), (r[plain], re), (d[plain], rd))
    )
    return cap_hits(FrameHits(hq, hr, hs, he, hd), owner)


def cap_hits(hits: FrameHits, owner: np.ndarray) -> FrameHits:
    """At most HITS_PER_MEDIA hits per query frame and media and HITS_PER_FRAME per query frame,
    the closest first (then the earliest row); ``owner`` gives each row's media."""
    hq, hr, hs, he, hd = hits.query_index, hits.row, hits.row_start, hits.row_end, hits.distance
    if hq.size == 0:
        return empty_hits()
    ho = owner[hr]
    order = np.lexsort((hr, hd, ho, hq))
    keep = order[_ranks(hq[order], ho[order]) < HITS_PER_MEDIA]
    order = keep[np.lexsort((hr[keep], hd[keep], hq[keep]))]
    keep = order[_ranks(hq[order]) < HITS_PER_FRAME]
    return FrameHits(*(a[keep].astype(np.int32) for a in (hq, hr, hs, he, hd)))
