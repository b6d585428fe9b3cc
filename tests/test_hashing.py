"""Conformance suite over every hasher in HASHERS, on constructed frames and real photos/footage.

Ground truth: a photo re-encoded (JPEG quality 30, half size) is the same picture; the README of
../shared/media says mei_uuid540.mp4 and mei_xmp480qt.mov are the same footage at the same times and
that the iphone_hdr_NO/YES photos are the same scene; every other pair of photos is unrelated.
"""

from __future__ import annotations

from itertools import combinations
from pathlib import Path

import numpy as np
import pytest
from conftest import SHARED_MEDIA, shared_media
from PIL import Image, ImageOps

from provenance.fingerprint import region_greys
from provenance.frames import read_image, sample_video
from provenance.hashing import HASHERS, Hasher, hamming
from provenance.models import Frame
from provenance.settings import MatchSettings, SamplingSettings

# The distance each hasher's users match at: phash64 the shipped MatchSettings threshold, pdq256 the
# vPDQ rule (31 of 256 bits).  A new hasher must document its threshold here to be tested.
THRESHOLDS: dict[str, int] = {"phash64": MatchSettings().max_distance, "pdq256": 31}

SAMPLING = SamplingSettings()
HDR_PAIR = {"exifsamples_iphone_hdr_NO.jpg", "exifsamples_iphone_hdr_YES.jpg"}
# Real photos Pillow reads without extras; the exiftool stubs are 8x8 px and carry no picture.
PHOTOS = (
    sorted(
        p.name
        for p in (SHARED_MEDIA / "photos").iterdir()
        if p.suffix.lower() in {".jpg", ".webp", ".mpo"} and "_stub" not in p.name
    )
    if SHARED_MEDIA.is_dir()
    else []
)
REENCODED = [
    "exiv2_FurnaceCreekInn_gps.jpg",
    "mei_HTC_Desire.jpg",
    "pillow_flower.jpg",
    "piexif_casio_large.jpg",
]


@pytest.fixture(params=sorted(HASHERS))
def hasher(request: pytest.FixtureRequest) -> Hasher:
    h = HASHERS[request.param]
    if not h.available:
        pytest.skip(f"hasher {h.name} needs the [{h.extra}] extra: pip install 'provenance[{h.extra}]'")
    return h


def threshold(h: Hasher) -> int:
    return THRESHOLDS[h.name]


def one_hash(h: Hasher, grey: np.ndarray) -> np.ndarray:
    hashes, _ = h.hash_frames([grey])
    return hashes[0]


def dist(h: Hasher, a: np.ndarray, b: np.ndarray) -> int:
    return int(hamming(one_hash(h, a), one_hash(h, b)))


_GREY_CACHE: dict[str, np.ndarray] = {}


def photo_grey(name: str) -> np.ndarray:
    if name not in _GREY_CACHE:
        _GREY_CACHE[name] = read_image(shared_media(f"photos/{name}"), SAMPLING).grey
    return _GREY_CACHE[name]


