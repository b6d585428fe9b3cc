"""Adding local files: walk the inputs, stage, describe, fingerprint, record."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from .. import store
from ..errors import BadInputError
from ..frames import detect_kind, share_decoders
from ..hashing import Hasher
from ..models import AddResult, ArchivedMedia, ErrorInfo, Progress
from ..settings import SamplingSettings
from .archive import Archive, OnEvent
from .cluster import runner_for
from .clusters import then_match
from .ingest import Ingested, ingest_staged, stored_ext
from .measure import Runner

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


def _walk(folder: Path) -> Iterator[Path | AddResult]:
    """Media files under a folder, sorted, hidden ones skipped; a subfolder that cannot be read is a
    failed result (never skipped without a word).  Links to folders are not followed (no loops)."""
    failures: list[OSError] = []
    found: list[Path] = []
    for top, dirs, names in os.walk(folder, onerror=failures.append, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found.extend(
            Path(top) / n
            for n in names
            if not n.startswith(".") and Path(n).suffix.lower().lstrip(".") in MEDIA_EXTENSIONS
        )
    for failure in failures:
        where = store.display_path(failure.filename or folder)
        yield _failed(where, BadInputError(f"{where}: cannot read folder ({failure.strerror or failure})"))
    files = sorted(p for p in found if os.path.isfile(p))
    if not files and not failures:
        shown = store.display_path(folder)
        yield _failed(shown, BadInputError(f"{shown}: folder holds no video or photo files"))
    yield from files


def expand_inputs(paths: Iterable[str | os.PathLike[str]]) -> list[Path | AddResult]:
    """Files as given and folders walked for media files, in order; the same file named twice (or
    inside a folder also given) once.  Inputs that cannot be used as such (a folder that cannot be
    read or holds no media) come as failed results in their place, so the others still go ahead."""
    out: list[Path | AddResult] = []
    seen: set[str] = set()
    for given in paths:
        path = Path(given)
        for item in _walk(path) if path.is_dir() else [path]:
            if isinstance(item, AddResult):
                out.append(item)
                continue
            key = os.path.realpath(item)  # never raises, a symlink loop included
            if key not in seen:
                seen.add(key)
                out.append(item)
    return out


def _prepare(
    archive: Archive,
    path: Path,
    hashers: Sequence[Hasher],
    stored: Mapping[str, ArchivedMedia],
    refresh: bool,
    runner: Runner,
    sampling: SamplingSettings,
) -> Ingested | AddResult:
    """Steps 1-4 of adding one file, safe to run in a worker thread (no catalog writes).

    ``stored`` maps the sha256 of media already in the catalog to what it holds of them, so a file
    whose copy went missing from the archive is put back under the same name, and a record made
    while a reader was missing (a HEIC photo taken for a video without the [heic] extra) is made anew.
    """
    shown = store.display_path(path)
    # 1. What it is, from headers only: refuse non-media before reading it all.
    kind = detect_kind(path)
    # 2. Its content address.
    sha256 = store.sha256_file(path)
    # 3. Already archived with every fingerprint, its file in place? Then only this source is new.
    known = stored.get(sha256)
    same_kind = known is None or known.kind == kind
    if not refresh and same_kind and stored_ext(archive, sha256, hashers) is not None:
        return AddResult(path=shown, status="exists", sha256=sha256, kind=kind)
    ext = (
        known.path.suffix.lstrip(".")
        if known
        else store.safe_ext(path.name, "jpg" if kind == "image" else "mp4")
    )
    # 4. A verified copy in staging, described, fingerprinted (here, or by a Dask worker reading the
    #    input itself) and moved to its content address.
    with store.staged_copy(archive.root, path, sha256) as staged:
        source = path if runner.reads_inputs else None
        return ingest_staged(
            archive,
            staged,
            kind,
            sha256,
            ext,
            hashers,
            label=shown,
            runner=runner,
            source=source,
            sampling=sampling,
        )


def _failed(shown: str, exc: BaseException) -> AddResult:
    return AddResult(path=shown, status="failed", error=ErrorInfo.of(exc, shown))


def add_files(
    archive: Archive,
    paths: Iterable[str | os.PathLike[str]],
    *,
    jobs: int | None = None,
    refresh: bool = False,
    on_event: OnEvent | None = None,
    dask: str | None = None,
) -> Iterator[AddResult]:
    """Add files and folders to the archive; yield one result per file as each finishes.

    Nothing one file does stops the others: any failure, ours or the disk's, becomes that file's
    `failed` result.  Each file is recorded in one transaction (step 5) after its bytes are in place;
    bytes whose row is never committed are removed (here, or by the next run after a kill), so no
    run leaves media without a row.  ``refresh`` describes and fingerprints archived files again.

    ``jobs`` files are worked on at once, each decoded with its share of the CPUs.  ``dask`` (a
    scheduler address) has the cluster's workers describe and fingerprint the files, which they
    read at the same paths; ``jobs`` then defaults to the cluster's task slots.  Copying into the
    archive and the catalog stay here.

    Once every file is recorded, the media added are matched against the archive on ``jobs``
    threads of this machine (with ``dask`` too) and their edges stored (`clusters.match_added`,
    unless ``batch.match_on_add`` is off), reported as "match" progress: two copies added in one
    batch are both in the index by then, so their pair is found (a caller that stops taking results
    early leaves that to `clusters`).
    """
    items = expand_inputs(paths)
    hashers = archive.hashers()
    stored = {m.sha256: m for m in archive.catalog.list_media()}
    with runner_for(dask, archive.settings.batch) as runner:
        workers = max(1, jobs or runner.slots or archive.settings.batch.jobs)
        # A Dask worker shares its CPUs among its own task slots (cluster.measure_on_worker).
        sampling = archive.settings.sampling if dask else share_decoders(archive.settings.sampling, workers)
        results = _run(archive, items, workers, hashers, stored, refresh, runner, sampling, on_event)
        yield from then_match(archive, results, "added", jobs=None if dask else jobs, on_event=on_event)


def _run(
    archive: Archive,
    items: list[Path | AddResult],
    workers: int,
    hashers: Sequence[Hasher],
    stored: Mapping[str, ArchivedMedia],
    refresh: bool,
    runner: Runner,
    sampling: SamplingSettings,
    on_event: OnEvent | None,
) -> Iterator[AddResult]:
    """Steps 1-4 of every file on ``workers`` threads, step 5 in this one, results in input order."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures: list[AddResult | tuple[Path, Future[Ingested | AddResult]]] = [
            item
            if isinstance(item, AddResult)
            else (item, pool.submit(_prepare, archive, item, hashers, stored, refresh, runner, sampling))
            for item in items
        ]
        try:
            for done, entry in enumerate(futures, start=1):
                result = entry if isinstance(entry, AddResult) else _finish(archive, *entry, hashers, stored)
                if on_event:
                    on_event(Progress("add", done, len(items), result.path))
                yield result
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


