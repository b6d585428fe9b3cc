"""Multi-index hashing: find index rows that share a 16-bit chunk with a query hash, fast.

Two hashes within d bits of each other that are cut into more than d chunks share at least one
chunk exactly (pigeonhole); at the 12 bits of pHash matching they share one often, not always
(bench/scale.py measures how often).  A copy shows dozens of frames of its source, so finding a few
of them is enough to name the media: the full-radius search then runs on those media only.

A table per chunk lists, for each of the 65,536 chunk values, the rows holding it, with their whole
hash beside the row (read in bucket order, not by random access).  Consecutive rows of one media
with the same chunk value (a shot: its frames look alike) are listed once, by the first of them:
a still video fills one bucket entry per shot, not one per frame.
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


@dataclass(frozen=True, slots=True, eq=False)
class ChunkTable:
    """One chunk position: ``offsets[v]:offsets[v + 1]`` are the entries of value v, each a row
    and that row's hash words."""

    offsets: np.ndarray  # (65537,) int64
    rows: np.ndarray  # (entries,) int32
    words: np.ndarray  # (entries, words per hash) uint64


def chunk_values(words: np.ndarray) -> np.ndarray:
    """(n, chunks) uint16: each hash cut into 16-bit chunks."""
    words = np.ascontiguousarray(words)
    return words.view(np.uint16).reshape(len(words), words.shape[1] * 4)


def build_tables(words: np.ndarray, owner: np.ndarray) -> list[ChunkTable]:
    """The chunk tables of rows ``words`` (uint64, (n, W)) owned by media ``owner``."""
    values = chunk_values(words)
    tables = []
    for c in range(values.shape[1]):
        value = values[:, c]
        first = np.ones(len(value), dtype=bool)
        first[1:] = (value[1:] != value[:-1]) | (owner[1:] != owner[:-1])
        rows = np.flatnonzero(first)
        order = rows[np.argsort(value[rows], kind="stable")]
        counts = np.bincount(value[order], minlength=_VALUES)
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        tables.append(ChunkTable(offsets, order.astype(np.int32), np.ascontiguousarray(words[order])))
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
        common = max(COMMON_FLOOR, int(COMMON_SHARE * len(table.rows)))
        sizes = np.where(sizes > common, 0, sizes)
        total = int(sizes.sum())
        if total == 0:
            continue
        lead = np.repeat(np.cumsum(sizes) - sizes, sizes)
        where = np.arange(total) - lead + np.repeat(starts, sizes)
        who = np.repeat(numbers, sizes)
        stored = table.words[where]
        dist = np.bitwise_count(stored[:, 0] ^ query[who, 0]).astype(np.uint16)
        for k in range(1, query.shape[1]):
            dist += np.bitwise_count(stored[:, k] ^ query[who, k])
        close = dist <= max_distance
        found_q.append(who[close])
        found_r.append(table.rows[where[close]])
        found_d.append(dist[close])
    if not found_q:
        empty = np.zeros(0, np.int64)
        return empty, empty, empty
    return (np.concatenate(found_q), np.concatenate(found_r).astype(np.int64), np.concatenate(found_d))
