"""One media file into the archive: describe, fingerprint, move to its content address.

Shared by `add` (local files) and `archive` (downloads).  Runs in worker threads: it writes files
but never the catalog; the caller records the returned `Ingested` in one transaction.  The heavy
part, `measure` (probing, decoding, hashing), runs where a `Runner` puts it: here, or on a Dask
worker (cluster.py); moving the file into the archive always happens here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .. import store
from ..catalog import Catalog
from ..errors import ProvenanceError
from ..hashing import Hasher
from ..models import Fingerprint, MediaFile, MediaInfo, MediaKind
from ..settings import SamplingSettings
from .archive import Archive
from .measure import LOCAL, Runner


@dataclass(frozen=True, slots=True)
class Ingested:
    """A media file in place in the archive, with what was measured on it, not yet in the catalog.

    ``intents`` are the staging notes of what was put in place: the caller clears them once the
    catalog row is committed, or has `Archive.forget_unrecorded` undo them when it is not.
    """

    media: MediaFile
    info: MediaInfo
    fingerprints: tuple[Fingerprint, ...]
    intents: tuple[Path, ...] = ()


def stored_ext(archive: Archive, sha256: str, hashers: Sequence[Hasher]) -> str | None:
    """Is this media archived and complete? Returns None when it must be (re)ingested: new, missing a
    fingerprint, or its file gone from the archive (re-adding the bytes then puts it back).  Else the
    extension it is stored under."""
    rel = Catalog.complete_media_path(
        archive.catalog.path, sha256, [h.name for h in hashers], archive.settings.sampling.rate_hz
    )
    if rel is None or not (archive.root / rel).is_file():
        return None
    return rel.suffix.lstrip(".")


def ingest_staged(
    archive: Archive,
    staged: Path,
    kind: MediaKind,
    sha256: str,
    ext: str,
    hashers: Sequence[Hasher],
    *,
    label: str,
    runner: Runner = LOCAL,
    source: Path | None = None,
    sampling: SamplingSettings | None = None,
) -> Ingested:
    """Describe and fingerprint a verified file in staging, then move it to its content address.

    What is measured is exactly the bytes that are kept: the staged copy, or ``source`` when the
    runner reads files elsewhere (a Dask worker reads the input as given, and checks its SHA-256
    first).  A file that cannot be described or decoded raises before anything is moved, so bad
    input never enters the archive; its error names ``label`` (the file or URL as the user gave
    it), not the staging copy.  ``sampling`` defaults to the archive's (add passes its decoder share).
    """
    measured_path = source or staged
    names = tuple(h.name for h in hashers)
    try:
        measured = runner.measure(measured_path, kind, sha256, sampling or archive.settings.sampling, names)
    except ProvenanceError as exc:
        raise exc.about(measured_path, label) from None
    info, fingerprints = measured.info, measured.fingerprints
    size_bytes = staged.stat().st_size
    note = store.write_intent(archive.root, store.media_relpath(sha256, ext))
    try:
        rel = store.commit_media(archive.root, staged, sha256, ext)
    except BaseException:
        archive.forget_unrecorded([note])
        raise
    media = MediaFile(sha256=sha256, path=rel, size_bytes=size_bytes, kind=kind, ext=ext)
    return Ingested(media, info, fingerprints, (note,))
