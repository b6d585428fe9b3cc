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
from ..frames import detect_kind, share_decoders
from ..hashing import Hasher
from ..models import ArchiveResult, Capture, ErrorInfo, Progress
from ..settings import SamplingSettings
from .archive import Archive, OnEvent
from .cluster import runner_for
from .clusters import then_match
from .ingest import Ingested, ingest_staged, stored_ext
from .measure import LOCAL, Runner
from .retry import Attempts, with_retries

_SAFE = re.compile(r"[^A-Za-z0-9_-]+")


@dataclass(frozen=True, slots=True)
class _Fetched:
    """A downloaded post with its files in place, ready to be recorded; ``intents`` note what was put
    in place (the media when new, the capture folder) until the catalog row is committed."""

    capture: Capture
    folder: str
    ingested: Ingested | None
    intents: tuple[Path, ...] = ()


def capture_folder(capture: Capture) -> Path:
    """captures/<extractor>-<hash of the capture id>/<captured at>: never from titles or raw ids."""
    extractor = _SAFE.sub("", capture.extractor or "url")[:32] or "url"
    digest = hashlib.sha256(capture.capture_id.encode("utf-8")).hexdigest()[:20]
    return Path("captures") / f"{extractor}-{digest}" / capture.captured_at.strftime("%Y%m%dT%H%M%S%fZ")


def _store_side_files(
    archive: Archive, capture: Capture, files: Sequence[Path], intents: list[Path]
) -> tuple[str, tuple]:
    """Move info.json, thumbnails and description into the capture folder; their SHA-256 for custody."""
    folder = capture_folder(capture)
    intents.append(store.write_intent(archive.root, folder))
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
    attempts: Attempts | None = None,
    runner: Runner = LOCAL,
    sampling: SamplingSettings | None = None,
) -> list[_Fetched | ArchiveResult]:
    """One URL: a post gives one outcome, a playlist or feed one per entry (worker thread).

    Every request to the site is tried again, with backoff, when it fails transiently; the tries
    are counted in ``attempts``.  Downloads run here; the media is measured by ``runner`` (here,
    or on a Dask worker reading the download in the archive's staging folder).
    """
    opts, policy = archive.settings.download, archive.settings.batch
    attempts = attempts or Attempts()
    job = _Job(hashers, refresh, on_event, attempts, runner, sampling or archive.settings.sampling)
    # 1. Which post is it? Asked of the page only, without downloading media.
    capture_id = with_retries(lambda: download.capture_id_for(url, opts), policy, attempts)
    if capture_id is None:  # a playlist or feed: each entry is a post and a capture of its own
        entries = with_retries(lambda: download.expand(url, opts), policy, attempts)
        return [_archive_entry(archive, entry, job) for entry in entries]
    return [_archive_post(archive, url, capture_id, job)]


@dataclass(frozen=True, slots=True)
class _Job:
    """What every post of one URL's job is archived with."""

    hashers: Sequence[Hasher]
    refresh: bool
    on_event: OnEvent | None
    attempts: Attempts
    runner: Runner
    sampling: SamplingSettings


def _archive_entry(archive: Archive, url: str, job: _Job) -> _Fetched | ArchiveResult:
    try:
        opts, policy = archive.settings.download, archive.settings.batch
        capture_id = with_retries(lambda: download.capture_id_for(url, opts), policy, job.attempts)
        return _archive_post(archive, url, capture_id or url, job)
    except Exception as exc:  # one entry's failure is that entry's result
        return _failed(url, exc)


