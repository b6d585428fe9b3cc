"""Shaping results for people and scripts: JSON records (the --json contract), CSV and JSON-lines
tables, text helpers and the HTML report (`write_html`, template in templates/report.html.j2)."""

from __future__ import annotations

import csv
import io
import json
import os
import secrets
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from .models import (
    AddResult,
    Appearance,
    ArchivedMedia,
    ArchiveResult,
    Capture,
    Cluster,
    Derivation,
    Evidence,
    Match,
    MediaInfo,
    OtherTime,
    Segment,
    Timestamp,
    VerifyRow,
    to_jsonable,
    utc_iso,
)


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


def match_record(match: Match, media: ArchivedMedia | None, sources: list[str]) -> dict[str, Any]:
    return {
        "type": "match",
        "sha256": match.ref_sha256,
        "path": str(match.ref_path),
        "name": media.original_name if media else None,
        "kind": media.kind if media else None,
        "sources": sources,
        "score": match.score,
        "query_coverage": match.query_coverage,
        "ref_coverage": match.ref_coverage,
        "hasher": match.hasher,
        "segments": [segment_record(s) for s in match.segments],
    }


def add_record(result: AddResult) -> dict[str, Any]:
    record = to_jsonable(result)
    record["error"] = to_jsonable(result.error, top=False) if result.error else None
    return record


def media_record(media: ArchivedMedia, root: Path) -> dict[str, Any]:
    record = to_jsonable(media)
    record["path"] = str(root / media.path)
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
        "path": str(path),
        "archived": archived,
        "sources": sources,
        "created_at": data["created_at"],
        "location": data["location"],
        "device": {"make": info.make, "model": info.model, "software": info.software},
        "container": stream_facts,
        "exif": dict(info.raw_tags) if is_photo else {},
        "raw_tags": dict(info.raw_tags),
        "captures": [capture_record(c) for c in captures],
    }


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
    return (
        f"{seconds(segment.query_start_ms):.1f}-{seconds(segment.query_end_ms):.1f}s ~ "
        f"{seconds(segment.ref_start_ms):.1f}-{seconds(segment.ref_end_ms):.1f}s "
        f"({segment.frames_matched} frames, d={segment.mean_distance:.1f}{flip})"
    )


# -- clusters and timelines (the `earliest` / `clusters` contract) ----------------------------------


def _published(ts: Timestamp | None) -> dict[str, Any]:
    return {
        "published_at": utc_iso(ts.value) if ts else None,
        "precision": ts.precision if ts else None,
        "source": ts.source if ts else None,
    }


def appearance_brief(a: Appearance) -> dict[str, Any]:
    """The fields that name an appearance: where, when (with precision and source), which media."""
    return {"url": a.url, **_published(a.published_at), "sha256": a.sha256}


def appearance_record(a: Appearance) -> dict[str, Any]:
    return {
        **appearance_brief(a),
        "captured_at": utc_iso(a.captured_at) if a.captured_at else None,
        "uploader": a.uploader,
        "segments": [segment_record(s) for s in a.segments],
        "capture_id": a.capture_id,
        "source_path": a.source_path,
        "title": a.title,
    }


def derivation_record(d: Derivation) -> dict[str, Any]:
    return {
        "from_sha256": d.from_sha256,
        "to_sha256": d.to_sha256,
        "segments": [segment_record(s) for s in d.segments],
        "kind": d.kind,
        "basis": d.basis,
        "mirrored": d.mirrored,
    }


def other_time_record(t: OtherTime) -> dict[str, Any]:
    stamp = t.time
    return {
        "sha256": t.sha256,
        "capture_id": t.capture_id,
        "value": utc_iso(stamp.value),
        "precision": stamp.precision,
        "source": stamp.source,
        "local": stamp.local,
        "meaning": t.meaning,
    }


def where_seen(cluster: Cluster, sha256: str) -> str | None:
    """The URL (else the local path) of a member's first appearance."""
    first = next((a for a in cluster.appearances if a.sha256 == sha256), None)
    return (first.url or first.source_path) if first else None


