"""Catalog rows back into the models."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from pathlib import Path

import numpy as np

from ..errors import ArchiveError
from ..hashing import any_hasher
from ..models import (
    ArchivedMedia,
    Box,
    Capture,
    Fingerprint,
    ImportedFrom,
    ListContext,
    ListedAppearance,
    Match,
    Segment,
    Timestamp,
    XmpEvent,
    XmpInfo,
)
from .schema import FINGERPRINT_LAYOUT


def parse_utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def media_from_row(row: sqlite3.Row) -> ArchivedMedia:
    return ArchivedMedia(
        sha256=row["sha256"],
        kind=row["kind"],
        path=Path(row["path"]),
        size_bytes=row["size_bytes"],
        original_name=row["original_name"],
        duration_s=row["duration_s"],
        width=row["width"],
        height=row["height"],
        added_at=parse_utc(row["added_at"]),
        fingerprints=tuple(sorted((row["hs"] or "").split(","))) if row["hs"] else (),
        # sqlite3.Row: `in` looks at the values, keys() at the column names.
        imported=imported_from_row(row) if "imported_source" in row.keys() else None,  # noqa: SIM118
    )


def capture_from_row(row: sqlite3.Row) -> Capture:
    published = None
    if row["published_at"]:
        published = Timestamp(
            value=parse_utc(row["published_at"]),
            precision=row["published_precision"],
            source=row["published_source"],
        )
    return Capture(
        capture_id=row["capture_id"],
        url=row["url"],
        webpage_url=row["webpage_url"],
        extractor=row["extractor"],
        platform_id=row["platform_id"],
        uploader=row["uploader"],
        uploader_id=row["uploader_id"],
        channel=row["channel"],
        title=row["title"],
        description=row["description"],
        duration_s=row["duration_s"],
        view_count=row["view_count"],
        like_count=row["like_count"],
        published_at=published,
        captured_at=parse_utc(row["captured_at"]),
        tool_versions=tuple(tuple(pair) for pair in json.loads(row["tool_versions"])),
        final_url=row["final_url"],
        http_status=row["http_status"],
        sha256=row["sha256"],
        files=tuple(tuple(pair) for pair in json.loads(row["files"])),
        folder=row["folder"],
    )


def fingerprint_from_row(row: sqlite3.Row) -> Fingerprint:
    if row["layout"] != FINGERPRINT_LAYOUT:
        raise ArchiveError(
            f"fingerprint {row['id']} has layout {row['layout']}, which this version cannot read"
        )
    n = row["frame_count"]
    # Bytes per hash from the hasher's size, so even a fingerprint without frames has the right shape.
    hasher = any_hasher(row["hasher"])
    hash_bytes = hasher.bits // 8 if hasher else len(row["hashes"]) // max(n, 1)
    box = json.loads(row["content_box"]) if row["content_box"] else None
    return Fingerprint(
        sha256=row["sha256"],
        hasher=row["hasher"],
        rate_hz=row["rate_hz"],
        times_ms=np.frombuffer(row["times_ms"], dtype="<i4").astype(np.int32),
        hashes=np.frombuffer(row["hashes"], dtype=np.uint8).reshape(n, hash_bytes),
        quality=np.frombuffer(row["quality"], dtype=np.uint8),
        content_box=Box(**box) if box else None,
    )


def match_from_row(row: sqlite3.Row) -> Match:
    return Match(
        query_sha256=row["query_sha256"],
        ref_sha256=row["ref_sha256"],
        ref_path=Path(row["path"]),
        hasher=row["hasher"],
        segments=tuple(Segment(**s) for s in json.loads(row["segments"])),
        query_coverage=row["query_coverage"],
        ref_coverage=row["ref_coverage"],
        score=row["score"],
    )


def timestamp_from_json(data: dict | None) -> Timestamp | None:
    """A Timestamp as `to_jsonable` stored it inside a JSON column (e.g. MediaInfo.created_at)."""
    if not data:
        return None
    return Timestamp(
        value=parse_utc(data["value"]),
        precision=data["precision"],
        source=data["source"],
        utc_offset_min=data.get("utc_offset_min"),
        local=bool(data.get("local", False)),
    )


def xmp_from_json(data: dict | None) -> XmpInfo | None:
    """The ids and history of an XmpInfo as `to_jsonable` stored it inside MediaInfo (properties left out)."""
    if not data:
        return None
    events = data.get("history") or []
    return XmpInfo(
        **{k: data.get(k) for k in _XMP_ID_FIELDS},
        history=tuple(XmpEvent(**{k: e.get(k) for k in _XMP_EVENT_FIELDS}) for e in events),
        ingredient_ids=tuple(data.get("ingredient_ids") or ()),
    )


_XMP_ID_FIELDS = (
    "creator_tool",
    "document_id",
    "instance_id",
    "original_document_id",
    "derived_from_document_id",
    "derived_from_instance_id",
    "derived_from_original_document_id",
)
_XMP_EVENT_FIELDS = ("action", "when", "software_agent", "changed", "instance_id", "parameters")


def _listed_appearances(text: str) -> tuple[ListedAppearance, ...]:
    out = []
    for a in json.loads(text):
        ts = a.get("published_at")
        stamp = Timestamp(parse_utc(ts), a["precision"], "imported") if ts else None
        out.append(ListedAppearance(a.get("url"), stamp))
    return tuple(out)


def imported_from_row(row: sqlite3.Row) -> ImportedFrom | None:
    """The `imported_*` columns a media query joined in (None for media with a file)."""
    if row["imported_source"] is None:
        return None
    context = json.loads(row["imported_context"]) if row["imported_context"] else None
    return ImportedFrom(
        source=row["imported_source"],
        external_id=row["imported_external_id"],
        content_sha256=row["imported_content_sha256"],
        hashlist_id=row["imported_hashlist_id"],
        imported_at=parse_utc(row["imported_at"]),
        appearances=_listed_appearances(row["imported_appearances"]),
        context=ListContext(**{k: tuple(v) for k, v in context.items()}) if context else None,
    )


FINGERPRINT_COLUMNS = (
    "sha256, hasher, rate_hz, layout, frame_count, times_ms, hashes, quality, content_box, created_at"
)


def fingerprint_values(fp: Fingerprint, sha256: str, box_json: str | None, created_at: str) -> tuple:
    """A fingerprint as the values of FINGERPRINT_COLUMNS (the packed BLOBs of layout 1)."""
    return (
        sha256,
        fp.hasher,
        fp.rate_hz,
        FINGERPRINT_LAYOUT,
        fp.frame_count,
        np.asarray(fp.times_ms, "<i4").tobytes(),
        np.ascontiguousarray(fp.hashes, np.uint8).tobytes(),
        np.asarray(fp.quality, np.uint8).tobytes(),
        box_json,
        created_at,
    )