def reencoded_grey(name: str, tmp_path: Path, *, mirror: bool = False) -> np.ndarray:
    """The photo as a re-upload would give it: half size, JPEG quality 30, optionally mirrored."""
    with Image.open(shared_media(f"photos/{name}")) as img:
        rgb = ImageOps.exif_transpose(img.convert("RGB"))
    rgb = rgb.resize((rgb.width // 2, rgb.height // 2), Image.Resampling.LANCZOS)
    if mirror:
        rgb = ImageOps.mirror(rgb)
    out = tmp_path / f"copy-{name}.jpg"
    rgb.save(out, format="JPEG", quality=30)
    return read_image(out, SAMPLING).grey


def test_every_hasher_has_a_documented_threshold() -> None:
    assert set(THRESHOLDS) == set(HASHERS)


def test_registry_names_carry_the_size() -> None:
    for name, h in HASHERS.items():
        assert h.name == name
        assert name.endswith(str(h.bits))
        assert h.bits % 64 == 0  # the index packs hashes into 64-bit words
        assert 0 < h.min_quality <= 100


def test_output_shape_and_dtypes(hasher: Hasher) -> None:
    rng = np.random.default_rng(1)
    greys = [
        rng.integers(0, 256, (72, 128), dtype=np.uint8),
        rng.integers(0, 256, (128, 128), dtype=np.uint8),
        rng.integers(0, 256, (128, 96), dtype=np.uint8),
        np.zeros((40, 60), np.uint8),
    ]
    hashes, quality = hasher.hash_frames(greys)
    assert hashes.shape == (len(greys), hasher.bits // 8)
    assert hashes.dtype == np.uint8
    assert quality.shape == (len(greys),)
    assert quality.dtype == np.uint8
    assert ((quality >= 0) & (quality <= 100)).all()


def test_no_frames_gives_empty_arrays(hasher: Hasher) -> None:
    hashes, quality = hasher.hash_frames([])
    assert hashes.shape == (0, hasher.bits // 8)
    assert quality.shape == (0,)


def test_deterministic_and_independent_of_batch(hasher: Hasher) -> None:
    rng = np.random.default_rng(2)
    greys = [rng.integers(0, 256, (72, 128), dtype=np.uint8) for _ in range(3)]
    first, q1 = hasher.hash_frames(greys)
    second, q2 = hasher.hash_frames([g.copy() for g in greys])
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(q1, q2)
    alone, q_alone = hasher.hash_frames([greys[1]])
    np.testing.assert_array_equal(alone[0], first[1])
    assert q_alone[0] == q1[1]
    # Different pictures give different hashes (a constant hasher would pass everything above).
    assert len({bytes(h) for h in first}) == 3


@pytest.mark.parametrize("name", REENCODED)
def test_reencoded_photo_stays_within_threshold(hasher: Hasher, name: str, tmp_path: Path) -> None:
    original = photo_grey(name)
    copy = reencoded_grey(name, tmp_path)
    assert dist(hasher, original, copy) <= threshold(hasher)


def test_reexported_video_frames_stay_within_threshold(hasher: Hasher) -> None:
    # README: mei_xmp480qt.mov is mei_uuid540.mp4 re-exported at 640x360, same times.
    opts = SamplingSettings(rate_hz=4.0)
    big = {f.t_ms: f.grey for f in sample_video(shared_media("videos/mei_uuid540.mp4"), opts)}
    small = {f.t_ms: f.grey for f in sample_video(shared_media("videos/mei_xmp480qt.mov"), opts)}
    common = sorted(set(big) & set(small))
    assert len(common) >= 3
    for t in common:
        assert dist(hasher, big[t], small[t]) <= threshold(hasher), f"frame at {t} ms"


def test_decoding_the_same_frame_at_two_sizes_stays_within_threshold(hasher: Hasher) -> None:
    path = shared_media("videos/openshot_run.mp4")
    large = next(iter(sample_video(path, SamplingSettings(frame_side=256))))
    small = next(iter(sample_video(path, SamplingSettings(frame_side=96))))
    assert large.t_ms == small.t_ms
    assert large.grey.shape != small.grey.shape
    assert dist(hasher, large.grey, small.grey) <= threshold(hasher)


@pytest.mark.parametrize("name", REENCODED)
def test_mirrored_copy_is_far_but_its_hflip_variant_is_close(
    hasher: Hasher, name: str, tmp_path: Path
) -> None:
    original = photo_grey(name)
    mirrored = reencoded_grey(name, tmp_path, mirror=True)
    assert dist(hasher, original, mirrored) > threshold(hasher)
    (as_is,) = region_greys([Frame(0, mirrored)], None, 1.0)
    (unmirrored,) = region_greys([Frame(0, mirrored)], None, 1.0, mirrored=True)
    np.testing.assert_array_equal(as_is, mirrored)
    assert dist(hasher, original, unmirrored) <= threshold(hasher)


def test_mirrored_regions_flip_left_right() -> None:
    grey = np.arange(12, dtype=np.uint8).reshape(3, 4)
    (flipped,) = region_greys([Frame(0, grey)], None, 1.0, mirrored=True)
    np.testing.assert_array_equal(flipped, [[3, 2, 1, 0], [7, 6, 5, 4], [11, 10, 9, 8]])
    assert flipped.flags.c_contiguous


def _flat_frames() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(3)
    noise = np.clip(np.round(128 + rng.normal(0, 2, (72, 128))), 0, 255).astype(np.uint8)
    return {
        "grey": np.full((72, 128), 128, np.uint8),
        "black": np.zeros((72, 128), np.uint8),
        "white": np.full((72, 128), 255, np.uint8),
        "near-flat noise std 2": noise,
    }


@pytest.mark.parametrize("kind", list(_flat_frames()))
def test_flat_frames_get_low_quality(hasher: Hasher, kind: str) -> None:
    _, quality = hasher.hash_frames([_flat_frames()[kind]])
    assert quality[0] < hasher.min_quality


def test_real_photos_are_informative(hasher: Hasher) -> None:
    # The other side of the quality rule: real pictures are evidence.
    _, quality = hasher.hash_frames([photo_grey(name) for name in REENCODED])
    assert (quality >= hasher.min_quality).all(), quality


def test_unrelated_real_photos_stay_apart(hasher: Hasher) -> None:
    shared_media(f"photos/{REENCODED[0]}")  # skips when ../shared/media is absent
    assert len(PHOTOS) >= 10
    greys = [photo_grey(name) for name in PHOTOS]
    hashes, _ = hasher.hash_frames(greys)
    distances = hamming(hashes[:, None, :], hashes[None, :, :])
    too_close = [
        (PHOTOS[i], PHOTOS[j], int(distances[i, j]))
        for i, j in combinations(range(len(PHOTOS)), 2)
        if {PHOTOS[i], PHOTOS[j]} != HDR_PAIR and distances[i, j] <= threshold(hasher)
    ]
    assert not too_close


def test_same_scene_hdr_pair_matches(hasher: Hasher) -> None:
    no, yes = sorted(HDR_PAIR)
    assert dist(hasher, photo_grey(no), photo_grey(yes)) <= threshold(hasher)


# -- hamming ----------------------------------------------------------------------------------------


def _bits(a: bytes, b: bytes) -> int:
    return sum(bin(x ^ y).count("1") for x, y in zip(a, b, strict=True))


def test_hamming_exact_values_on_hand_made_bytes() -> None:
    zeros = np.zeros(8, np.uint8)
    ones = np.full(8, 0xFF, np.uint8)
    one_bit = np.array([0, 0, 0, 0, 0, 0, 0, 1], np.uint8)
    alternating = np.full(8, 0b10101010, np.uint8)
    assert int(hamming(zeros, zeros)) == 0
    assert int(hamming(zeros, ones)) == 64
    assert int(hamming(zeros, one_bit)) == 1
    assert int(hamming(one_bit, ones)) == 63
    assert int(hamming(alternating, ones)) == 32
    assert int(hamming(alternating, ~alternating)) == 64
    wide_a = np.zeros(32, np.uint8)
    wide_b = np.zeros(32, np.uint8)
    wide_b[[0, 13, 31]] = [0b1, 0b11, 0b10000000]
    assert int(hamming(wide_a, wide_b)) == 4


def test_hamming_broadcasts_over_leading_axes() -> None:
    rng = np.random.default_rng(4)
    a = rng.integers(0, 256, (3, 8), dtype=np.uint8)
    b = rng.integers(0, 256, (5, 8), dtype=np.uint8)
    table = hamming(a[:, None, :], b[None, :, :])
    assert table.shape == (3, 5)
    for i in range(3):
        for j in range(5):
            assert table[i, j] == _bits(a[i].tobytes(), b[j].tobytes())
    row = hamming(a, b[0])
    assert row.shape == (3,)
    assert row.tolist() == [_bits(x.tobytes(), b[0].tobytes()) for x in a]
    assert np.issubdtype(table.dtype, np.integer)
