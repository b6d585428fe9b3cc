"""Shaping results for people and scripts: JSON records (the --json contract), CSV and JSON-lines
tables, text helpers and the HTML report (`write_html`, template in templates/report.html.j2).

Records of clusters, timelines and `verify` rows are in `report_timeline.py`; the HTML page is laid
out in `report_html.py`.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from .models import (
    AddResult,
    ArchivedMedia,
    ArchiveResult,
    Capture,
    Evidence,
    Match,
    MediaInfo,
    Segment,
    to_jsonable,
    utc_iso,
)
from .store import printable, write_atomic


def seconds(ms: int) -> float:
    return round(ms / 1000.0, 3)


def segment_record(segment: Segment) -> dict[str, Any]:
    return {
        "query_start": seconds(segment.query_start_ms),
        "query_end": seconds(segment.query_end_ms),
        "ref_start": seconds(segment.ref_start_ms),
        "ref_end": seconds(segment.ref_end_ms),
        "frames": segment.frames_matched,
        "distance": segment.mean_distance,
        "speed": segment.speed,
        "variant": segment.variant,
    }


def imported_record(media: ArchivedMedia | None) -> dict[str, Any] | None:
    """Where an imported media's fingerprints came from (None for media with a file)."""
    origin = media.imported if media else None
    if origin is None:
        return None
    record = to_jsonable(origin, top=False)
    record["appearances"] = [
        {
            "url": a.url,
            "published_at": utc_iso(a.published_at.value) if a.published_at else None,
            "precision": a.published_at.precision if a.published_at else None,
        }
        for a in origin.appearances
    ]
    return record


def match_record(match: Match, media: ArchivedMedia | None, sources: list[str]) -> dict[str, Any]:
    return {
        "type": "match",
        "sha256": match.ref_sha256,
        "path": str(match.ref_path) if media is None or media.has_file else None,
        "name": media.original_name if media else None,
        "kind": media.kind if media else None,
        "sources": sources,
        "score": match.score,
        "query_coverage": match.query_coverage,
        "ref_coverage": match.ref_coverage,
        "hasher": match.hasher,
        "segments": [segment_record(s) for s in match.segments],
        "imported": imported_record(media),
    }


def add_record(result: AddResult) -> dict[str, Any]:
    record = to_jsonable(result)
    record["error"] = to_jsonable(result.error, top=False) if result.error else None
    return record


def media_record(media: ArchivedMedia, root: Path) -> dict[str, Any]:
    record = to_jsonable(media)
    record["path"] = str(root / media.path) if media.has_file else None
    record["imported"] = imported_record(media)
    return record


def info_record(
    info: MediaInfo, *, path: Path, archived: bool, sources: list[str], captures: Sequence[Capture] = ()
) -> dict[str, Any]:
    """The normalised description of a file, beside its raw tags."""
    data = to_jsonable(info, top=False)
    is_photo = info.kind == "image"
    stream_facts = {
        k: data[k]
        for k in (
            "container",
            "duration_s",
            "width",
            "height",
            "fps",
            "video_codec",
            "audio_codec",
            "bit_rate",
            "rotation_deg",
        )
    }
    return {
        "type": "media_info",
        "sha256": info.sha256,
        "kind": info.kind,
        "path": printable(str(path)),
        "archived": archived,
        "sources": sources,
        "created_at": data["created_at"],
        "location": (
            {
                "lat": info.location.lat,
                "lon": info.location.lon,
                "alt": info.location.alt_m,
                "source": info.location.source,
            }
            if info.location
            else None
        ),
        "device": {"make": info.make, "model": info.model, "software": info.software},
        "container": stream_facts,
        "exif": dict(info.raw_tags) if is_photo else {},
        "raw_tags": dict(info.raw_tags),
        "caveats": list(info.caveats),
        "captures": [capture_record(c) for c in captures],
        **metadata_sections(info),
    }


# Sections of `info` read by provenance/metadata/, in the order the human table shows them.
METADATA_SECTIONS = (
    "xmp",
    "iptc",
    "makernotes",
    "apple",
    "telemetry",
    "c2pa",
    "thumbnails",
    "quicktime",
    "matroska",
)
# Tag lists inside a section that read better as {name: value}.
_PAIR_FIELDS = ("properties", "user_data")


