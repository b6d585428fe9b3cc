"""Media file -> Fingerprints: one decode, every hasher."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .frames import sample_frames
from .hashing import Hasher
from .models import Fingerprint, Frame, MediaKind
from .settings import SamplingSettings


def fingerprint_frames(
    sha256: str, frames: Sequence[Frame], hashers: Sequence[Hasher], rate_hz: float
) -> list[Fingerprint]:
    times_ms = np.array([f.t_ms for f in frames], dtype=np.int32)
    greys = [f.grey for f in frames]
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
            )
        )
    return out


def fingerprint_media(
    path: Path, kind: MediaKind, sha256: str, hashers: Sequence[Hasher], opts: SamplingSettings
) -> list[Fingerprint]:
    """Sample the file's frames once and hash them with every hasher given."""
    frames = sample_frames(path, kind, opts)
    return fingerprint_frames(sha256, frames, hashers, opts.rate_hz)
