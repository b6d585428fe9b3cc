"""HashIndex over hand-made Fingerprints, checked against a brute-force Python search."""

from __future__ import annotations

import numpy as np
import pytest

from provenance import index as index_module
from provenance.hashing import HASHERS, Hasher
from provenance.index import FrameHits, HashIndex
from provenance.models import Fingerprint

# The index never hashes: it needs only bits and min_quality, so pdq256 runs without the extra.
WIDTHS = sorted(HASHERS)


def make_fp(
    sha: str, hasher: Hasher, hashes: np.ndarray, quality: list[int], step_ms: int = 500
) -> Fingerprint:
    n = hashes.shape[0]
    return Fingerprint(
        sha256=sha,
        hasher=hasher.name,
        rate_hz=2.0,
        times_ms=np.arange(n, dtype=np.int32) * step_ms,
        hashes=hashes.astype(np.uint8),
        quality=np.array(quality, dtype=np.uint8),
    )


def flip_bits(h: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    bits = np.unpackbits(h)
    where = rng.choice(bits.size, size=count, replace=False)
    bits[where] ^= 1
    return np.packbits(bits)


def popcount_distance(a: np.ndarray, b: np.ndarray) -> int:
    return sum(bin(int(x) ^ int(y)).count("1") for x, y in zip(a, b, strict=True))


def corpus(hasher: Hasher, seed: int) -> tuple[list[Fingerprint], np.ndarray]:
    """Three fingerprints of random hashes (some flat frames) and queries near some of their frames."""
    rng = np.random.default_rng(seed)
    nbytes = hasher.bits // 8
    floor = hasher.min_quality
    fps = []
    for k, n in enumerate((12, 7, 20)):
        hashes = rng.integers(0, 256, (n, nbytes), dtype=np.uint8)
        quality = [int(q) for q in rng.choice([0, floor - 1, floor, 100], size=n)]
        fps.append(make_fp(f"{k:064x}", hasher, hashes, quality))
    all_hashes = np.concatenate([fp.hashes for fp in fps])
    picks = rng.choice(all_hashes.shape[0], size=15, replace=False)
    near = [flip_bits(all_hashes[i], int(rng.integers(0, hasher.bits // 4)), rng) for i in picks]
    far = list(rng.integers(0, 256, (5, nbytes), dtype=np.uint8))
    return fps, np.array(near + far, dtype=np.uint8)


def brute_force(
    hasher: Hasher, fps: list[Fingerprint], queries: np.ndarray, max_distance: int
) -> set[tuple[int, str, int, int]]:
    """(query index, owner sha, frame time, distance) of every informative frame within max_distance."""
    found = set()
    for qi, q in enumerate(queries):
        for fp in fps:
            for t, h, quality in zip(fp.times_ms, fp.hashes, fp.quality, strict=True):
                if quality < hasher.min_quality:
                    continue
                d = popcount_distance(q, h)
                if d <= max_distance:
                    found.add((qi, fp.sha256, int(t), d))
    return found


def as_set(index: HashIndex, hits: FrameHits) -> set[tuple[int, str, int, int]]:
    return {
        (int(q), index.media[int(index.owner[r])], int(index.times_ms[r]), int(d))
        for q, r, d in zip(hits.query_index, hits.row, hits.distance, strict=True)
    }


@pytest.mark.parametrize("name", WIDTHS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_search_returns_exactly_the_pairs_within_distance(name: str, seed: int) -> None:
    hasher = HASHERS[name]
    fps, queries = corpus(hasher, seed)
    index = HashIndex(hasher, fps)
    for max_distance in (0, hasher.bits // 8, hasher.bits // 4):
        hits = index.search(queries, max_distance)
        got = as_set(index, hits)
        assert len(got) == len(hits.query_index)  # no pair reported twice
        assert got == brute_force(hasher, fps, queries, max_distance)


@pytest.mark.parametrize("name", WIDTHS)
def test_search_finds_exact_copies_at_distance_zero(name: str) -> None:
    hasher = HASHERS[name]
    fps, _ = corpus(hasher, 5)
    index = HashIndex(hasher, fps)
    fp = fps[2]
    keep = np.nonzero(fp.quality >= hasher.min_quality)[0]
    hits = index.search(fp.hashes[keep], 0)
    pairs = {(int(q), int(r)) for q, r in zip(hits.query_index, hits.row, strict=True)}
    for qi, frame in enumerate(keep):
        rows = [r for q, r in pairs if q == qi]
        assert rows, f"frame {frame} not found"
        assert any(
            index.media[int(index.owner[r])] == fp.sha256 and index.times_ms[r] == fp.times_ms[frame]
            for r in rows
        )
    assert (hits.distance == 0).all()


@pytest.mark.parametrize("name", WIDTHS)
def test_flat_frames_never_enter_the_index(name: str) -> None:
    hasher = HASHERS[name]
    rng = np.random.default_rng(7)
    hashes = rng.integers(0, 256, (4, hasher.bits // 8), dtype=np.uint8)
    floor = hasher.min_quality
    fp = make_fp("a" * 64, hasher, hashes, [floor - 1, 100, 0, floor])
    index = HashIndex(hasher, [fp])
    assert len(index) == 2
    assert index.informative_frames == [2]
    assert index.times_of(0).tolist() == [500, 1500]
    # The flat frames' own hashes find nothing, while the informative frames' find themselves.
    hits = index.search(hashes[[0, 2]], 0)
    assert hits.query_index.size == 0
    hits = index.search(hashes, 0)
    assert sorted(index.times_ms[hits.row].tolist()) == [500, 1500]


def test_times_owner_and_counts_are_consistent() -> None:
    hasher = HASHERS["phash64"]
    fps, _ = corpus(hasher, 11)
    index = HashIndex(hasher, fps)
    assert index.media == [fp.sha256 for fp in fps]
    assert len(index) == sum(index.informative_frames)
    for k, fp in enumerate(fps):
        keep = fp.quality >= hasher.min_quality
        assert index.informative_frames[k] == int(keep.sum())
        np.testing.assert_array_equal(index.times_of(k), fp.times_ms[keep])
        assert int((index.owner == k).sum()) == int(keep.sum())
        np.testing.assert_array_equal(index.times_ms[index.owner == k], fp.times_ms[keep])


@pytest.mark.parametrize("name", WIDTHS)
def test_empty_index_and_empty_query(name: str) -> None:
    hasher = HASHERS[name]
    nbytes = hasher.bits // 8
    empty = HashIndex(hasher, [])
    assert len(empty) == 0
    assert empty.media == []
    hits = empty.search(np.zeros((3, nbytes), np.uint8), hasher.bits)
    assert hits.query_index.size == hits.row.size == hits.distance.size == 0

    all_flat = HashIndex(hasher, [make_fp("b" * 64, hasher, np.zeros((3, nbytes), np.uint8), [0, 0, 0])])
    assert len(all_flat) == 0
    assert all_flat.informative_frames == [0]
    assert all_flat.times_of(0).size == 0
    assert all_flat.search(np.zeros((2, nbytes), np.uint8), hasher.bits).row.size == 0

    fps, _ = corpus(hasher, 3)
    full = HashIndex(hasher, fps)
    assert full.search(np.zeros((0, nbytes), np.uint8), hasher.bits).row.size == 0


@pytest.mark.parametrize("name", WIDTHS)
# 1 byte: one query row per block; the others: a few rows per block, the last block partial.
@pytest.mark.parametrize("block_bytes", [1, 8 * 4 * 40 * 3, 8 * 4 * 40 * 7 + 5])
def test_block_splitting_gives_the_same_hits(
    name: str, block_bytes: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    hasher = HASHERS[name]
    fps, queries = corpus(hasher, 9)
    index = HashIndex(hasher, fps)
    whole = as_set(index, index.search(queries, hasher.bits // 4))
    assert whole  # the corpus has near copies, so the comparison is not between two empty sets
    monkeypatch.setattr(index_module, "BLOCK_BYTES", block_bytes)
    split = index.search(queries, hasher.bits // 4)
    assert as_set(index, split) == whole
    assert len(split.row) == len(whole)


@pytest.mark.parametrize("name", WIDTHS)
def test_a_still_reference_gives_one_hit_per_query_frame_not_one_per_pair(name: str) -> None:
    # A still shot: 600 frames (5 minutes at 2 Hz) within a few bits of each other.
    hasher = HASHERS[name]
    rng = np.random.default_rng(5)
    base = rng.integers(0, 256, hasher.bits // 8, dtype=np.uint8)
    still = np.array([flip_bits(base, int(rng.integers(0, 3)), rng) for _ in range(600)])
    index = HashIndex(hasher, [make_fp("a" * 64, hasher, still, [100] * 600)])
    queries = np.array([flip_bits(base, 1, rng) for _ in range(40)])
    found = index.search(queries, 12, np.arange(40, dtype=np.int32) * 125)
    per_frame = np.bincount(found.query_index, minlength=40)
    assert per_frame.max() <= index_module.HITS_PER_MEDIA and per_frame.min() >= 1
    # The hit spans the whole still run, and the row it votes with is one of its closest rows.
    assert np.all(found.row_start == 0) and np.all(found.row_end == 599)
    distances = np.bitwise_count(queries[found.query_index] ^ still[found.row]).sum(axis=1)
    assert np.all(distances == found.distance)


@pytest.mark.parametrize("name", WIDTHS)
def test_few_hits_per_media_are_kept_as_they_are(name: str) -> None:
    hasher = HASHERS[name]
    fps, queries = corpus(hasher, 11)
    index = HashIndex(hasher, fps)
    found = index.search(queries, hasher.bits // 4)
    assert np.array_equal(found.row, found.row_start) and np.array_equal(found.row, found.row_end)


def test_hits_per_query_frame_are_capped_over_the_archive() -> None:
    hasher = HASHERS["phash64"]
    rng = np.random.default_rng(9)
    base = rng.integers(0, 256, 8, dtype=np.uint8)
    # Many media, each a scatter of look-alike frames between unrelated ones (no runs to collapse).
    fps = []
    for k in range(60):
        hashes = rng.integers(0, 256, (40, 8), dtype=np.uint8)
        hashes[::2] = base
        fps.append(make_fp(f"{k:064x}", hasher, hashes, [100] * 40))
    found = HashIndex(hasher, fps).search(base[None, :], 0)
    assert found.query_index.size == index_module.HITS_PER_FRAME
    owners = HashIndex(hasher, fps).owner[found.row]
    assert np.bincount(owners).max() <= index_module.HITS_PER_MEDIA


@pytest.mark.parametrize("shape", [(0, 5), (3, 0), (1, 1), (5, 3), (7, 13), (26, 8000)])
@pytest.mark.parametrize("share", [0.0, 0.001, 0.3, 1.0])
def test_near_pairs_are_read_as_numpy_reads_them(shape: tuple[int, int], share: float) -> None:
    # The search reads its (query x row) mask eight cells at a time: same pairs, same order.
    near = np.random.default_rng(6).random(shape) < share
    expected, got = np.nonzero(near), index_module.exact._pairs(near)
    assert all(np.array_equal(a, b) for a, b in zip(expected, got, strict=True))