def metadata_sections(info: MediaInfo) -> dict[str, Any]:
    """``created_at_why``, every stated time (``times``) and one key per metadata section (null or
    [] when the file has none)."""
    record: dict[str, Any] = {
        "created_at_why": info.created_at_why,
        "times": [
            {
                "origin": c.origin,
                "value": utc_iso(c.time.value),
                "precision": c.time.precision,
                "utc_offset_min": c.time.utc_offset_min,
                "local": c.time.local,
                "basis": c.basis,
                "meaning": c.meaning,
                "text": c.text,
            }
            for c in info.times
        ],
    }
    for name in METADATA_SECTIONS:
        value = to_jsonable(getattr(info, name), top=False)
        if isinstance(value, dict):
            for field in _PAIR_FIELDS:
                if field in value:
                    value[field] = dict(value[field])
        record[name] = value
    return record


def capture_record(capture: Capture) -> dict[str, Any]:
    """A stored capture for scripts: the archive contract's fields first, then everything kept."""
    published = capture.published_at
    record = {
        "capture_id": capture.capture_id,
        "url": capture.url,
        "sha256": capture.sha256,
        "published_at": utc_iso(published.value) if published else None,
        "published_precision": published.precision if published else None,
        "published_source": published.source if published else None,
        "uploader": capture.uploader,
        "title": capture.title,
    }
    rest = to_jsonable(capture, top=False)
    rest.pop("published_at")
    rest["tool_versions"] = dict(capture.tool_versions)
    rest["files"] = [{"name": name, "sha256": sha} for name, sha in capture.files]
    return {**record, **{k: v for k, v in rest.items() if k not in record}}


def archive_record(result: ArchiveResult) -> dict[str, Any]:
    """One line of `archive --json`."""
    capture = result.capture
    base = capture_record(capture) if capture else {}
    return {
        "type": "archive_result",
        "url": result.url,
        "status": result.status,
        "capture_id": result.capture_id,
        "sha256": base.get("sha256"),
        "published_at": base.get("published_at"),
        "published_precision": base.get("published_precision"),
        "uploader": base.get("uploader"),
        "title": base.get("title"),
        "error": to_jsonable(result.error, top=False) if result.error else None,
        "capture": base or None,
    }


def describe_segment(segment: Segment) -> str:
    flip = ", mirrored" if "hflip" in segment.variant else ""
    flip += "".join(
        f", {part[:4]} {part[4:]}" for part in segment.variant.split("+") if part.startswith("zoom")
    )
    flip += "".join(
        f", turned {part[3:]} degrees" for part in segment.variant.split("+") if part.startswith("rot")
    )
    flip += ", shown inside a larger picture" if "inset" in segment.variant.split("+") else ""
    flip += ", on the whole frame (bars or fill included)" if segment.variant == "whole" else ""
    return (
        f"{seconds(segment.query_start_ms):.1f}-{seconds(segment.query_end_ms):.1f}s ~ "
        f"{seconds(segment.ref_start_ms):.1f}-{seconds(segment.ref_end_ms):.1f}s "
        f"({segment.frames_matched} frames, d={segment.mean_distance:.1f}{flip})"
    )


def is_jsonl(path: Path) -> bool:
    return path.suffix.lower() in (".jsonl", ".ndjson", ".json")


def table_text(records: Iterable[dict[str, Any]], columns: Sequence[str], *, jsonl: bool) -> str:
    """Records as CSV (these columns, None as empty) or as JSON lines."""
    if jsonl:
        return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: ("" if v is None else v) for k, v in r.items()} for r in records)
    return buffer.getvalue()


def write_text_atomic(out: Path, text: str) -> Path:
    return write_atomic(out, text.encode("utf-8"))


def write_table(out: Path, records: Sequence[dict[str, Any]], columns: Sequence[str]) -> Path:
    """CSV, or JSON lines when the name ends in .jsonl/.ndjson/.json."""
    return write_text_atomic(out, table_text(records, columns, jsonl=is_jsonl(out)))


def write_html(evidence: Evidence, out: Path) -> Path:
    """The self-contained HTML report of one cluster (no external scripts, styles or fonts)."""
    from .report_html import render_html  # Jinja2 is loaded only when a report is written

    return write_text_atomic(out, render_html(evidence))
