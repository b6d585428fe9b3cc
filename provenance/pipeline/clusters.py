"""Clusters over the archive: every archived media matched against the index, grouped, put in order.

Matching every archived media means decoding it again, so the matches are cached in the catalog
(rule 8: derived, rebuildable) under a key of the settings that shape them.  A media is matched
again only when it is new or re-fingerprinted, or the settings changed: a pair of media is covered
by the one added later, whose run searched an index holding both.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

from ..match import MATCHER_VERSION
from ..models import Appearance, ArchivedMedia, Cluster, Fingerprint, Match, OtherTime, Progress, Timestamp
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


def match_key(archive: Archive) -> str:
    """Which matcher and settings the cached matches were made with."""
    return settings_key(archive.settings.match, archive.settings.sampling, version=MATCHER_VERSION)


def _match_one(
    archive: Archive, media: ArchivedMedia, where: Searchable, prints: dict[str, Fingerprint] | None
) -> list[Match]:
    """Match one archived media against the indexes (worker thread, no catalog access): decoded when
    it has a file, by its stored hashes (``prints``) when it was imported."""
    if prints is not None:
        return match_prints(prints, where)
    return match_decoded(media.sha256, decode_query(archive, media), where)


def archive_matches(archive: Archive, *, on_event: OnEvent | None = None) -> dict[tuple[str, str], Match]:
    """Every match between archived media, {(query sha256, reference sha256): Match}, self included.

    Media whose cached run is missing or stale are decoded and matched on worker threads; only this
    thread writes the results to the catalog, one transaction per media.
    """
    key = match_key(archive)
    hasher, rate = archive.settings.match.hasher, archive.settings.sampling.rate_hz
    ids = matchable_ids(archive)
    runs = archive.catalog.match_runs(key)
    listed = {m.sha256: m for m in archive.catalog.list_media()}
    # Imported vPDQ/PDQ lists hold whole-frame PDQ, which archived media do not store: their pairs
    # are covered from the archived side, so a media with a file is matched again when such a list
    # came after its run (a run records the largest fingerprint id it could see).
    frames_id = frame_checkpoint(archive)
    stale = sorted(
        sha
        for sha, fid in ids.items()
        if runs.get(sha, (None, 0))[0] != fid or (frames_id > runs[sha][1] and listed[sha].has_file)
    )
    unkept: list[Match] = []  # a read-only archive cannot keep what was computed: it is used as it is
    if stale:
        where = searchable(archive)
        checkpoint = max(archive.catalog.fingerprint_checkpoint(hasher, rate)[0], frames_id)
        workers = max(1, archive.settings.batch.jobs)
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = [
                (
                    sha,
                    pool.submit(
                        _match_one, archive, listed[sha], where, _prints_if_imported(archive, listed[sha])
                    ),
                )
                for sha in stale
            ]
            try:
                for done, (sha, future) in enumerate(futures, start=1):
                    try:
                        found = future.result()
                    except Exception as exc:
                        # One damaged or missing file must not hide every cluster; re-adding the
                        # original bytes puts it back (add.py), and it is matched on the next run.
                        logger.warning("%s: left out of matching: %s", listed[sha].path, exc)
                        continue
                    if archive.catalog.read_only:
                        unkept.extend(found)
                    else:
                        archive.catalog.record_matches(sha, key, ids[sha], checkpoint, found)
                    if on_event:
                        on_event(Progress("match", done, len(stale), sha))
            finally:
                pool.shutdown(wait=True, cancel_futures=True)
    return {
        (m.query_sha256, m.ref_sha256): m
        for m in [*archive.catalog.stored_matches(key), *unkept]
        if m.query_sha256 in ids and m.ref_sha256 in ids
    }


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