def _archive_post(archive: Archive, url: str, capture_id: str, job: _Job) -> _Fetched | ArchiveResult:
    """Steps 2-6 for one post: files only, no catalog writes.  What it put in place before failing
    is removed again (unless the catalog has it), so a failed post leaves nothing behind."""
    hashers, attempts = job.hashers, job.attempts
    # 2. Captured before? Then nothing is downloaded (--refresh captures it again, beside the old one).
    if not job.refresh and Catalog.has_capture(archive.catalog.path, capture_id):
        return ArchiveResult(url=url, status="exists", capture_id=capture_id)
    workdir = store.staging_path(archive.root)
    intents: list[Path] = []
    try:
        # 3. Download into a staging folder (fixed file names; partial files die with the folder).
        progress = _bytes_progress(url, job.on_event)
        got = with_retries(
            lambda: download.fetch(url, workdir, archive.settings.download, on_event=progress),
            archive.settings.batch,
            attempts,
        )
        # 4. The media to its content address, described and fingerprinted (unless already archived).
        sha256 = store.sha256_file(got.media_path)
        ingested = None
        if stored_ext(archive, sha256, hashers) is None:
            kind = detect_kind(got.media_path)
            ext = store.safe_ext(got.media_path.name, "mp4")
            ingested = ingest_staged(
                archive,
                got.media_path,
                kind,
                sha256,
                ext,
                hashers,
                label=url,
                runner=job.runner,
                sampling=job.sampling,
            )
            intents.extend(ingested.intents)
        # 5. The platform's info.json, thumbnails and description, kept as given.
        capture = replace(got.capture, sha256=sha256)
        folder, files = _store_side_files(archive, capture, got.files, intents)
        # 6. The capture record, with the SHA-256 of every stored file (recorded by the caller).
        return _Fetched(replace(capture, files=files, folder=folder), folder, ingested, tuple(intents))
    except ProvenanceError as exc:
        archive.forget_unrecorded(intents)
        raise exc.about(workdir, url) from None
    except BaseException:
        archive.forget_unrecorded(intents)
        raise
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _failed(url: str, exc: BaseException) -> ArchiveResult:
    return ArchiveResult(url=url, status="failed", error=ErrorInfo.of(exc, url))


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
    try:
        if not refresh and archive.catalog.captures(capture_id=capture.capture_id):
            # The same post twice in one batch (two addresses of it): workers ran ahead of this thread.
            archive.forget_unrecorded(list(outcome.intents))
            return _from_catalog(archive, capture.capture_id, "exists", capture.url)
        archive.catalog.record_capture(capture, outcome.folder, outcome.ingested)
    except Exception as exc:  # e.g. the disk filled: this post fails, the batch goes on
        archive.forget_unrecorded(list(outcome.intents))
        return _failed(capture.url, exc)
    store.clear_intents(list(outcome.intents))
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
    dask: str | None = None,
) -> Iterator[ArchiveResult]:
    """Archive every URL; yield results in input order (a playlist yields one per entry).

    One URL's failure never stops the others.  The batch's jobs live in the catalog: run the same
    list again and finished URLs are reported from the catalog without asking the site again.
    ``dask`` (a scheduler address) has the cluster's workers describe and fingerprint each download,
    which they read in the archive's staging folder (the archive must be on a filesystem they share).
    Once every post is recorded, the new media are matched on this machine (with ``dask`` too) and
    their edges stored, as `add_files` does.
    """
    wanted = expand_urls(archive, urls)
    batch_id = batch_id_for(wanted)
    states = archive.catalog.open_batch(batch_id, wanted)
    hashers = archive.hashers()
    with runner_for(dask, archive.settings.batch) as runner:
        workers = max(1, jobs or runner.slots or archive.settings.batch.jobs)
        sampling = archive.settings.sampling if dask else share_decoders(archive.settings.sampling, workers)
        results = _run(
            archive, wanted, batch_id, states, workers, hashers, refresh, on_event, runner, sampling
        )
        # --jobs counts downloads (they wait on the site), not decoders: batch.jobs match.
        yield from then_match(archive, results, "archived", on_event=on_event)


def _run(
    archive: Archive,
    wanted: list[str],
    batch_id: str,
    states: dict[int, tuple[str, str | None]],
    workers: int,
    hashers: Sequence[Hasher],
    refresh: bool,
    on_event: OnEvent | None,
    runner: Runner,
    sampling: SamplingSettings,
) -> Iterator[ArchiveResult]:
    """Every URL's job on ``workers`` threads; what they fetched recorded in this one, in input order."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures: dict[int, tuple[Future[list[_Fetched | ArchiveResult]], Attempts]] = {}
        for position, url in enumerate(wanted):
            state, capture_id = states[position]
            if state == "done" and capture_id and not refresh:
                continue
            archive.catalog.set_job(batch_id, position, "running")
            attempts = Attempts()
            future = pool.submit(
                archive_one,
                archive,
                url,
                hashers,
                refresh=refresh,
                on_event=on_event,
                attempts=attempts,
                runner=runner,
                sampling=sampling,
            )
            futures[position] = (future, attempts)
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
    job: tuple[Future[list[_Fetched | ArchiveResult]], Attempts] | None,
    states: dict[int, tuple[str, str | None]],
    refresh: bool,
) -> list[ArchiveResult]:
    """Record what a worker fetched (main thread) and settle the job's state and its tries.

    A job keeps the capture ids of all it archived (a playlist has several, one per line), so a
    resumed batch reports every entry again from the catalog.  Whatever a job raises ends that job
    as `failed`, never the batch, and never leaves it `running`.
    """
    if job is None:  # done in an earlier run of this batch
        ids = (states[position][1] or "").splitlines()
        return [_from_catalog(archive, cid, "exists", url if len(ids) == 1 else None) for cid in ids]
    future, attempts = job
    try:
        results = [_result(archive, outcome, refresh) for outcome in future.result()]
    except Exception as exc:  # one URL's failure, whatever it is, is that URL's result
        results = [_failed(url, exc)]
    errors = [r.error for r in results if r.error is not None]
    if errors:
        archive.catalog.set_job(
            batch_id,
            position,
            "failed",
            error_kind=errors[0].kind,
            error_message=errors[0].message,
            attempts=attempts.count,
        )
    else:
        ids = "\n".join(r.capture_id for r in results if r.capture_id)
        archive.catalog.set_job(batch_id, position, "done", capture_id=ids or None, attempts=attempts.count)
    if len(results) == 1:  # a single post is reported under the address it was asked by
        results = [replace(results[0], url=url)]
    return results