def cluster_record(cluster: Cluster, *, kind: str = "cluster") -> dict[str, Any]:
    """One cluster: the `earliest --json` contract's fields, then what explains them."""
    return {
        "type": kind,
        "cluster_id": cluster.cluster_id,
        "earliest": appearance_brief(cluster.earliest) if cluster.earliest else None,
        "ambiguous_with": [appearance_brief(a) for a in cluster.ambiguous_with],
        "appearances": [appearance_record(a) for a in cluster.appearances],
        "derivations": [derivation_record(d) for d in cluster.derivations],
        "likely_original": {
            "sha256": cluster.likely_original,
            "url": where_seen(cluster, cluster.likely_original),
            "why": cluster.why,
        },
        "members": list(cluster.members),
        "other_times": [other_time_record(t) for t in cluster.other_times],
        "caveats": list(cluster.caveats),
    }


def earliest_record(query: str, cluster: Cluster | None) -> dict[str, Any]:
    """`earliest --json`: one object; a query sharing no footage with the archive has no cluster."""
    if cluster is None:
        empty = {"cluster_id": None, "earliest": None, "ambiguous_with": [], "appearances": []}
        return {"type": "earliest", "query": query, **empty, "derivations": []}
    record = cluster_record(cluster, kind="earliest")
    return {"type": "earliest", "query": query, **{k: v for k, v in record.items() if k != "type"}}


CLUSTER_COLUMNS = (
    "cluster_id",
    "media",
    "appearances",
    "earliest_url",
    "earliest_published_at",
    "earliest_precision",
    "ambiguous",
    "likely_original_sha256",
    "likely_original_url",
    "members",
)


def cluster_row(cluster: Cluster) -> dict[str, Any]:
    """One line of `clusters --csv`."""
    first = appearance_brief(cluster.earliest) if cluster.earliest else {}
    return {
        "cluster_id": cluster.cluster_id,
        "media": len(cluster.members),
        "appearances": len(cluster.appearances),
        "earliest_url": first.get("url"),
        "earliest_published_at": first.get("published_at"),
        "earliest_precision": first.get("precision"),
        "ambiguous": len(cluster.ambiguous_with),
        "likely_original_sha256": cluster.likely_original,
        "likely_original_url": where_seen(cluster, cluster.likely_original),
        "members": " ".join(cluster.members),
    }


TextTable = tuple[str, tuple[str, ...], list[tuple[str, ...]]]  # (title, headers, rows) for people


def _when_text(record: dict[str, Any]) -> str:
    return f"{record['published_at']} ({record['precision']})" if record.get("published_at") else "-"


def _segments_text(segments: Sequence[Segment]) -> str:
    return "\n".join(describe_segment(s) for s in segments) or "-"


def cluster_text(cluster: Cluster) -> tuple[list[str], list[TextTable], list[str]]:
    """A cluster for people: the answer in lines, the evidence as tables, the caveats."""
    head = [
        f"cluster {cluster.cluster_id[:16]}: {len(cluster.members)} media, {len(cluster.appearances)} appearances"
    ]
    for title, a in [
        ("earliest", cluster.earliest),
        *(("ambiguous with", a) for a in cluster.ambiguous_with),
    ]:
        if a is not None:
            head.append(f"{title}: {a.url or a.source_path}, published {_when_text(appearance_brief(a))}")
    head += [
        f"likely original: {cluster.likely_original[:12]} {where_seen(cluster, cluster.likely_original)}",
        cluster.why,
    ]
    appearances = []
    for n, a in enumerate(cluster.appearances, start=1):
        mark = " earliest" if a is cluster.earliest else " ambiguous" if a in cluster.ambiguous_with else ""
        where = a.url or a.source_path or "-"
        cells = (f"{n}{mark}", _when_text(appearance_brief(a)), where, a.uploader or "-", a.sha256[:12])
        appearances.append((*cells, _segments_text(a.segments)))
    edges = [
        (
            d.from_sha256[:12],
            d.to_sha256[:12],
            d.kind.replace("_", " ") + (", mirrored" if d.mirrored else ""),
            d.basis,
            _segments_text(d.segments),
        )
        for d in cluster.derivations
    ]
    others = [
        (utc_iso(t.time.value), t.time.precision, t.time.source, t.sha256[:12], t.meaning)
        for t in cluster.other_times
    ]
    tables: list[TextTable] = [
        (
            "appearances, earliest first",
            ("#", "published", "where", "uploader", "media", "shows (copy ~ original)"),
            appearances,
        ),
        ("derivations", ("source", "copy", "relation", "direction from", "segments (copy ~ source)"), edges),
        ("other times (not upload times)", ("time (UTC)", "precision", "kind", "media", "meaning"), others),
    ]
    return head, [t for t in tables if t[2]], [f"caveat: {note}" for note in cluster.caveats]


