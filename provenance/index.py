"""Hamming search over every stored frame hash of one hasher.

The index is derived from the catalog (rule 8): it is rebuilt whenever the catalog's fingerprint
checkpoint (max id, count) changes.  Only informative frames (quality at or above the hasher's
floor) enter it, so flat and black frames can never be evidence.  Search is brute force with
NumPy popcount over 64-bit words, which on two cores covers ~100 million frame comparisons a second.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields

import numpy as np

from .hashing import Hasher
from .models import Fingerprint

# Bytes of the (queries x index) distance block computed at once; bounds memory on large archives.
BLOCK_BYTES = 16 << 20
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


def _empty_hits() -> FrameHits:
    empty = np.zeros(0, np.int32)
    return FrameHits(empty, empty, empty, empty, empty)


def _group_starts(*keys: np.ndarray) -> np.ndarray:
    """Where each run of equal ``keys`` begins (the arrays are sorted by them)."""
    changed = np.zeros(keys[0].size, dtype=bool)
    changed[:1] = True
    for key in keys:
        changed[1:] |= key[1:] != key[:-1]
    return np.flatnonzero(changed)


def _ranks(*keys: np.ndarray) -> np.ndarray:
    """Each element's rank within its run of equal ``keys`` (the arrays are sorted by them)."""
    size = keys[0].size
    starts = _group_starts(*keys)
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
    best = order[_group_starts(run_id[order])]
    lasts = np.append(starts[1:], q.size) - 1
    return q[starts], r[best], r[starts], r[lasts], d[best]


def collapse_hits(
    q: np.ndarray, r: np.ndarray, d: np.ndarray, owner: np.ndarray, gap: np.ndarray | None = None
) -> FrameHits:
    """Raw (query, row, distance) pairs, sorted by query then row, into bounded hits (see FrameHits).

    A (query frame, media) with at most HITS_PER_MEDIA pairs keeps them all as they are."""
    if q.size == 0:
        return _empty_hits()
    gap = np.zeros(q.size, np.int64) if gap is None else gap
    owners = owner[r]
    per_group = np.diff(np.append(_group_starts(q, owners), q.size))
    crowded = np.repeat(per_group > HITS_PER_MEDIA, per_group)
    plain = ~crowded
    rq, rr, rs, re, rd = _runs(q[crowded], r[crowded], d[crowded], owners[crowded], gap[crowded])
    hq, hr, hs, he, hd = (
        np.concatenate(pair)
        for pair in ((q[plain], rq), (r[plain], rr), (r[plain], rs), (r[plain], re), (d[plain], rd))
    )
    ho = owner[hr]
    order = np.lexsort((hr, hd, ho, hq))
    keep = order[_ranks(hq[order], ho[order]) < HITS_PER_MEDIA]
    order = keep[np.lexsort((hr[keep], hd[keep], hq[keep]))]
    keep = order[_ranks(hq[order]) < HITS_PER_FRAME]
    return FrameHits(*(a[keep].astype(np.int32) for a in (hq, hr, hs, he, hd)))


def _words(hashes: np.ndarray) -> np.ndarray:
    """Packed hash bytes (n, B) as native uint64 words (n, B // 8): popcount works per word."""
    return np.ascontiguousarray(hashes, dtype=np.uint8).view(np.uint64)


class HashIndex:
    """Arrays of every informative frame: which media it belongs to, its time, its hash."""

    def __init__(self, hasher: Hasher, fingerprints: Iterable[Fingerprint]) -> None:
        self.hasher = hasher
        owners, times, hashes = [], [], []
        self.media: list[str] = []
        self.informative_frames: list[int] = []
        for number, fp in enumerate(fingerprints):
            keep = fp.quality >= hasher.min_quality
            self.media.append(fp.sha256)
            self.informative_frames.append(int(keep.sum()))
            owners.append(np.full(int(keep.sum()), number, dtype=np.int32))
            times.append(fp.times_ms[keep])
            hashes.append(fp.hashes[keep])
        words = hasher.bits // 64
        self.owner = np.concatenate(owners) if owners else np.zeros(0, np.int32)
        self.times_ms = np.concatenate(times) if times else np.zeros(0, np.int32)
        self.words = _words(np.concatenate(hashes)) if hashes else np.zeros((0, words), np.uint64)
        # Rows of fingerprint k are row_start[k]:row_start[k + 1] (fingerprints are concatenated).
        self.row_start = np.concatenate([[0], np.cumsum(self.informative_frames)]).astype(np.int64)

    def times_of(self, number: int) -> np.ndarray:
        """Times (ms) of the informative frames of the ``number``-th fingerprint."""
        return self.times_ms[self.row_start[number] : self.row_start[number + 1]]

    def __len__(self) -> int:
        return int(self.owner.shape[0])

    def search(
        self, query_hashes: np.ndarray, max_distance: int, query_times_ms: np.ndarray | None = None
    ) -> FrameHits:
        """The (query frame, index rows) within ``max_distance`` bits, bounded as FrameHits says;
        ``query_times_ms`` break ties within a run of rows.  Memory: one distance block (BLOCK_BYTES)
        at a time, and the bounded hits."""
        query = _words(query_hashes)
        found: list[FrameHits] = []
        if len(self) and len(query):
            per_block = max(1, BLOCK_BYTES // (8 * query.shape[1] * len(self)))
            for start in range(0, len(query), per_block):
                block = query[start : start + per_block]
                dist = np.bitwise_count(block[:, None, :] ^ self.words[None, :, :]).sum(
                    axis=2, dtype=np.int32
                )
                q, r = np.nonzero(dist <= max_distance)  # row-major: by query frame, then row
                gap = None if query_times_ms is None else np.abs(self.times_ms[r] - query_times_ms[q + start])
                found.append(collapse_hits(q + start, r, dist[q, r], self.owner, gap))
        if not found:
            return _empty_hits()
        return FrameHits(*(np.concatenate([getattr(h, f.name) for h in found]) for f in fields(FrameHits)))
