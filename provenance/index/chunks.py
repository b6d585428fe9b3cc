"""Multi-index hashing: find index rows that share a 16-bit chunk with a query hash, fast.

Two hashes within d bits of each other that are cut into more than d chunks share at least one
chunk exactly (pigeonhole); at the 12 bits of pHash matching they share one often, not always
(bench/scale.py measures how often).  A copy shows dozens of frames of its source, so finding a few
of them is enough to name the media: the full-radius search then runs on those media only.

A table per chunk lists, for each of the 65,536 chunk values, the rows holding it, with the rest of
their hash beside the row (read in bucket order, not by random access).  Consecutive rows of one
media with the same chunk value (a shot: its frames look alike) are listed once, by the first of
them: a still video fills one bucket entry per shot, not one per frame.

An entry is 10 bytes for a 64-bit hash, not 12: the bucket is the chunk's value, so an entry keeps
only the hash's other chunks, and the 16 bits that frees in its last word hold the high half of
its row number (the low half is beside it).  At 10^8 frames the four tables are 428 MB smaller,
and the distance is still read from one aligned word an entry.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CHUNK_BITS = 16
_VALUES = 1 << CHUNK_BITS
# A bucket holding more than this share of the table's entries is a value too common to tell media
# apart (the same chunk in every dark frame, say): it is not read.
COMMON_SHARE = 0.01
COMMON_FLOOR = 4096
# The other chunks fill the last word of ``rest`` up to here; the row's high half is above.
_ROW_SHIFT = 64 - CHUNK_BITS
_OTHERS = np.uint64((1 << _ROW_SHIFT) - 1)
# Rows a table can number: 16 bits in ``rest`` and 16 in ``row_low`` hold 2^32; hits keep rows as
# int32 (hits.py), so a segment holds at most 2^31.
MAX_ROWS = 1 << 31


@dataclass(frozen=True, slots=True, eq=False)
class ChunkTable:
    """One chunk position: ``offsets[v]:offsets[v + 1]`` are the entries of value v.  An entry's
    ``rest`` is its hash without this chunk (the other chunks in order, packed to the low bits),
    with the high 16 bits of its row in the top chunk of the last word; ``row_low`` the row's low
    16 bits."""

    offsets: np.ndarray  # (65537,) int64
    rest: np.ndarray  # (entries, words per hash) uint64
    row_low: np.ndarray  # (entries,) uint16

    def __len__(self) -> int:
        return int(self.row_low.shape[0])

    def rows(self, entries: np.ndarray) -> np.ndarray:
        """The row numbers (int64) of ``entries``."""
        high = (self.rest[entries, -1] >> np.uint64(_ROW_SHIFT)).astype(np.int64)
        return (high << CHUNK_BITS) | self.row_low[entries].astype(np.int64)


def chunk_values(words: np.ndarray) -> np.ndarray:
    """(n, chunks) uint16: each hash cut into 16-bit chunks."""
    words = np.ascontiguousarray(words)
    return words.view(np.uint16).reshape(len(words), words.shape[1] * 4)


def _without(values: np.ndarray, c: int, top: np.ndarray | int = 0) -> np.ndarray:
    """(n, W) uint64: chunk values (n, 4W) without column ``c``, the rest moved down, and ``top``
    in the freed top chunk of the last word."""
    # Little-endian whatever the machine: the last chunk of a word is then its top 16 bits.
    packed = np.empty(values.shape, dtype="<u2")
    packed[:, :c] = values[:, :c]
    packed[:, c:-1] = values[:, c + 1 :]
    packed[:, -1] = top
    return packed.view("<u8")


def build_tables(words: np.ndarray, row_start: np.ndarray) -> list[ChunkTable]:
    """The chunk tables of rows ``words`` (uint64, (n, W)); media k holds rows
    ``row_start[k]:row_start[k + 1]``."""
    if len(words) > MAX_ROWS:
        raise ValueError(f"{len(words)} rows in one segment; at most {MAX_ROWS}")
    values = chunk_values(words)
    opens_media = np.zeros(len(values), dtype=bool)
    starts = np.asarray(row_start)
    opens_media[starts[:-1][np.diff(starts) > 0]] = True
    opens_media[:1] = True
    tables = []
    for c in range(values.shape[1]):
        value = values[:, c]
        first = opens_media.copy()
        first[1:] |= value[1:] != value[:-1]
        rows = np.flatnonzero(first)
        order = rows[np.argsort(value[rows], kind="stable")]
        counts = np.bincount(value[order], minlength=_VALUES)
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        rest = _without(values[order], c, (order >> CHUNK_BITS).astype(np.uint16))
        tables.append(ChunkTable(offsets, rest, (order & 0xFFFF).astype(np.uint16)))
    return tables


def _probes(values: np.ndarray, flips: int) -> tuple[np.ndarray, np.ndarray]:
    """(query number, chunk value) to look up: the values themselves, and with ``flips`` = 1 each
    value with one bit changed too (17 probes: chunks one bit off are found as well)."""
    numbers = np.arange(len(values))
    if flips == 0:
        return numbers, values
    masks = np.concatenate([[0], 1 << np.arange(CHUNK_BITS)]).astype(np.uint16)
    probed = (values[:, None] ^ masks[None, :]).ravel()
    return np.repeat(numbers, masks.size), probed


def candidates(
    tables: list[ChunkTable], query: np.ndarray, max_distance: int, flips: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(query number, row, distance) of every table entry sharing a chunk (up to ``flips`` bits
    off) with a query hash and within ``max_distance`` of it in full; a pair may come more than once.

    Memory: the entries of the buckets looked up, bucket by bucket of one chunk position at a time.
    """
    values = chunk_values(query)
    found_q, found_r, found_d = [], [], []
    for c, table in enumerate(tables):
        numbers, probed = _probes(values[:, c], flips)
        starts, ends = table.offsets[probed], table.offsets[probed.astype(np.int64) + 1]
        sizes = ends - starts
        common = max(COMMON_FLOOR, int(COMMON_SHARE * len(table)))
        sizes = np.where(sizes > common, 0, sizes)
        total = int(sizes.sum())
        if total == 0:
            continue
        lead = np.repeat(np.cumsum(sizes) - sizes, sizes)
        where = np.arange(total) - lead + np.repeat(starts, sizes)
        who = np.repeat(numbers, sizes)
        # The probe's own bits off the query's chunk, then the other chunks entry by entry.
        off = np.bitwise_count(probed ^ values[numbers, c]).astype(np.uint16)
        dist = np.repeat(off, sizes)
        query_rest = _without(values, c)
        stored = table.rest[where]
        last = query.shape[1] - 1
        for k in range(last):
            dist += np.bitwise_count(stored[:, k] ^ query_rest[who, k])
        dist += np.bitwise_count((stored[:, last] ^ query_rest[who, last]) & _OTHERS)
        close = np.flatnonzero(dist <= max_distance)
        found_q.append(who[close])
        found_r.append(table.rows(where[close]))
        found_d.append(dist[close])
    if not found_q:
        empty = np.zeros(0, np.int64)
        return empty, empty, empty
    return (np.concatenate(found_q), np.concatenate(found_r), np.concatenate(found_d))
