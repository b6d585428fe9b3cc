"""Archiving from the web: URL -> download -> media in the archive + a capture record.

`archive_one` is the whole job for one URL, as numbered steps.  `archive_urls` runs a batch on
worker threads with its jobs in the catalog, so a killed batch started again skips what is done
(without asking the site again: the post may be gone by then) and retries the rest.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

from .. import download, store
from ..catalog import Catalog
from ..custody.capture import after_capture
from ..errors import ProvenanceError
from ..frames import detect_kind
from ..hashing import Hasher
from ..models import ArchiveResult, Capture, ErrorInfo, Progress
from .archive import Archive, OnEvent
from .ingest import Ingested, ingest_staged, stored_ext

_SAFE = re.compile(r"[^A-Za-z0-9_-]+")


@dataclass(frozen=True, slots=True)
class _Fetched:
    """A downloaded post with its files in place, ready to be recorded."""

    capture: Capture
    folder: str
    ingested: Ingested | None


def capture_folder(capture: Capture) -> Path:
    """captures/<extractor>-<hash of the capture id>/<captured at>: never from titles or raw ids."""
    extractor = _SAFE.sub("", capture.extractor or "url")[:32] or "url"
    digest = hashlib.sha256(capture.capture_id.encode("utf-8")).hexdigest()[:20]
    return Path("captures") / f"{extractor}-{digest}" / capture.captured_at.strftime("%Y%m%dT%H%M%S%fZ")


def _store_side_files(archive: Archive, capture: Capture, files: Sequence[Path]) -> tuple[str, tuple]:
    """Move info.json, thumbnails and description into the capture folder; their SHA-256 for custody."""
    folder = capture_folder(capture)
    target = archive.root / folder
    kept = []
    for path in files:
        kept.append((path.name, store.sha256_file(path)))
        store.write_atomic(target / path.name, path.read_bytes())
    return str(folder), tuple(kept)


def archive_one(
    archive: Archive,
    url: str,
    hashers: Sequence[Hasher],
    *,
    refresh: bool = False,
    on_event: OnEvent | None = None,
) -> list[_Fetched | ArchiveResult]:
    """One URL: a post gives one outcome, a playlist or feed one per entry (worker thread)."""
    opts = archive.settings.download
    # 1. Which post is it? Asked of the page only, without downloading media.
    capture_id = download.capture_id_for(url, opts)
    if capture_id is None:  # a playlist or feed: each entry is a post and a capture of its own
        return [
            _archive_entry(archive, entry, hashers, refresh, on_event) for entry in download.expand(url, opts)
        ]
    return [_archive_post(archive, url, capture_id, hashers, refresh, on_event)]


def _archive_entry(
    archive: Archive, url: str, hashers: Sequence[Hasher], refresh: bool, on_event: OnEvent | None
) -> _Fetched | ArchiveResult:
    try:
        capture_id = download.capture_id_for(url, archive.settings.download)
        return _archive_post(archive, url, capture_id or url, hashers, refresh, on_event)
    except (ProvenanceError, OSError) as exc:
        return _failed(url, exc)


def _archive_post(
    archive: Archive,
    url: str,
    capture_id: str,
    hashers: Sequence[Hasher],
    refresh: bool,
    on_event: OnEvent | None,
) -> _Fetched | ArchiveResult:
    """Steps 2-6 for one post: files only, no catalog writes."""
    # 2. Captured before? Then nothing is downloaded (--refresh captures it again, beside the old one).
    if not refresh and Catalog.has_capture(archive.catalog.path, capture_id):
        return ArchiveResult(url=url, status="exists", capture_id=capture_id)
    workdir = store.staging_path(archive.root)
    try:
        # 3. Download into a staging folder (fixed file names; partial files die with the folder).
        got = download.fetch(url, workdir, archive.settings.download, on_event=_bytes_progress(url, on_event))
        # 4. The media to its content address, described and fingerprinted (unless already archived).
        sha256 = store.sha256_file(got.media_path)
        ingested = None
        if stored_ext(archive, sha256, hashers) is None:
            kind = detect_kind(got.media_path)
            ext = store.safe_ext(got.media_path.name, "mp4")
            ingested = ingest_staged(archive, got.media_path, kind, sha256, ext, hashers)
        # 5. The platform's info.json, thumbnails and description, kept as given.
        capture = replace(got.capture, sha256=sha256)
        folder, files = _store_side_files(archive, capture, got.files)
        # 6. The capture record, with the SHA-256 of every stored file (recorded by the caller).
        return _Fetched(replace(capture, files=files, folder=folder), folder, ingested)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _failed(url: str, exc: ProvenanceError | OSError) -> ArchiveResult:
    return ArchiveResult(url=url, status="failed", error=ErrorInfo.of(exc))


def _bytes_progress(url: str, on_event: OnEvent | None):  # type: ignore[no-untyped-def]
    if on_event is None:
        return None
    return lambda p: on_event(Progress("download", p.downloaded_bytes, p.total_bytes, url))


def batch_id_for(urls: Sequence[str]) -> str:
    """The same list of URLs is the same batch: running it again resumes it."""
    return hashlib.sha256("\n".join(urls).encode("utf-8")).hexdigest()[:32]


def expand_urls(archive: Archive, urls: Sequence[str]) -> list[str]:
    """Inputs as given, de-duplicated; playlists are expanded later, per URL, by `archive_urls`."""
    return list(dict.fromkeys(u.strip() for u in urls if u.strip()))


def _result(archive: Archive, outcome: _Fetched | ArchiveResult, refresh: bool) -> ArchiveResult:
    """Record a fetched post (main thread); a post already recorded meanwhile is reported as such."""
    if isinstance(outcome, ArchiveResult):
        if outcome.status != "exists" or outcome.capture_id is None:
            return outcome
        return _from_catalog(archive, outcome.capture_id, "exists", outcome.url)
    capture = outcome.capture
    if not refresh and archive.catalog.captures(capture_id=capture.capture_id):
        # The same post twice in one batch (two addresses of it): workers ran ahead of this thread.
        shutil.rmtree(archive.root / outcome.folder, ignore_errors=True)
        return _from_catalog(archive, capture.capture_id, "exists", capture.url)
    archive.catalog.record_capture(capture, outcome.folder, outcome.ingested)
    after_capture(archive, capture)  # custody: keep the page, time-stamp (when configured)
    return _from_catalog(archive, capture.capture_id, "archived", capture.url)


def _from_catalog(archive: Archive, capture_id: str, status: str, url: str | None = None) -> ArchiveResult:
    captures = archive.catalog.captures(capture_id=capture_id)
    capture = captures[-1] if captures else None
    shown = url or (capture.url if capture else capture_id)
    return ArchiveResult(url=shown, status=status, capture_id=capture_id, capture=capture)  # type: ignore[arg-type]


def archive_urls(
    archive: Archive,
    urls: Sequence[str],
    *,
    jobs: int | None = None,
    refresh: bool = False,
    on_event: OnEvent | None = None,
) -> Iterator[ArchiveResult]:
    """Archive every URL; yield results in input order (a playlist yields one per entry).

    One URL's failure never stops the others.  The batch's jobs live in the catalog: run the same
    list again and finished URLs are reported from the catalog without asking the site again.
    """
    wanted = expand_urls(archive, urls)
    batch_id = batch_id_for(wanted)
    states = archive.catalog.open_batch(batch_id, wanted)
    hashers = archive.hashers()
    workers = max(1, jobs or archive.settings.batch.jobs)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures: dict[int, Future[list[_Fetched | ArchiveResult]]] = {}
        for position, url in enumerate(wanted):
            state, capture_id = states[position]
            if state == "done" and capture_id and not refresh:
                continue
            archive.catalog.set_job(batch_id, position, "running")
            futures[position] = pool.submit(
                archive_one, archive, url, hashers, refresh=refresh, on_event=on_event
            )
        try:
            for done, (position, url) in enumerate(enumerate(wanted), start=1):
                yield from _collect(archive, batch_id, position, url, futures.get(position), states, refresh)
                if on_event:
                    on_event(Progress("archive", done, len(wanted), url))
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


def _collect(
    archive: Archive,
    batch_id: str,
    position: int,
    url: str,
    future: Future[list[_Fetched | ArchiveResult]] | None,
    states: dict[int, tuple[str, str | None]],
    refresh: bool,
) -> list[ArchiveResult]:
    """Record what a worker fetched (main thread) and settle the job's state.

    A job keeps the capture ids of all it archived (a playlist has several, one per line), so a
    resumed batch reports every entry again from the catalog.
    """
    if future is None:  # done in an earlier run of this batch
        ids = (states[position][1] or "").splitlines()
        return [_from_catalog(archive, cid, "exists", url if len(ids) == 1 else None) for cid in ids]
    try:
        results = [_result(archive, outcome, refresh) for outcome in future.result()]
    except (ProvenanceError, OSError) as exc:
        failed = _failed(url, exc)
        error_kind, message = failed.error.kind, failed.error.message  # type: ignore[union-attr]
        archive.catalog.set_job(batch_id, position, "failed", error_kind=error_kind, error_message=message)
        return [failed]
    errors = [r.error for r in results if r.error is not None]
    if errors:
        archive.catalog.set_job(
            batch_id, position, "failed", error_kind=errors[0].kind, error_message=errors[0].message
        )
    else:
        ids = "\n".join(r.capture_id for r in results if r.capture_id)
        archive.catalog.set_job(batch_id, position, "done", capture_id=ids or None)
    if len(results) == 1:  # a single post is reported under the address it was asked by
        results = [replace(results[0], url=url)]
    return results
