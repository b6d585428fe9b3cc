"""Hash lists: export the archive's fingerprints, import other sources' fingerprints.

Imported media are media without a file (see `imported.py` for how they are matched); formats are
read and written by `provenance.hashlists`.  An export carries no paths, file names, uploaders or
titles unless asked (``with_context``).
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from .. import store
from ..catalog.imports import ImportSession
from ..errors import BadInputError, MissingExtraError, ProvenanceError, UsageError
from ..fingerprint import region_greys
from ..frames import sample_frames
from ..hashing import PDQ256_FRAME
from ..hashlists import (
    FORMATS,
    MAX_LINE_CHARS,
    MalformedLine,
    detect_format,
    entry_digest,
    native_line,
    parse_line,
    pdq_csv_lines,
    vpdq_line,
)
from ..models import (
    ArchivedMedia,
    ExportSummary,
    Fingerprint,
    HashlistEntry,
    ImportedList,
    ImportSummary,
    ListContext,
    ListedAppearance,
    Progress,
)
from .archive import Archive, OnEvent
from .clusters import build_timeline, list_clusters

logger = logging.getLogger(__name__)

# Entries written to the catalog at once: bounds memory whatever the list's size.
CHUNK_ENTRIES = 20_000
CHUNK_FRAMES = 200_000
MAX_SOURCE = 200


# -- import ---------------------------------------------------------------------------------------


def _lines_of(path: Path) -> Iterator[str]:
    """The file's lines, one at a time (bounded: a longer line is refused, not read whole)."""
    try:
        with path.open("r", encoding="utf-8-sig", newline="") as fh:
            while line := fh.readline(MAX_LINE_CHARS + 1):
                yield line
    except UnicodeDecodeError:
        raise BadInputError(f"{path}: not a text file (hash lists are UTF-8 text)") from None
    except OSError as exc:
        raise BadInputError(f"{path}: cannot read ({exc.strerror or exc})") from None


def _check_source(source: str) -> str:
    name = source.strip()
    if not name or len(name) > MAX_SOURCE or any(c in name for c in "\r\n\t"):
        raise UsageError(
            f"source {source!r}: give a short name of who the list came from (1-{MAX_SOURCE} chars)"
        )
    return name


def import_hashlist(
    archive: Archive,
    path_or_lines: str | os.PathLike[str] | Iterable[str],
    *,
    source: str,
    fmt: str = "auto",
    name: str | None = None,
    on_event: OnEvent | None = None,
) -> ImportSummary:
    """Import a hash list (a file, or lines) as media without files, in one transaction.

    Streams: entries are parsed and written in chunks, so memory stays bounded whatever the list's
    size.  A malformed line raises BadInputError naming the line, and nothing of the list is kept.
    The same entries imported again (same source and external ids, same content) change nothing.
    """
    source = _check_source(source)
    if fmt != "auto" and fmt not in FORMATS:
        raise UsageError(f"format {fmt!r}: one of auto, {', '.join(FORMATS)}")
    if isinstance(path_or_lines, (str, os.PathLike)):
        path = Path(path_or_lines)
        if not path.is_file():
            raise BadInputError(f"{path}: no such file")
        lines: Iterable[str] = _lines_of(path)
        label = name or path.name
    else:
        lines, label = path_or_lines, name or "<lines>"
    counts = {"added": 0, "updated": 0, "unchanged": 0}
    frames, digest = 0, hashlib.sha256()
    chosen = fmt
    with archive.catalog.import_session(source, label, fmt) as session:
        chunk: list[tuple[HashlistEntry, str]] = []
        chunk_frames = 0
        for lineno, line in enumerate(lines, start=1):
            digest.update(line.encode("utf-8", "surrogatepass"))
            if chosen == "auto" and line.strip():
                chosen = detect_format(line)
                session.set_format(chosen)
            entry = _parsed(line, chosen, label, lineno)
            if entry is None:
                continue
            chunk.append((entry, entry_digest(entry)))
            n = sum(fp.frame_count for fp in entry.fingerprints)
            frames, chunk_frames = frames + n, chunk_frames + n
            if len(chunk) >= CHUNK_ENTRIES or chunk_frames >= CHUNK_FRAMES:
                _flush(session, chunk, counts, on_event, label, lineno)
                chunk, chunk_frames = [], 0
        if chunk:
            _flush(session, chunk, counts, on_event, label, lineno)
        if sum(counts.values()) == 0:
            raise BadInputError(f"{label}: no fingerprints in the list")
        changed = session.finish(digest.hexdigest())
    return ImportSummary(
        source=source,
        name=label,
        format=chosen,
        status="imported" if changed else "unchanged",
        hashlist_id=session.hashlist_id if changed else None,
        media_added=counts["added"],
        media_updated=counts["updated"],
        media_unchanged=counts["unchanged"],
        frames=frames,
        imported_at=datetime.now(UTC),
    )


