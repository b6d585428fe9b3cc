"""Time alignment vouches for a match only when the aligned frames are different pictures.

Hand-made fingerprints through the real index and matcher: a still query meeting an unrelated still
reference at 11 bits aligns on every frame, and is one picture's evidence; footage that changes,
at the same distance, is many pictures' evidence; a still copy close to its source is found.
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

import numpy as np
import pytest
from test_index import flip_bits, make_fp

from provenance.hashing import PDQ256, PHASH64, Hasher
from provenance.index import HashIndex, as_words
from provenance.match import _look_again, _several_pictures, _ViewSegments, match_hashed
from provenance.models import Fingerprint, Segment
from provenance.settings import MatchSettings

OPTS = MatchSettings()
QUERY_STEP_MS = 125  # 8 Hz, as a query is sampled
REF_STEP_MS = 500  # 2 Hz, as the archive is


def footage(
    bases: list[np.ndarray], frames_each: int, noise_bits: int, rng: np.random.Generator
) -> np.ndarray:
    """Frames showing each picture of ``bases`` in turn, ``frames_each`` frames a picture, every frame
    ``noise_bits`` off its picture (a re-encode's jitter)."""
    return np.array(
        [flip_bits(b, noise_bits, rng) for b in bases for _ in range(frames_each)], dtype=np.uint8
    )


def fingerprint(sha: str, hashes: np.ndarray) -> Fingerprint:
    """Archived footage at 2 Hz, every frame informative."""
    return make_fp(sha, PHASH64, hashes, [100] * hashes.shape[0])


def matched(query: np.ndarray, references: list[Fingerprint], hasher: Hasher = PHASH64) -> dict[str, list]:
    """{reference sha256: segments} of the query (8 Hz frames) against the references."""
    index = HashIndex(hasher, references)
    times = np.arange(query.shape[0], dtype=np.int32) * QUERY_STEP_MS
    quality = np.full(query.shape[0], 100, np.uint8)
    found = match_hashed(None, times, [("none", query, quality)], index, {}, OPTS)
    return {m.ref_sha256: list(m.segments) for m in found if m.segments}


def random_picture(rng: np.random.Generator, hasher: Hasher = PHASH64) -> np.ndarray:
    return rng.integers(0, 256, hasher.bits // 8, dtype=np.uint8)


def test_a_still_query_meeting_an_unrelated_still_shot_is_not_a_match() -> None:
    # 10 s of one picture (a static camera, a dark scene) against 20 s of another picture 11 bits
    # away: every query frame is within the search distance of every reference frame, so a time
    # line through them has dozens of frames, yet all they share is one picture at 11 bits.
    rng = np.random.default_rng(1)
    picture = random_picture(rng)
    query = footage([picture], 80, 1, rng)
    still = fingerprint("a" * 64, footage([flip_bits(picture, 11, rng)], 40, 1, rng))
    assert matched(query, [still]) == {}


def test_changing_footage_at_the_same_distance_is_a_match() -> None:
    # The same distance, but the footage changes (a new picture every 2 s): the aligned frames are
    # five different pictures, each 10 bits off (a rotated or heavily re-encoded copy).
    rng = np.random.default_rng(2)
    pictures = [random_picture(rng) for _ in range(10)]
    source = footage(pictures, 4, 1, rng)  # 20 s at 2 Hz
    copy = footage([flip_bits(p, 10, rng) for p in pictures[3:8]], 16, 1, rng)  # its 6-16 s, at 8 Hz
    found = matched(copy, [fingerprint("b" * 64, source)])
    segment = found["b" * 64][0]
    assert segment.mean_distance > OPTS.few_frames_max_distance
    assert abs(segment.ref_start_ms - 6000) <= 1000 and abs(segment.ref_end_ms - 15500) <= 1000


def test_a_still_copy_close_to_its_source_is_a_match() -> None:
    # A static camera re-encoded: one picture, but within few_frames_max_distance of the source.
    rng = np.random.default_rng(3)
    picture = random_picture(rng)
    source = fingerprint("c" * 64, footage([picture], 40, 1, rng))
    copy = footage([flip_bits(picture, 3, rng)], 40, 1, rng)
    assert "c" * 64 in matched(copy, [source])


def test_a_still_query_meeting_one_still_stretch_of_changing_footage_is_not_a_match() -> None:
    # The rule looks at both sides: a still query against a reference whose own frames change
    # meets one picture of it, and is evidence of that one picture only.
    rng = np.random.default_rng(4)
    picture = random_picture(rng)
    query = footage([picture], 80, 1, rng)
    far = flip_bits(picture, 11, rng)
    # The reference shows the far picture for 10 s between other pictures.
    others = [random_picture(rng) for _ in range(4)]
    reference = np.concatenate(
        [footage(others[:2], 4, 1, rng), footage([far], 20, 1, rng), footage(others[2:], 4, 1, rng)]
    )
    assert matched(query, [fingerprint("d" * 64, reference)]) == {}


def test_changing_query_frames_meeting_one_still_reference_picture_are_not_a_match() -> None:
    # The query alternates between two pictures 18 bits apart (more than one picture on its side),
    # each 9 bits from the reference's one still picture: every query frame meets that picture, and
    # the reference side shows one picture only.
    rng = np.random.default_rng(6)
    still = random_picture(rng)
    bits = np.unpackbits(still)
    flips = rng.choice(bits.size, size=18, replace=False)
    pictures = []
    for half in (flips[:9], flips[9:]):
        changed = bits.copy()
        changed[half] ^= 1
        pictures.append(np.packbits(changed))
    query = footage(pictures * 10, 4, 0, rng)  # 10 s at 8 Hz, a new picture every 0.5 s
    reference = fingerprint("e" * 64, footage([still], 40, 0, rng))
    assert matched(query, [reference]) == {}


def shared_pictures(shared: int, ref_frames: int, rng: np.random.Generator) -> tuple[np.ndarray, Fingerprint]:
    """A query of 20 s (8 Hz) of pictures of its own, but for ``shared`` consecutive frames of a
    reference (2 Hz, a new picture every frame) shown 10 bits off from its 1 s on, at the right time."""
    reference = np.array([random_picture(rng) for _ in range(ref_frames)])
    query = np.array([random_picture(rng) for _ in range(160)])
    for n in range(shared):  # reference frame 2 + n (1 s + 0.5 s n) at query 4 + 0.5 n s
        query[32 + 4 * n : 36 + 4 * n] = footage([flip_bits(reference[2 + n], 10, rng)], 4, 1, rng)
    return query, fingerprint("f" * 64, reference)


def test_three_aligned_pictures_are_not_a_match_where_both_sides_offer_more() -> None:
    # Three different pictures in time order, each 10 bits off: among 10^6 frames of natural
    # footage, three such frames of unrelated footage meet often (bench/scale_distractors.py).
    rng = np.random.default_rng(7)
    assert OPTS.min_frames == 4
    query, reference = shared_pictures(3, 120, rng)
    assert matched(query, [reference]) == {}
    query, reference = shared_pictures(4, 120, rng)
    (segment,) = matched(query, [reference])["f" * 64]
    assert segment.frames_matched == 4
    assert abs(segment.ref_start_ms - 1000) <= 500 and abs(segment.ref_end_ms - 2500) <= 500
    assert abs(segment.query_start_ms - 4000) <= 500 and abs(segment.query_end_ms - 5875) <= 500


def test_three_aligned_pictures_are_a_match_against_a_clip_of_a_few_frames() -> None:
    # A clip offering 6 frames gives at most 3 (evidence_share of it), and three time-aligned
    # pictures stay enough there: the fourth frame is asked only where both sides offer 7 or more.
    rng = np.random.default_rng(8)
    query, reference = shared_pictures(3, 6, rng)
    (segment,) = matched(query, [reference])["f" * 64]
    assert segment.frames_matched == 3
    query, reference = shared_pictures(3, 7, rng)
    assert matched(query, [reference]) == {}


@pytest.mark.parametrize("hasher", [PHASH64, PDQ256], ids=lambda h: h.name)
def test_several_pictures_means_two_frames_further_apart_than_the_search_distance(hasher: Hasher) -> None:
    rng = np.random.default_rng(5)
    base = random_picture(rng, hasher)
    limit = 12
    same = as_words(np.array([base, flip_bits(base, limit, rng)]))
    apart = as_words(np.array([base, flip_bits(base, limit + 1, rng)]))
    assert not _several_pictures(same, limit)
    assert _several_pictures(apart, limit)
    assert not _several_pictures(as_words(base[None, :]), limit)
    # Long stretches are compared on evenly spaced frames: a change in the middle is still seen.
    long = np.array([base] * 600 + [flip_bits(base, 30, rng)] * 600)
    assert _several_pictures(as_words(long), limit)
    assert not _several_pictures(as_words(np.array([base] * 1200)), limit)


def test_a_second_look_is_asked_only_for_what_the_rule_holds_back() -> None:
    # The still-on-still pair of the first test, and changing footage the rule lets stand: the look
    # is asked about the still reference only (the most frames first), and what it vouches for is
    # kept with its times; a look that says no leaves the rule's answer.
    rng = np.random.default_rng(1)
    picture = random_picture(rng)
    query = footage([picture], 80, 1, rng)
    still = fingerprint("a" * 64, footage([flip_bits(picture, 11, rng)], 40, 1, rng))
    index = HashIndex(PHASH64, [still])
    times = np.arange(query.shape[0], dtype=np.int32) * QUERY_STEP_MS
    quality = np.full(query.shape[0], 100, np.uint8)
    asked: list[tuple[str, int]] = []

    def look(answer: bool) -> Callable[[str, Segment], bool]:
        def second_look(sha256: str, segment: Segment) -> bool:
            asked.append((sha256, segment.frames_matched))
            return answer

        return second_look

    assert match_hashed(None, times, [("none", query, quality)], index, {}, OPTS, look(False)) == []
    assert asked and {sha for sha, _ in asked} == {"a" * 64}
    found = match_hashed(None, times, [("none", query, quality)], index, {}, OPTS, look(True))
    assert [m.ref_sha256 for m in found] == ["a" * 64]
    assert found[0].segments[0].frames_matched >= OPTS.min_frames
    # Changing footage is vouched for by time alignment: no look is asked.
    asked.clear()
    bases = [random_picture(rng) for _ in range(20)]
    changing = fingerprint("b" * 64, footage([flip_bits(b, 10, rng) for b in bases], 2, 0, rng))
    changing_query = footage(bases, 8, 0, rng)
    times = np.arange(changing_query.shape[0], dtype=np.int32) * QUERY_STEP_MS
    quality = np.full(changing_query.shape[0], 100, np.uint8)
    index = HashIndex(PHASH64, [changing])
    found = match_hashed(None, times, [("none", changing_query, quality)], index, {}, OPTS, look(False))
    assert [m.ref_sha256 for m in found] == ["b" * 64] and asked == []


def test_second_looks_go_to_the_most_frames_first_across_views() -> None:
    # Looks are few: a 16-frame segment held back in the second view is asked about before the
    # 3-frame chance segments of the first, and a reference some view found is not asked about.
    def held(ref: int, frames: int, variant: str) -> tuple[int, int, Segment]:
        return ref, 0, Segment(0, 2000, 0, 2000, frames_matched=frames, mean_distance=11.0, variant=variant)

    index = SimpleNamespace(media=[f"{n:064x}" for n in range(12)])
    plain = _ViewSegments(np.zeros(0), {}, [held(ref, 3, "none") for ref in range(10)])
    zoomed = _ViewSegments(np.zeros(0), {3: [(0, held(3, 5, "zoom1.25")[2])]}, [held(10, 16, "zoom1.25")])
    asked: list[str] = []

    def second_look(sha256: str, segment: Segment) -> bool:
        asked.append(sha256)
        return sha256 == index.media[10]

    _look_again([plain, zoomed], index, second_look)  # type: ignore[arg-type]
    assert asked[0] == index.media[10] and index.media[3] not in asked
    assert [s.frames_matched for _, s in zoomed.kept[10]] == [16] and not plain.kept
