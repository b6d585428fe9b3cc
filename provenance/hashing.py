"""Frame hashers: one literal registry, HASHERS, whose names are stored in the catalog.

A hash is stored as packed bits (``bits // 8`` bytes per frame) with a quality 0-100.  The name
carries the size and the recipe: changing any parameter (size, resize filter, quality rule) means a
new name, because hashes made by different recipes must never be compared.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from .errors import MissingExtraError

HashFrames = Callable[[Sequence[np.ndarray]], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True, slots=True)
class Hasher:
    """A perceptual hash of grey frames.

    ``hash_frames(greys) -> (hashes uint8 (n, bits // 8), quality uint8 (n,))``.  Frames with
    quality below ``min_quality`` carry too little picture to be evidence (flat, black, fades).
    """

    name: str
    bits: int
    min_quality: int
    extra: str | None
    hash_frames: HashFrames

    @property
    def available(self) -> bool:
        return self.extra is None or _optional(self.extra) is not None


def _optional(extra: str) -> Any:
    try:
        return __import__(_EXTRA_MODULES[extra])
    except ImportError:
        return None


_EXTRA_MODULES = {"pdq": "pdqhash"}


def _contrast_quality(grey: np.ndarray) -> int:
    # The standard deviation of grey levels: 0 for a flat frame, ~50-70 for a busy natural scene.
    # 32 or more is full quality; the pHash floor (20) is a std of ~6.4, below which the DCT signs
    # that make the hash are decided by compression noise rather than by the picture.
    return int(min(100.0, float(grey.std()) * 100.0 / 32.0))


def _phash64(greys: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    import imagehash  # with SciPy: loaded when frames are hashed, not by every command's start-up

    hashes = np.zeros((len(greys), 8), dtype=np.uint8)
    quality = np.zeros(len(greys), dtype=np.uint8)
    for i, grey in enumerate(greys):
        bits = imagehash.phash(Image.fromarray(grey), hash_size=8).hash
        hashes[i] = np.packbits(bits.reshape(-1))
        quality[i] = _contrast_quality(grey)
    return hashes, quality


def _pdq256(greys: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    pdqhash = _optional("pdq")
    if pdqhash is None:
        raise MissingExtraError("the pdq256 hasher needs pdqhash", hint="pip install 'provenance[pdq]'")
    hashes = np.zeros((len(greys), 32), dtype=np.uint8)
    quality = np.zeros(len(greys), dtype=np.uint8)
    for i, grey in enumerate(greys):
        rgb = np.ascontiguousarray(np.repeat(grey[:, :, None], 3, axis=2))
        bits, pdq_quality = pdqhash.compute(rgb)
        hashes[i] = np.packbits(bits.astype(np.uint8))
        # PDQ's own quality (gradient energy) and flatness both cap the quality: PDQ rates some
        # near-flat frames highly when a little compression noise is all there is.
        quality[i] = min(int(pdq_quality), _contrast_quality(grey))
    return hashes, quality


PHASH64 = Hasher(name="phash64", bits=64, min_quality=20, extra=None, hash_frames=_phash64)
# PDQ's reference implementation treats quality < 50 as too weak to match on (vPDQ uses the same floor).
PDQ256 = Hasher(name="pdq256", bits=256, min_quality=50, extra="pdq", hash_frames=_pdq256)

HASHERS: dict[str, Hasher] = {"phash64": PHASH64, "pdq256": PDQ256}

# PDQ of the whole decoded frame: the recipe of vPDQ and of PDQ photo hashes (ThreatExchange, HMA).
# Archived media are hashed inside their content box (fingerprint.py), which puts them 100-130 bits
# away from the same frames hashed whole, so this recipe has its own name and is kept out of
# HASHERS: it is made only for and from exchanged hash lists (hashlists.py), never configured.
PDQ256_FRAME = Hasher(name="pdq256-frame", bits=256, min_quality=50, extra="pdq", hash_frames=_pdq256)
FOREIGN_HASHERS: dict[str, Hasher] = {"pdq256-frame": PDQ256_FRAME}


def any_hasher(name: str) -> Hasher | None:
    """A hasher by its stored name, configurable or foreign."""
    return HASHERS.get(name) or FOREIGN_HASHERS.get(name)


def hamming(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Bit distance between packed hashes; broadcasts like ``a ^ b`` over leading axes."""
    return np.bitwise_count(np.bitwise_xor(a, b)).sum(axis=-1, dtype=np.int32)
