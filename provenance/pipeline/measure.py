"""The per-item heavy work of adding a file (probing, decoding, hashing), and where it runs.

`measure` touches no archive and no catalog, so it can run in a worker thread or on a Dask worker
(cluster.py); a `Runner` says which.  Moving files into the archive and writing the catalog stay
with the caller.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ..exif import read_exif
from ..fingerprint import fingerprint_frames
from ..frames import sample_frames
from ..hashing import HASHERS
from ..models import Fingerprint, MediaInfo, MediaKind
from ..probe import probe_media
from ..settings import SamplingSettings


@dataclass(frozen=True, slots=True)
class Measured:
    """What is measured on one file's bytes: its description and one fingerprint per hasher."""

    info: MediaInfo
    fingerprints: tuple[Fingerprint, ...]


def describe(path: Path, kind: str, sha256: str) -> MediaInfo:
    """What the file says about itself: container tags for videos, EXIF for photos."""
    return read_exif(path, sha256) if kind == "image" else probe_media(path, sha256)


def measure(
    path: Path, kind: MediaKind, sha256: str, sampling: SamplingSettings, hasher_names: tuple[str, ...]
) -> Measured:
    """Describe and fingerprint one file.  Hashers go by their stored names: what crosses to another
    process is plain data, the functions are this package's own on either side."""
    hashers = [HASHERS[name] for name in hasher_names]
    info = describe(path, kind, sha256)
    frames = sample_frames(path, kind, sampling)
    return Measured(info, tuple(fingerprint_frames(sha256, frames, hashers, sampling.rate_hz)))


class Runner(Protocol):
    """Where `measure` runs.  ``reads_inputs``: it reads the file where the caller has it (the input
    as given, a download in staging) rather than the caller's private staged copy.  ``slots``: how
    many items it measures at once (None: as many as the batch's threads, `--jobs`)."""

    reads_inputs: bool

    @property
    def slots(self) -> int | None: ...

    def measure(
        self,
        path: Path,
        kind: MediaKind,
        sha256: str,
        sampling: SamplingSettings,
        hasher_names: tuple[str, ...],
    ) -> Measured: ...


class _Here:
    """In the calling thread (the default: the batch's own thread pool gives the parallelism)."""

    reads_inputs = False
    slots = None

    def measure(
        self,
        path: Path,
        kind: MediaKind,
        sha256: str,
        sampling: SamplingSettings,
        hasher_names: tuple[str, ...],
    ) -> Measured:
        return measure(path, kind, sha256, sampling, hasher_names)


LOCAL: Runner = _Here()