def _parsed(line: str, fmt: str, label: str, lineno: int) -> HashlistEntry | None:
    if fmt == "auto":
        return None  # blank lines before the first entry
    try:
        return parse_line(line, fmt)
    except MalformedLine as exc:
        raise BadInputError(f"{label}: line {lineno}: {exc}", hint=f"is it a {fmt} hash list?") from None


def _flush(
    session: ImportSession,
    chunk: list[tuple[HashlistEntry, str]],
    counts: dict[str, int],
    on_event: OnEvent | None,
    label: str,
    lineno: int,
) -> None:
    for status, n in session.add(chunk).items():
        counts[status] += n
    if on_event:
        on_event(Progress("import", lineno, None, label))


# -- export ---------------------------------------------------------------------------------------


def _selected(
    archive: Archive, target: str | None, all_media: bool, on_event: OnEvent | None
) -> list[ArchivedMedia]:
    if all_media == (target is not None):
        raise UsageError("give a cluster (or a file, URL or sha256 in it) or --all, not both")
    if all_media:
        return archive.catalog.list_media()
    assert target is not None
    wanted = target.lower()
    if len(wanted) >= 8 and all(c in "0123456789abcdef" for c in wanted):
        chosen = [
            c
            for c in list_clusters(archive, singletons=True, on_event=on_event)
            if c.cluster_id.startswith(wanted)
        ]
        if len(chosen) > 1:
            raise BadInputError(f"{target}: several clusters start with this; give more digits")
        if chosen:
            return [m for sha in chosen[0].members if (m := archive.catalog.get_media(sha)) is not None]
    resolved, cluster = build_timeline(archive, target, on_event=on_event)
    members = cluster.members if cluster else ((resolved.sha256,) if resolved.archived else ())
    if not members:
        raise BadInputError(f"{target}: not in the archive and shares no footage with it")
    return [m for sha in members if (m := archive.catalog.get_media(sha)) is not None]


def _native_entry(archive: Archive, media: ArchivedMedia, with_context: bool) -> HashlistEntry:
    rate = archive.settings.sampling.rate_hz
    prints = tuple(fp for fp in archive.catalog.fingerprints_of(media.sha256) if fp.rate_hz == rate)
    captures = archive.catalog.captures(sha256=media.sha256)
    seen = [ListedAppearance(c.url, c.published_at) for c in captures]
    context = None
    if with_context:
        context = ListContext(
            names=tuple(dict.fromkeys([media.original_name, *archive.catalog.sources(media.sha256)])),
            uploaders=tuple(
                dict.fromkeys(u for c in captures for u in (c.uploader, c.uploader_id, c.channel) if u)
            ),
            titles=tuple(dict.fromkeys(c.title for c in captures if c.title)),
        )
    return HashlistEntry(
        media.sha256, media.sha256, media.kind, media.duration_s, prints, tuple(seen), context
    )


def whole_frame_pdq(archive: Archive, media: ArchivedMedia) -> Fingerprint:
    """PDQ of the media's whole frames at the archive's sampling rate (decoded again): the recipe
    vPDQ and PDQ banks compare, which the stored pdq256 (inside the content box) is not."""
    if not PDQ256_FRAME.available:
        raise MissingExtraError("vPDQ and PDQ lists need PDQ", hint="pip install 'provenance[pdq]'")
    # At the plain rate, short clips included: vPDQ counts the share of *our* frames its own (one a
    # second) match, and the extra frames a short clip gets for our matcher would lower that share.
    plain = replace(archive.settings.sampling, short_media_frames=0)
    frames = sample_frames(archive.root / media.path, media.kind, plain)
    hashes, quality = PDQ256_FRAME.hash_frames(region_greys(frames, None, 1.0))
    times_ms = np.array([f.t_ms for f in frames], np.int32)
    return Fingerprint(
        media.sha256, PDQ256_FRAME.name, archive.settings.sampling.rate_hz, times_ms, hashes, quality
    )


