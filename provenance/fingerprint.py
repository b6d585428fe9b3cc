"""Media file -> Fingerprints: one decode, the content box found once, every hasher.

Each sampled frame is hashed on the central part of its content box (the footage without bars or
blurred fill).  Logos and captions mostly sit in the outer ring that this leaves out, and a copy
cropped by up to 10 % a side still contains all of it (the query side zooms to meet it: match.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .contentbox import crop, find_content_box
from .frames import sample_frames
from .hashing import Hasher
from .models import Box, Fingerprint, Frame, MediaKind
from .settings import SamplingSettings

# The share of the content box's width and height that is hashed for the index.  Part of the
# fingerprint recipe: changing it makes stored fingerprints incomparable (a new layout).
INDEX_FRACTION = 0.8


def region_greys(
    frames: Sequence[Frame], box: Box | None, fraction: float, *, mirrored: bool = False
) -> list[np.ndarray]:
    """The part of each frame that is hashed: the central ``fraction`` of the content box."""
    regions = [crop(f.grey, box, fraction) for f in frames]
    return [np.ascontiguousarray(r[:, ::-1]) for r in regions] if mirrored else regions


def fingerprint_frames(
    sha256: str, frames: Sequence[Frame], hashers: Sequence[Hasher], rate_hz: float
) -> list[Fingerprint]:
    times_ms = np.array([f.t_ms for f in frames], dtype=np.int32)
    box = find_content_box(frames)
    greys = region_greys(frames, box, INDEX_FRACTION)
    out = []
    for hasher in hashers:
        hashes, quality = hasher.hash_frames(greys)
        out.append(
            Fingerprint(
                sha256=sha256,
                hasher=hasher.name,
                rate_hz=rate_hz,
                times_ms=times_ms,
                hashes=hashes,
                quality=quality,
                content_box=box,
            )
        )
    return out


def fingerprint_media(
    path: Path, kind: MediaKind, sha256: str, hashers: Sequence[Hasher], opts: SamplingSettings
) -> list[Fingerprint]:
    """Sample the file's frames once and hash them with every hasher given."""
    frames = sample_frames(path, kind, opts)
    return fingerprint_frames(sha256, frames, hashers, opts.rate_hz)