def clusters_text(rows: Sequence[dict[str, Any]]) -> TextTable:
    headers = ("cluster", "media", "appearances", "earliest", "published", "likely original")
    cells = [
        (
            r["cluster_id"][:16],
            str(r["media"]),
            str(r["appearances"]),
            r["earliest_url"] or "-",
            _when_text({"published_at": r["earliest_published_at"], "precision": r["earliest_precision"]}),
            r["likely_original_sha256"][:12],
        )
        for r in rows
    ]
    return "", headers, cells


def report_record(path: Path, evidence: Evidence) -> dict[str, Any]:
    """`report --json`: which file was written, about which cluster."""
    cluster = evidence.cluster
    return {
        "type": "report",
        "path": str(path),
        "cluster_id": cluster.cluster_id,
        "appearances": len(cluster.appearances),
        "likely_original": cluster.likely_original,
    }


# -- verify -----------------------------------------------------------------------------------------

VERIFY_COLUMNS = (
    "status",
    "capture_id",
    "sha256",
    "cluster_id",
    "earliest_url",
    "earliest_published_at",
    "earliest_precision",
    "copies",
    "error",
    "error_kind",
)


def verify_record(row: VerifyRow) -> dict[str, Any]:
    """One output row of `verify`: the input columns as given, then ours (ours win a name clash)."""
    stamp = row.earliest_published_at
    ours = {
        "status": row.status,
        "capture_id": row.capture_id,
        "sha256": row.sha256,
        "cluster_id": row.cluster_id,
        "earliest_url": row.earliest_url,
        "earliest_published_at": utc_iso(stamp.value) if stamp else None,
        "earliest_precision": stamp.precision if stamp else None,
        "copies": row.copies,
        "error": row.error.message if row.error else None,
        "error_kind": row.error.kind if row.error else None,
    }
    return {**dict(row.columns), **ours}


def verify_text(rows: Sequence[VerifyRow], records: Sequence[dict[str, Any]]) -> TextTable:
    cells = [
        (
            row.url or "-",
            r["status"],
            r["earliest_url"] or "-",
            _when_text({"published_at": r["earliest_published_at"], "precision": r["earliest_precision"]}),
            str(r["copies"]),
        )
        for row, r in zip(rows, records, strict=True)
    ]
    return "", ("url", "status", "earliest", "published", "copies"), cells


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
    """Write beside the target, fsync, rename: a reader never sees half a file."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.{secrets.token_hex(4)}.part"
    try:
        with tmp.open("w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def write_table(out: Path, records: Sequence[dict[str, Any]], columns: Sequence[str]) -> Path:
    """CSV, or JSON lines when the name ends in .jsonl/.ndjson/.json."""
    return write_text_atomic(out, table_text(records, columns, jsonl=is_jsonl(out)))


def write_html(evidence: Evidence, out: Path) -> Path:
    """The self-contained HTML report of one cluster (no external scripts, styles or fonts)."""
    from .report_html import render_html  # Jinja2 is loaded only when a report is written

    return write_text_atomic(out, render_html(evidence))
