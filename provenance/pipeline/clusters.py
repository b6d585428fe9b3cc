"""Clusters over the archive: every archived media matched against the index, grouped, put in order.

Matching a media means decoding it again, so its matches are stored in the catalog as edges (rule 8:
derived, rebuildable) under a key of the settings that shape them, once: `add` and `archive` match
what they recorded at the end of their batch (`match_added`), and clusters are the connected
components of the stored edges.  A media is matched again only when it is new or re-fingerprinted,
or the settings changed: a pair of media is covered by the one matched later, whose run searched an
index holding both.  Whatever is missing (``--no-match``, a kill) is matched by the next reader.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from ..match import MATCHER_VERSION
from ..models import (
    AddResult,
    Appearance,
    ArchivedMedia,
    ArchiveResult,
    Cluster,
    Fingerprint,
    Match,
    OtherTime,
    Progress,
    Timestamp,
)
from ..settings import settings_key
from ..timeline import PairMatches, build_cluster, connected_groups
from .archive import Archive, OnEvent
from .imported import (
    Searchable,
    decode_query,
    frame_checkpoint,
    imported_appearances,
    match_decoded,
    match_prints,
    matchable_ids,
    searchable,
    stored_prints,
)
from .query import Target, find_matches, resolve_target

logger = logging.getLogger(__name__)

# What `add_files` and `archive_urls` yield.
Result = TypeVar("Result", AddResult, ArchiveResult)


def match_key(archive: Archive) -> str:
    """Which matcher and settings the cached matches were made with."""
    return settings_key(archive.settings.match, archive.settings.sampling, version=MATCHER_VERSION)


def _match_one(
    archive: Archive,
    media: ArchivedMedia,
    where: Searchable,
    prints: dict[str, Fingerprint] | None,
    jobs: int,
) -> list[Match]:
    """Match one archived media against the indexes (worker thread, no catalog access): decoded when
    it has a file (one of ``jobs`` at once), by its stored hashes (``prints``) when it was imported."""
    if prints is not None:
        return match_prints(prints, where)
    return match_decoded(media.sha256, decode_query(archive, media, jobs), where)


def archive_matches(archive: Archive, *, on_event: OnEvent | None = None) -> dict[tuple[str, str], Match]:
    """Every match between archived media, {(query sha256, reference sha256): Match}, self included.

    What `add` and `archive` left unmatched (``--no-match``, a failure, a kill) is matched first.
    """
    unkept = update_matches(archive, on_event=on_event)
    ids = matchable_ids(archive)
    return {
        (m.query_sha256, m.ref_sha256): m
        for m in [*archive.catalog.stored_matches(match_key(archive)), *unkept]
        if m.query_sha256 in ids and m.ref_sha256 in ids
    }


def then_match(
    archive: Archive,
    results: Iterable[Result],
    new: str,
    *,
    jobs: int | None = None,
    on_event: OnEvent | None = None,
) -> Iterator[Result]:
    """A batch's results as they come; after the last, when one of them has the status ``new``,
    the edges of what the batch recorded (`match_added`).  Matching after the whole batch, not
    after each item, lets two copies in one batch find each other: both are in the index by then."""
    recorded = False
    for result in results:
        recorded = recorded or result.status == new
        yield result
    if recorded:
        match_added(archive, jobs=jobs, on_event=on_event)


def match_added(archive: Archive, *, jobs: int | None = None, on_event: OnEvent | None = None) -> None:
    """The match edges of what a batch of `add` or `archive` just recorded (unless
    ``batch.match_on_add`` is off), so that `clusters` reads the catalog and decodes nothing.

    It runs on this machine's threads, with ``--dask`` too.  A failure leaves the media recorded and
    unmatched, and the next `clusters` matches what is missing: a batch's results never change for it.
    """
    if not archive.settings.batch.match_on_add:
        return
    try:
        update_matches(archive, jobs=jobs, on_event=on_event)
    except Exception as exc:  # e.g. the match hasher's extra is missing: adding went well all the same
        logger.warning("matching left for the next `clusters`: %s", exc)


def update_matches(
    archive: Archive, *, jobs: int | None = None, on_event: OnEvent | None = None
) -> list[Match]:
    """Match every media whose stored run is missing or stale and store its edges.

    The media are decoded and matched on ``jobs`` worker threads (default: batch.jobs), sharing
    the CPUs; only this thread writes the results to the catalog, one transaction per media.  A
    read-only archive cannot keep them: they are returned instead (nothing is returned otherwise).
    """
    ids = matchable_ids(archive)
    listed = {m.sha256: m for m in archive.catalog.list_media()}
    frames_id = frame_checkpoint(archive)
    stale = _stale(archive.catalog.match_runs(match_key(archive)), ids, listed, frames_id)
    if not stale:
        return []
    where = searchable(archive)
    workers = max(1, jobs or archive.settings.batch.jobs)
    hasher, rate = archive.settings.match.hasher, archive.settings.sampling.rate_hz
    checkpoint = max(archive.catalog.fingerprint_checkpoint(hasher, rate)[0], frames_id)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [
            (
                listed[sha],
                pool.submit(
                    _match_one,
                    archive,
                    listed[sha],
                    where,
                    _prints_if_imported(archive, listed[sha]),
                    workers,
                ),
            )
            for sha in stale
        ]
        try:
            return _keep_runs(archive, futures, ids, checkpoint, on_event)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


def _keep_runs(
    archive: Archive,
    futures: list[tuple[ArchivedMedia, Future[list[Match]]]],
    ids: dict[str, int],
    checkpoint: int,
    on_event: OnEvent | None,
) -> list[Match]:
    """Store each media's matches as its worker finishes (in order); what a read-only archive
    cannot keep is returned."""
    key = match_key(archive)
    unkept: list[Match] = []
    for done, (media, future) in enumerate(futures, start=1):
        try:
            found = future.result()
        except Exception as exc:
            # One damaged or missing file must not hide every cluster; re-adding the
            # original bytes puts it back (add.py), and it is matched on the next run.
            logger.warning("%s: left out of matching: %s", media.path, exc)
            continue
        if archive.catalog.read_only:
            unkept.extend(found)
        else:
            archive.catalog.record_matches(media.sha256, key, ids[media.sha256], checkpoint, found)
        if on_event:
            on_event(Progress("match", done, len(futures), media.sha256))
    return unkept


def _stale(
    runs: dict[str, tuple[int, int]], ids: dict[str, int], listed: dict[str, ArchivedMedia], frames_id: int
) -> list[str]:
    """The media whose run is missing, or was made for another fingerprint of it.

    Imported vPDQ/PDQ lists hold whole-frame PDQ, which archived media do not store: their pairs
    are covered from the archived side, so a media with a file is matched again when such a list
    came after its run (a run records the largest fingerprint id it could see).
    """
    return sorted(
        sha
        for sha, fid in ids.items()
        if runs.get(sha, (None, 0))[0] != fid or (frames_id > runs[sha][1] and listed[sha].has_file)
    )


def _prints_if_imported(archive: Archive, media: ArchivedMedia) -> dict[str, Fingerprint] | None:
    return None if media.has_file else stored_prints(archive, media.sha256)


def archived_media(archive: Archive) -> list[str]:
    """Every archived media that can be matched (a fingerprint of the match hasher, or an imported
    whole-frame PDQ list's)."""
    return sorted(matchable_ids(archive))


def appearances_of(archive: Archive, sha256: str) -> list[Appearance]:
    """Each capture of the media; a media with none (added from a file) appears once, by its source."""
    captures = archive.catalog.captures(sha256=sha256)
    if captures:
        return [
            Appearance(
                sha256=sha256,
                capture_id=c.capture_id,
                url=c.url,
                source_path=None,
                extractor=c.extractor,
                uploader=c.uploader,
                title=c.title,
                published_at=c.published_at,
                captured_at=c.captured_at,
                tool_versions=c.tool_versions,
                availability=archive.catalog.availability_of(c.capture_id, c.captured_at),
            )
            for c in captures
        ]
    media = archive.catalog.get_media(sha256)
    if media is not None and media.imported is not None:
        return imported_appearances(media)
    sources = archive.catalog.sources(sha256)
    source = sources[0] if sources else (media.original_name if media else sha256)
    added = media.added_at if media else None
    return [Appearance(sha256, None, None, source, None, None, None, None, added)]


def other_times_of(archive: Archive, sha256: str) -> list[OtherTime]:
    """Times that are not upload times: what the file says of its creation, and when it was captured."""
    found = []
    created = archive.catalog.media_created_at(sha256)
    if created is not None:
        container = "creation time in the container (set by the encoder; re-encoding often resets it)"
        meaning = {
            "exif": "EXIF date of the photo (camera clock)",
            "telemetry": "GPS time of the footage's start, from the camera's telemetry",
        }.get(created.source, container)
        found.append(OtherTime(sha256, None, created, meaning))
    for c in archive.catalog.captures(sha256=sha256):
        stamp = Timestamp(c.captured_at, "second", "capture", utc_offset_min=0)
        found.append(OtherTime(sha256, c.capture_id, stamp, "captured into this archive (online by then)"))
    return found


def cluster_of(archive: Archive, members: Iterable[str], matches: PairMatches) -> Cluster:
    shas = sorted(members)
    appearances = [a for sha in shas for a in appearances_of(archive, sha)]
    others = [t for sha in shas for t in other_times_of(archive, sha)]
    xmp = {sha: x for sha in shas if (x := archive.catalog.media_xmp(sha)) is not None}
    return build_cluster(shas, appearances, matches, others, xmp)


def list_clusters(
    archive: Archive, *, singletons: bool = False, on_event: OnEvent | None = None
) -> list[Cluster]:
    """Every group of archived media sharing footage (with ``singletons``, media alone too)."""
    matches = archive_matches(archive, on_event=on_event)
    groups = connected_groups(archived_media(archive), matches.values())
    return [cluster_of(archive, g, matches) for g in groups if singletons or len(g) > 1]


def build_timeline(
    archive: Archive, target: str, *, on_event: OnEvent | None = None
) -> tuple[Target, Cluster | None]:
    """The cluster of a URL, file or sha256, its appearances earliest first, its derivations.

    A file that is not archived is matched against the archive, and its cluster is that of the
    media it matches (all of their clusters when it bridges several); None when it matches nothing.
    """
    resolved = resolve_target(archive, target)
    matches = archive_matches(archive, on_event=on_event)
    media = sorted({*archived_media(archive), *([resolved.sha256] if resolved.archived else [])})
    groups = connected_groups(media, matches.values())
    if resolved.archived:
        wanted = {resolved.sha256}
    else:
        _, found = find_matches(archive, target)
        wanted = {m.ref_sha256 for m in found if m.segments}
    members = {sha for g in groups if g & wanted for sha in g}
    return resolved, (cluster_of(archive, members, matches) if members else None)