def _leave_out_notes(fmt: str, tally: dict[str, int], with_context: bool) -> tuple[str, ...]:
    """What the export did not carry, one sentence each (nothing is left out silently)."""
    notes = []
    if tally["imported"]:
        notes.append(f"{tally['imported']} imported media (other sources' fingerprints) are not re-exported.")
    if tally["unreadable"]:
        notes.append(
            f"{tally['unreadable']} media whose archived file is missing or unreadable were left out."
        )
    if fmt == "provenance":
        if not with_context:
            notes.append(
                "File names, source paths, uploaders and titles are left out (--with-context adds them)."
            )
        return tuple(notes)
    notes.append(
        f"{tally['other_frames']} frame hashes of other hashers (phash64, pdq256) are not carried: "
        f"{fmt} carries PDQ of whole frames only, computed again from the archived files."
    )
    notes.append(f"SHA-256s, URLs and published times are not carried by {fmt}.")
    if fmt == "pdq-csv":
        notes.append(
            "Frame times and which media each hash belongs to are not carried (one picture per line); "
            f"{tally['weak']} frames below PDQ's quality floor (50) were left out."
        )
    return tuple(notes)


def export_hashlist(
    archive: Archive,
    out: Path,
    *,
    target: str | None = None,
    all_media: bool = False,
    fmt: str = "provenance",
    with_context: bool = False,
    on_event: OnEvent | None = None,
) -> ExportSummary:
    """Write the fingerprints of one cluster (``target``: a cluster id, or a file, URL or sha256 of
    a member) or of every archived media to ``out``, atomically.

    ``provenance`` writes every stored fingerprint, lossless; ``vpdq`` and ``pdq-csv`` decode each
    media again for PDQ of whole frames (the recipe those tools compare).
    """
    if fmt not in FORMATS:
        raise UsageError(f"format {fmt!r}: one of {', '.join(FORMATS)}")
    if with_context and fmt != "provenance":
        raise UsageError("--with-context: only the provenance format carries names and uploaders")
    chosen = _selected(archive, target, all_media, on_event)
    if fmt != "provenance" and not PDQ256_FRAME.available:
        raise MissingExtraError(f"{fmt} lists are PDQ hashes", hint="pip install 'provenance[pdq]'")
    tally = {"media": 0, "frames": 0, "imported": 0, "unreadable": 0, "other_frames": 0, "weak": 0}

    def lines() -> Iterator[str]:
        for done, media in enumerate(chosen, start=1):
            if on_event:
                on_event(Progress("export", done, len(chosen), media.sha256))
            if not media.has_file:
                tally["imported"] += 1
                continue
            if fmt == "provenance":
                entry = _native_entry(archive, media, with_context)
                if not entry.fingerprints:
                    continue
                tally["frames"] += sum(fp.frame_count for fp in entry.fingerprints)
                tally["media"] += 1
                yield native_line(entry) + "\n"
                continue
            try:
                fp = whole_frame_pdq(archive, media)
            except (ProvenanceError, OSError) as exc:
                logger.warning("%s: left out of the export: %s", media.sha256[:12], exc)
                tally["unreadable"] += 1
                continue
            stored = archive.catalog.fingerprints_of(media.sha256)
            tally["other_frames"] += sum(f.frame_count for f in stored if f.rate_hz == fp.rate_hz)
            tally["media"] += 1
            if fmt == "vpdq":
                tally["frames"] += fp.frame_count
                yield vpdq_line(fp) + "\n"
            else:
                kept = list(pdq_csv_lines(fp, PDQ256_FRAME.min_quality))
                tally["frames"] += len(kept)
                tally["weak"] += fp.frame_count - len(kept)
                yield from (line + "\n" for line in kept)

    store.write_lines_atomic(out, lines())
    return ExportSummary(
        fmt, tally["media"], tally["frames"], with_context, _leave_out_notes(fmt, tally, with_context)
    )


def list_hashlists(archive: Archive) -> list[ImportedList]:
    """Every import: from whom, when, which file, how many media and frame hashes are here now."""
    return archive.catalog.imported_lists()
