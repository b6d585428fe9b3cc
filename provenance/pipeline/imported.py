"""Matching against imported fingerprints: media of the archive that have no file.

Imported media are matched by their stored hashes (`match_imported.match_stored`), and a query is
matched against them through the match index (imported fingerprints of the match hasher are in it,
whatever their rate) and through the whole-frame PDQ index of imported vPDQ and PDQ lists.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..frames import sample_frames, share_decoders
from ..hashing import PDQ256_FRAME
from ..index import SearchIndex
from ..match import match_frames, query_sampling
from ..match_imported import frame_settings, match_stored, match_whole_frames, merge_matches
from ..models import Appearance, ArchivedMedia, Fingerprint, Frame, ListedAppearance, Match
from ..settings import MatchSettings
from .archive import Archive

logger = logging.getLogger(__name__)


def frame_index(archive: Archive) -> SearchIndex | None:
    """The whole-frame PDQ index of imported vPDQ and PDQ lists; None when there are none, or when
    PDQ is not installed (such lists then cannot be matched, and a warning says so)."""
    rate = archive.settings.sampling.rate_hz
    if archive.catalog.fingerprint_checkpoint(PDQ256_FRAME.name, rate)[1] == 0:
        return None
    if not PDQ256_FRAME.available:
        logger.warning(
            "imported vPDQ/PDQ fingerprints are not searched: pip install 'provenance[pdq]' to match them"
        )
        return None
    return archive.cached_index(PDQ256_FRAME)


def frame_checkpoint(archive: Archive) -> int:
    """The largest id of an imported whole-frame PDQ fingerprint (0 when there is none)."""
    return archive.catalog.fingerprint_checkpoint(PDQ256_FRAME.name, archive.settings.sampling.rate_hz)[0]


def matchable_ids(archive: Archive) -> dict[str, int]:
    """{sha256: fingerprint id} of every media `clusters` can match: those with a fingerprint of the
    match hasher, and imported media known only by whole-frame PDQ (by that fingerprint's id)."""
    rate = archive.settings.sampling.rate_hz
    frames = archive.catalog.fingerprint_ids(PDQ256_FRAME.name, rate) if frame_checkpoint(archive) else {}
    return {**frames, **archive.catalog.fingerprint_ids(archive.settings.match.hasher, rate)}


def media_paths(archive: Archive) -> dict[str, Path]:
    return {m.sha256: archive.root / m.path for m in archive.catalog.list_media() if m.has_file}


@dataclass(frozen=True, slots=True, eq=False)
class Searchable:
    """What a matching worker needs, gathered on the catalog's thread: the indexes, the settings
    of each, the archived files' paths (workers never touch the catalog)."""

    index: SearchIndex
    opts: MatchSettings
    frames: SearchIndex | None
    frame_opts: MatchSettings
    paths: dict[str, Path]


def searchable(archive: Archive) -> Searchable:
    return Searchable(
        index=archive.index(),
        opts=archive.settings.match,
        frames=frame_index(archive),
        frame_opts=frame_settings(archive.settings.match),
        paths=media_paths(archive),
    )


def match_decoded(query_sha256: str | None, frames: Sequence[Frame], where: Searchable) -> list[Match]:
    """Decoded query frames (sampled at the query rate) against the match index and the imported
    whole-frame PDQ index, one match per media."""
    found = match_frames(query_sha256, frames, where.index, where.paths, where.opts)
    if where.frames is None:
        return found
    return merge_matches(
        found, match_whole_frames(query_sha256, frames, where.frames, where.paths, where.frame_opts)
    )


def match_prints(prints: Mapping[str, Fingerprint], where: Searchable) -> list[Match]:
    """An imported media by its stored hashes ({hasher: fingerprint}): the match hasher's against the
    match index, whole-frame PDQ against the imported whole-frame index."""
    found: list[list[Match]] = []
    main = prints.get(where.index.hasher.name)
    if main is not None:
        found.append(match_stored(main, where.index, where.paths, where.opts))
    frame_print = prints.get(PDQ256_FRAME.name)
    if frame_print is not None and where.frames is not None:
        found.append(match_stored(frame_print, where.frames, where.paths, where.frame_opts))
    return merge_matches(*found)


def stored_prints(archive: Archive, sha256: str) -> dict[str, Fingerprint]:
    return {fp.hasher: fp for fp in archive.catalog.fingerprints_of(sha256)}


def decode_query(archive: Archive, media: ArchivedMedia, jobs: int = 1) -> list[Frame]:
    """An archived file's frames at the query rate, with its share of the CPUs when ``jobs`` files
    are decoded side by side (any thread: no catalog)."""
    sampling = share_decoders(query_sampling(archive.settings.sampling, archive.settings.match), jobs)
    return sample_frames(archive.root / media.path, media.kind, sampling)


def imported_appearances(media: ArchivedMedia) -> list[Appearance]:
    """Where an imported media was seen, as its list's source asserts it (once, without a URL, when
    the list named no appearance)."""
    origin = media.imported
    assert origin is not None
    seen = origin.appearances or (ListedAppearance(None, None),)
    return [
        Appearance(
            sha256=media.sha256,
            capture_id=None,
            url=a.url,
            source_path=None,
            extractor="hashlist",
            uploader=None,
            title=None,
            published_at=a.published_at,
            captured_at=origin.imported_at,
            imported_from=origin.source,
        )
        for a in seen
    ]
