"""Exact Hamming search: every (query hash, stored hash) pair within the distance, brute force.

The reference every faster search is measured against, and the search of small archives and of
the candidates a faster search found.  NumPy popcount over 64-bit words, one word of every stored
hash at a time: ~0.3 billion pairs a CPU second here, hits collected (bench/scale.py: 175 s for
a 60 s query against 10^7 frames).  The index rows are scanned in
chunks and the queries in blocks, so memory stays at BLOCK_BYTES however large either side is.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from ..hashing import Hasher
from ..models import Fingerprint
from .hits import FrameHits, cap_hits, collapse_hits, concat_hits, empty_hits, shift_rows

# Bytes of the (query block x row chunk) distance block computed at once.
BLOCK_BYTES = 16 << 20
# Rows scanned at once: a large (memory-mapped) index is read once per block of queries, not per query.
ROWS_PER_CHUNK = 1 << 18


def as_words(hashes: np.ndarray) -> np.ndarray:
    """Packed hash bytes (n, B) as native uint64 words (n, B // 8): popcount works per word."""
    return np.ascontiguousarray(hashes, dtype=np.uint8).view(np.uint64)


def _distances(block: np.ndarray, words: np.ndarray) -> np.ndarray:
    """(len(block), len(words)) Hamming distances of two sets of hashes as uint64 words: uint8 for
    one word (at most 64), uint16 for more."""
    dist = np.bitwise_count(block[:, 0:1] ^ words[None, :, 0])
    if words.shape[1] > 1:
        dist = dist.astype(np.uint16)
    for k in range(1, words.shape[1]):
        dist += np.bitwise_count(block[:, k : k + 1] ^ words[None, :, k])
    return dist


def _pairs(near: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.nonzero`` of a 2-D boolean array with few True, in the same (row-major) order, reading
    it eight cells at a time: near pairs are rare, and scanning every cell was half a search."""
    flat = near.reshape(-1)
    whole = flat.size - flat.size % 8
    busy = np.flatnonzero(flat[:whole].view(np.uint64))
    cells = (busy[:, None] * 8 + np.arange(8)).reshape(-1)
    cells = np.concatenate([cells[flat[cells]], np.flatnonzero(flat[whole:]) + whole])
    rows, cols = np.divmod(cells, near.shape[1])
    return rows, cols


def search_rows(
    words: np.ndarray,
    owner: np.ndarray,
    times_ms: np.ndarray,
    query: np.ndarray,
    max_distance: int,
    query_times_ms: np.ndarray | None = None,
) -> FrameHits:
    """Bounded hits (see FrameHits) of query words on rows of ``words``, rows numbered as given.

    ``owner`` and ``times_ms`` belong to the same rows (each row's media and time).
    """
    found: list[FrameHits] = []
    if not len(words) or not len(query):
        return empty_hits()
    for first in range(0, len(words), ROWS_PER_CHUNK):
        chunk = np.asarray(words[first : first + ROWS_PER_CHUNK])
        chunk_owner = np.asarray(owner[first : first + ROWS_PER_CHUNK])
        chunk_times = np.asarray(times_ms[first : first + ROWS_PER_CHUNK])
        per_block = max(1, BLOCK_BYTES // (8 * len(chunk)))
        for start in range(0, len(query), per_block):
            dist = _distances(query[start : start + per_block], chunk)
            q, r = _pairs(dist <= max_distance)  # row-major: by query frame, then row
            gap = None if query_times_ms is None else np.abs(chunk_times[r] - query_times_ms[q + start])
            hits = collapse_hits(q + start, r, dist[q, r].astype(np.int32), chunk_owner, gap)
            found.append(shift_rows(hits, first))
        if first + ROWS_PER_CHUNK < len(words) or first:  # capped as chunks come: bounded however many
            found = [cap_hits(concat_hits(found), owner)]
    return concat_hits(found)


@dataclass(frozen=True, slots=True, eq=False)
class InformativeRows:
    """The informative frames of some fingerprints, concatenated fingerprint after fingerprint: row
    r belongs to media number ``owner[r]`` (sha256 ``media[owner[r]]``), whose rows are
    ``row_start[k]:row_start[k + 1]``."""

    media: list[str]
    owner: np.ndarray  # (rows,) int32
    times_ms: np.ndarray  # (rows,) int32
    words: np.ndarray  # (rows, bits // 64) uint64
    row_start: np.ndarray  # (media + 1,) int64


def informative_rows(hasher: Hasher, fingerprints: Iterable[Fingerprint]) -> InformativeRows:
    """Only frames at or above the hasher's quality floor become rows: flat and black frames can
    never be evidence."""
    owners, times, hashes, media, counts = [], [], [], [], []
    for number, fp in enumerate(fingerprints):
        keep = fp.quality >= hasher.min_quality
        count = int(keep.sum())
        media.append(fp.sha256)
        counts.append(count)
        owners.append(np.full(count, number, dtype=np.int32))
        times.append(fp.times_ms[keep].astype(np.int32))
        hashes.append(fp.hashes[keep])
    width = hasher.bits // 64
    return InformativeRows(
        media=media,
        owner=np.concatenate(owners) if owners else np.zeros(0, np.int32),
        times_ms=np.concatenate(times) if times else np.zeros(0, np.int32),
        words=(as_words(np.concatenate(hashes)) if hashes else np.zeros((0, width), np.uint64)).reshape(
            -1, width
        ),
        row_start=np.concatenate([[0], np.cumsum(counts, dtype=np.int64)]).astype(np.int64),
    )


class HashIndex:
    """Arrays of every informative frame of some fingerprints: which media, when, which hash.

    Only informative frames (quality at or above the hasher's floor) enter it, so flat and black
    frames can never be evidence.  In memory and searched exactly: the reference, and the index of
    what a faster index found (archive_index.py)."""

    def __init__(self, hasher: Hasher, fingerprints: Iterable[Fingerprint]) -> None:
        self.hasher = hasher
        rows = informative_rows(hasher, fingerprints)
        self.media, self.owner, self.times_ms, self.words = rows.media, rows.owner, rows.times_ms, rows.words
        self.informative_frames: list[int] = np.diff(rows.row_start).tolist()
        # Rows of fingerprint k are row_start[k]:row_start[k + 1] (fingerprints are concatenated).
        self.row_start = rows.row_start

    def times_of(self, number: int) -> np.ndarray:
        """Times (ms) of the informative frames of the ``number``-th fingerprint."""
        return self.times_ms[self.row_start[number] : self.row_start[number + 1]]

    def words_of(self, number: int) -> np.ndarray:
        """Hashes (rows of uint64 words) of the informative frames of the ``number``-th fingerprint."""
        return self.words[self.row_start[number] : self.row_start[number + 1]]

    def __len__(self) -> int:
        return int(self.owner.shape[0])

    def search(
        self, query_hashes: np.ndarray, max_distance: int, query_times_ms: np.ndarray | None = None
    ) -> FrameHits:
        """The (query frame, index rows) within ``max_distance`` bits, bounded as FrameHits says;
        ``query_times_ms`` break ties within a run of rows.  Memory: BLOCK_BYTES at a time, and the
        bounded hits."""
        query = as_words(query_hashes)
        return search_rows(self.words, self.owner, self.times_ms, query, max_distance, query_times_ms)
