"""The human tables of `info`'s metadata sections: stated times, XMP history, maker notes,
telemetry, Content Credentials, embedded pictures, QuickTime and Matroska facts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rich.table import Table


def _fields(title: str, rows: list[tuple[str, Any]]) -> Table | None:
    shown = [(k, v) for k, v in rows if v not in (None, "", [], {})]
    if not shown:
        return None
    table = Table(show_header=False, title=title, title_justify="left")
    table.add_column("field", style="bold")
    table.add_column("value")
    for key, value in shown:
        table.add_row(key, ", ".join(map(str, value)) if isinstance(value, list) else str(value))
    return table


def _times(record: dict[str, Any]) -> Table | None:
    if not record["times"]:
        return None
    table = Table(
        "origin", "UTC", "zone", "meaning", "as written", title="stated times", title_justify="left"
    )
    for t in record["times"]:
        offset = t["utc_offset_min"]
        zone = (
            "local clock"
            if t["local"]
            else (
                f"UTC{offset // 60:+03d}:{abs(offset) % 60:02d}"
                if t["basis"] == "zone" and offset is not None
                else {"satellite": "UTC (satellite)", "header": "UTC (header)"}.get(t["basis"], "UTC")
            )
        )
        table.add_row(t["origin"], t["value"], zone, t["meaning"], t["text"][:60])
    return table


def _xmp(x: dict[str, Any] | None) -> Iterator[Table | None]:
    if not x:
        return
    yield _fields(
        "XMP",
        [
            ("creator tool", x["creator_tool"]),
            ("document id", x["document_id"]),
            ("instance id", x["instance_id"]),
            ("original document id", x["original_document_id"]),
            ("derived from", x["derived_from_document_id"] or x["derived_from_instance_id"]),
            ("created", x["create_date"]),
            ("modified", x["modify_date"]),
            ("title", x["title"]),
        ],
    )
    if x["history"]:
        table = Table(
            "when", "action", "software", "changed / parameters", title="XMP history", title_justify="left"
        )
        for e in x["history"]:
            table.add_row(
                e["when"] or "-",
                e["action"] or "-",
                e["software_agent"] or "-",
                e["parameters"] or e["changed"] or "",
            )
        yield table


def _c2pa(c: dict[str, Any] | None) -> Iterator[Table | None]:
    if not c:
        return
    yield _fields(
        "Content Credentials (C2PA)",
        [
            ("validation", c["validation_state"]),
            ("failures", c["validation_errors"]),
            ("claim generator", c["claim_generator"]),
            ("signer", c["signer"]),
            ("issuer", c["signer_issuer"]),
            ("signed at", c["signing_time"]),
            ("title", c["title"]),
            ("manifests", c["manifests"]),
            ("actions", [a["action"] for a in c["actions"]]),
            ("ingredients", [f"{i['title']} ({i['relationship']})" for i in c["ingredients"]]),
        ],
    )


def _telemetry(t: dict[str, Any] | None) -> Table | None:
    if not t:
        return None

    def fix(f: dict[str, Any] | None) -> str | None:
        return f"{f['utc'] or '-'} at {f['t_s']:.2f} s: {f['lat']:.6f}, {f['lon']:.6f}" if f else None

    return _fields(
        "telemetry",
        [
            ("format", t["format"]),
            ("devices", t["devices"]),
            ("camera serial", t["camera_serial"]),
            ("track length", f"{t['track_duration_s']:.2f} s" if t["track_duration_s"] else None),
            ("footage start (GPS UTC)", t["start_utc"]),
            ("GPS fixes", t["gps_fixes"]),
            ("first fix", fix(t["first_fix"])),
            ("last fix", fix(t["last_fix"])),
        ],
    )


def metadata_tables(record: dict[str, Any]) -> list[Table]:
    """Every non-empty section of an `info` record as a table, times first."""
    m, i, a, q, k = (record.get(n) or {} for n in ("makernotes", "iptc", "apple", "quicktime", "matroska"))
    tables: list[Table | None] = [
        _times(record),
        *_xmp(record.get("xmp")),
        _fields("IPTC", [(key, value) for key, value in i.items() if key != "properties"]),
        _fields("maker notes", [(key, value) for key, value in m.items() if key != "properties"]),
        _fields("Apple identifiers", list(a.items())),
        _telemetry(record.get("telemetry")),
        *_c2pa(record.get("c2pa")),
        _fields(
            "QuickTime",
            [
                ("major brand", q.get("major_brand")),
                ("movie created", q.get("movie_created")),
                *(q.get("user_data") or {}).items(),
            ],
        ),
        _fields("Matroska", list(k.items())),
    ]
    if record.get("thumbnails"):
        table = Table(
            "origin",
            "size",
            "bytes",
            "dHash distance",
            "shows the main picture",
            title="embedded pictures",
            title_justify="left",
        )
        for t in record["thumbnails"]:
            shows = {True: "yes", False: "NO: edited after the thumbnail?", None: "-"}[t["shows_main"]]
            size = f"{t['width']}x{t['height']}" if t["width"] else "-"
            distance = "-" if t["distance_bits"] is None else str(t["distance_bits"])
            table.add_row(t["origin"], size, str(t["size_bytes"]), distance, shows)
        tables.append(table)
    return [t for t in tables if t is not None]
