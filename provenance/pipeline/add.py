"""Adding local files: walk the inputs, stage, describe, fingerprint, record."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from .. import store
from ..errors import BadInputError, ProvenanceError
from ..frames import detect_kind
from ..hashing import Hasher
from ..models import AddResult, ErrorInfo, Progress
from .archive import Archive, OnEvent
from .ingest import Ingested, ingest_staged, stored_ext

# Files picked up when a folder is added; files named explicitly are always tried.
MEDIA_EXTENSIONS = {
    "3gp",
    "avi",
    "flv",
    "gif",
    "m2ts",
    "m4v",
    "mkv",
    "mov",
    "mp4",
    "mpeg",
    "mpg",
    "mts",
    "ogv",
    "ts",
    "webm",
    "wmv",
    "bmp",
    "heic",
    "heif",
    "jpeg",
    "jpg",
    "mpo",
    "png",
    "tif",
    "tiff",
    "webp",
}


def expand_inputs(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Files as given, folders walked for media files (sorted, hidden files skipped)."""
    out: list[Path] = []
    seen: set[Path] = set()
    for given in paths:
        path = Path(given)
        if path.is_dir():
            found = sorted(
                p
                for p in path.rglob("*")
                if p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
                and p.suffix.lower().lstrip(".") in MEDIA_EXTENSIONS
            )
            if not found:
                raise BadInputError(f"{path}: folder holds no video or photo files")
            out.extend(found)
        else:
            out.append(path)
    # The same file named twice (or inside a folder also given) is added once.
    unique = []
    for path in out:
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(path)
    return unique


def _prepare(
    archive: Archive, path: Path, hashers: Sequence[Hasher], stored: Mapping[str, Path]
) -> Ingested | AddResult:
    """Steps 1-4 of adding one file, safe to run in a worker thread (no catalog writes).

    ``stored`` maps the sha256 of media already in the catalog to their stored paths, so a file
    whose copy went missing from the archive is put back under the same name.
    """
    # 1. What it is, from headers only: refuse non-media before reading it all.
    kind = detect_kind(path)
    # 2. Its content address.
    sha256 = store.sha256_file(path)
    # 3. Already archived with every fingerprint, its file in place? Then only this source is new.
    if stored_ext(archive, sha256, hashers) is not None:
        return AddResult(path=str(path), status="exists", sha256=sha256, kind=kind)
    known = stored.get(sha256)
    ext = (
        known.suffix.lstrip(".") if known else store.safe_ext(path.name, "jpg" if kind == "image" else "mp4")
    )
    # 4. A verified copy in staging, described, fingerprinted and moved to its content address.
    with store.staged_copy(archive.root, path, sha256) as staged:
        return ingest_staged(archive, staged, kind, sha256, ext, hashers)


def _failed(path: Path, exc: ProvenanceError | OSError) -> AddResult:
    return AddResult(path=str(path), status="failed", error=ErrorInfo.of(exc))


def add_files(
    archive: Archive,
    paths: Iterable[str | os.PathLike[str]],
    *,
    jobs: int | None = None,
    on_event: OnEvent | None = None,
) -> Iterator[AddResult]:
    """Add files and folders to the archive; yield one result per file as each finishes.

    A file's failure never stops the others.  Each file is recorded in one transaction (step 7)
    after its bytes are in place, so a run killed at any point leaves no half-written rows.
    """
    files = expand_inputs(paths)
    hashers = archive.hashers()
    stored = {m.sha256: m.path for m in archive.catalog.list_media()}
    workers = max(1, jobs or archive.settings.batch.jobs)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures: list[tuple[Path, Future[Ingested | AddResult]]] = [
            (p, pool.submit(_prepare, archive, p, hashers, stored)) for p in files
        ]
        try:
            for done, (path, future) in enumerate(futures, start=1):
                result = _finish(archive, path, future, hashers, stored)
                if on_event:
                    on_event(Progress("add", done, len(files), str(path)))
                yield result
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


def _finish(
    archive: Archive,
    path: Path,
    future: Future[Ingested | AddResult],
    hashers: Sequence[Hasher],
    stored: Mapping[str, Path],
) -> AddResult:
    try:
        prepared = future.result()
    except (ProvenanceError, OSError) as exc:  # OSError: the disk, not the input (full, read-only)
        return _failed(path, exc)
    source = str(path.resolve())
    if isinstance(prepared, AddResult):
        archive.catalog.add_source(prepared.sha256, source)  # type: ignore[arg-type]
        return prepared
    media = prepared.media
    if media.sha256 not in stored and stored_ext(archive, media.sha256, hashers) is not None:
        # The same bytes under another name were recorded earlier in this run (workers run ahead of
        # this thread): this is one more source, and a second copy under another extension goes.
        recorded = archive.catalog.get_media(media.sha256)
        if recorded is not None and recorded.path != media.path:
            (archive.root / media.path).unlink(missing_ok=True)
        archive.catalog.add_source(media.sha256, source)
        return AddResult(path=str(path), status="exists", sha256=media.sha256, kind=media.kind)
    # 5. Record media, info, fingerprints and source in one transaction.
    archive.catalog.record_media(media, prepared.info, prepared.fingerprints, source)
    return AddResult(path=str(path), status="added", sha256=media.sha256, kind=media.kind)
