"""Media file -> Fingerprints: one decode, the content box found once, every hasher.

Each sampled frame is hashed on the central part of its content box (the footage without bars or
blurred fill).  Logos and captions mostly sit in the outer ring that this leaves out, and a copy
cropped by up to 10 % a side still contains all of it (the query side zooms to meet it: match.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .contentbox import crop, find_content_box
from .frames import chunks, sample_frames
from .hashing import Hasher
from .models import Box, Fingerprint, Frame, MediaKind
from .settings import SamplingSettings

# The share of the content box's width and height that is hashed for the index.  Part of the
# fingerprint recipe: changing it makes stored fingerprints incomparable (a new layout).
INDEX_FRACTION = 0.8


def region_greys(
    frames: Sequence[Frame], box: Box | None, fraction: float, *, mirrored: bool = False, turns: int = 0
) -> list[np.ndarray]:
    """The part of each frame that is hashed: the central ``fraction`` of the content box, mirrored
    left-right and then turned ``turns`` quarter turns counter-clockwise when asked."""
    regions = [crop(f.grey, box, fraction) for f in frames]
    if mirrored:
        regions = [r[:, ::-1] for r in regions]
    if turns % 4:
        regions = [np.rot90(r, turns) for r in regions]
    return [np.ascontiguousarray(r) for r in regions] if mirrored or turns % 4 else regions


class View(NamedTuple):
    """A view of the frames that is hashed: the share of the content box's width and height, and
    whether the region is mirrored and turned (quarter turns counter-clockwise) before hashing;
    ``box``, when given, is hashed instead of the content box (an inset: inset.py), and ``whole``
    hashes each frame whole instead (bars and fill included)."""

    fraction: float
    mirrored: bool = False
    turns: int = 0
    box: Box | None = None
    whole: bool = False


# Frames are read and cropped this many at a time, for every view and hasher at once: a buffer of
# frames on disk is read once, and no more than a chunk of regions is ever held.
CHUNK_FRAMES = 256


def hash_views(
    frames: Sequence[Frame], box: Box | None, hashers: Sequence[Hasher], views: Sequence[View]
) -> tuple[np.ndarray, dict[tuple[str, View], tuple[np.ndarray, np.ndarray]]]:
    """The frames' times (ms), and for each (hasher name, view) their hashes and qualities."""
    times: list[np.ndarray] = []
    parts: dict[tuple[str, View], list[tuple[np.ndarray, np.ndarray]]] = {
        (hasher.name, view): [] for hasher in hashers for view in views
    }
    for chunk in chunks(frames, CHUNK_FRAMES):
        times.append(np.array([f.t_ms for f in chunk], dtype=np.int32))
        for view in views:
            shown = View(*view)
            region = None if shown.whole else shown.box or box
            greys = region_greys(chunk, region, shown.fraction, mirrored=shown.mirrored, turns=shown.turns)
            for hasher in hashers:
                parts[(hasher.name, view)].append(hasher.hash_frames(greys))
    hashed = {}
    for key, found in parts.items():
        size = next(h.bits for h in hashers if h.name == key[0]) // 8
        hashes = np.concatenate([h for h, _ in found]) if found else np.zeros((0, size), np.uint8)
        quality = np.concatenate([q for _, q in found]) if found else np.zeros(0, np.uint8)
        hashed[key] = (hashes, quality)
    return (np.concatenate(times) if times else np.zeros(0, np.int32)), hashed


def fingerprint_frames(
    sha256: str, frames: Sequence[Frame], hashers: Sequence[Hasher], rate_hz: float
) -> list[Fingerprint]:
    box = find_content_box(frames)
    view = View(INDEX_FRACTION)
    times_ms, hashed = hash_views(frames, box, hashers, [view])
    return [
        Fingerprint(
            sha256=sha256,
            hasher=hasher.name,
            rate_hz=rate_hz,
            times_ms=times_ms,
            hashes=hashed[(hasher.name, view)][0],
            quality=hashed[(hasher.name, view)][1],
            content_box=box,
        )
        for hasher in hashers
    ]


def fingerprint_media(
    path: Path, kind: MediaKind, sha256: str, hashers: Sequence[Hasher], opts: SamplingSettings
) -> list[Fingerprint]:
    """Sample the file's frames once and hash them with every hasher given."""
    frames = sample_frames(path, kind, opts)
    return fingerprint_frames(sha256, frames, hashers, opts.rate_hz)
