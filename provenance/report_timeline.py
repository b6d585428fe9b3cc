"""Clusters and timelines for people and scripts: the `earliest`, `clusters` and `verify` records
(the JSON contract), their CSV rows, and the tables the CLI prints."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .models import (
    Appearance,
    Availability,
    Cluster,
    Derivation,
    Evidence,
    OtherTime,
    Segment,
    Timestamp,
    VerifyRow,
    to_jsonable,
    utc_iso,
)
from .report import describe_segment, segment_record


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
        "imported_from": a.imported_from,
        "availability": to_jsonable(a.availability, top=False) if a.availability else None,
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
        "document_links": [to_jsonable(link, top=False) for link in cluster.document_links],
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


def when_text(ts: Timestamp | None) -> str:
    """A time for people: a date alone for day precision, else date and time (UTC)."""
    if ts is None:
        return "-"
    if ts.precision in ("day", "month", "year"):
        return f"{ts.value:%Y-%m-%d} ({ts.precision})"
    return f"{ts.value:%Y-%m-%d %H:%M:%S}Z ({ts.precision})"


def _segments_text(segments: Sequence[Segment]) -> str:
    return "\n".join(describe_segment(s) for s in segments) or "-"


def cluster_text(cluster: Cluster) -> tuple[list[str], list[TextTable], list[str]]:
    """A cluster for people: the answer in lines, the evidence as tables, the caveats."""
    size = f"{len(cluster.members)} media, {len(cluster.appearances)} appearances"
    head = [f"cluster {cluster.cluster_id[:16]}: {size}"]
    for title, a in [
        ("earliest", cluster.earliest),
        *(("ambiguous with", a) for a in cluster.ambiguous_with),
    ]:
        if a is not None:
            head.append(f"{title}: {a.url or a.source_path}, published {when_text(a.published_at)}")
    head += [
        f"likely original: {cluster.likely_original[:12]} {where_seen(cluster, cluster.likely_original)}",
        cluster.why,
    ]
    appearances = []
    for n, a in enumerate(cluster.appearances, start=1):
        mark = " earliest" if a is cluster.earliest else " ambiguous" if a in cluster.ambiguous_with else ""
        where = a.url or a.source_path or "-"
        cells = (f"{n}{mark}", when_text(a.published_at), where, a.uploader or "-", a.sha256[:12])
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
    others = [(when_text(t.time), t.time.source, t.sha256[:12], t.meaning) for t in cluster.other_times]
    links = [
        (link.from_sha256[:12], link.to_sha256[:12], link.relation.replace("_", " "), link.document_id)
        for link in cluster.document_links
    ]
    tables: list[TextTable] = [
        (
            "appearances, earliest first",
            ("#", "published", "where", "uploader", "media", "shows (copy ~ original)"),
            appearances,
        ),
        ("derivations", ("source", "copy", "relation", "direction from", "segments (copy ~ source)"), edges),
        ("other times (not upload times)", ("time (UTC)", "kind", "media", "meaning"), others),
        ("XMP document links (derivation the files state)", ("from", "to", "relation", "shared id"), links),
    ]
    return (
        head,
        [t for t in tables if t[2]],
        gone_lines(cluster) + [f"caveat: {note}" for note in cluster.caveats],
    )


def gone_lines(cluster: Cluster) -> list[str]:
    """ "#n URL: removed between T1 and T2 ..." for each appearance whose post is gone."""
    return [
        f"#{n} {a.url}: {text}"
        for n, a in enumerate(cluster.appearances, start=1)
        if a.url and (text := gone_text(a.availability))
    ]


def gone_text(availability: Availability | None) -> str | None:
    """ "removed between T1 and T2" for people, once rechecks found the post gone; None while it is up."""
    a = availability
    if a is None or a.first_seen_gone is None:
        return None
    words = f': "{a.words}"' if a.words else ""
    return (
        f"{a.status.replace('_', ' ')} between {utc_iso(a.last_seen_available.replace(microsecond=0))}"
        f" (last seen) and {utc_iso(a.first_seen_gone.replace(microsecond=0))} (first seen gone){words}"
    )


def clusters_text(found: Sequence[Cluster]) -> TextTable:
    headers = ("cluster", "media", "seen", "earliest", "published", "original")
    cells = [
        (
            c.cluster_id[:16],
            str(len(c.members)),
            str(len(c.appearances)),
            (c.earliest.url or "-") if c.earliest else "-",
            when_text(c.earliest.published_at if c.earliest else None),
            c.likely_original[:12],
        )
        for c in found
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


def verify_text(rows: Sequence[VerifyRow]) -> TextTable:
    cells = [
        (r.status, r.url or "-", r.earliest_url or "-", when_text(r.earliest_published_at), str(r.copies))
        for r in rows
    ]
    return "", ("status", "url", "earliest", "published", "copies"), cells