def _finish(
    archive: Archive,
    path: Path,
    future: Future[Ingested | AddResult],
    hashers: Sequence[Hasher],
    stored: Mapping[str, ArchivedMedia],
) -> AddResult:
    shown = store.display_path(path)
    try:
        prepared = future.result()
    except Exception as exc:  # one file's failure, whatever it is, is that file's result
        return _failed(shown, exc)
    try:
        return _record(archive, path, prepared, hashers, stored)
    except Exception as exc:  # e.g. the disk filled: what this file put in place goes
        if isinstance(prepared, Ingested):
            archive.forget_unrecorded(list(prepared.intents))
        return _failed(shown, exc)


def _record(
    archive: Archive,
    path: Path,
    prepared: Ingested | AddResult,
    hashers: Sequence[Hasher],
    stored: Mapping[str, ArchivedMedia],
) -> AddResult:
    shown, source = store.display_path(path), store.display_path(os.path.realpath(path))
    if isinstance(prepared, AddResult):
        archive.catalog.add_source(prepared.sha256, source)  # type: ignore[arg-type]
        return prepared
    media = prepared.media
    known = stored.get(media.sha256)
    if known is None and stored_ext(archive, media.sha256, hashers) is not None:
        # The same bytes under another name were recorded earlier in this run (workers run ahead of
        # this thread): this is one more source, and a second copy under another extension goes.
        archive.forget_unrecorded(list(prepared.intents))
        archive.catalog.add_source(media.sha256, source)
        return AddResult(path=shown, status="exists", sha256=media.sha256, kind=media.kind)
    # 5. Record media, info, fingerprints and source in one transaction (anew when it was known).
    archive.catalog.record_media(
        media, prepared.info, prepared.fingerprints, source, replace=known is not None
    )
    store.clear_intents(list(prepared.intents))
    return AddResult(path=shown, status="added", sha256=media.sha256, kind=media.kind)
