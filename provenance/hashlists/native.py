"""The native hash list: one JSON object per line and media, every fingerprint of it, lossless."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import numpy as np

from ..hashing import any_hasher
from ..models import Fingerprint, HashlistEntry, ListContext, ListedAppearance, Timestamp, utc_iso
from .common import (
    MAX_FRAMES,
    MAX_LISTED,
    MAX_TIME_MS,
    PRECISIONS,
    MalformedLine,
    finite,
    hash_array,
    hexes,
    ints,
    load,
    sha256,
    text,
)

NATIVE_TYPE = "media_fingerprints"
NATIVE_VERSION = 1


def _appearance_json(a: ListedAppearance) -> dict[str, Any]:
    ts = a.published_at
    return {
        "url": a.url,
        "published_at": utc_iso(ts.value) if ts else None,
        "precision": ts.precision if ts else None,
    }


def native_line(entry: HashlistEntry) -> str:
    """One media as a line of the native format (no newline)."""
    record: dict[str, Any] = {
        "type": NATIVE_TYPE,
        "version": NATIVE_VERSION,
        "id": entry.external_id,
        "sha256": entry.content_sha256,
        "kind": entry.kind,
        "duration_s": entry.duration_s,
        "fingerprints": [
            {
                "hasher": fp.hasher,
                "bits": int(fp.hashes.shape[1]) * 8,
                "rate_hz": fp.rate_hz,
                "times_ms": fp.times_ms.astype(np.int64).tolist(),
                "hashes": hexes(fp.hashes),
                "quality": fp.quality.astype(np.int64).tolist(),
            }
            for fp in entry.fingerprints
        ],
        "appearances": [_appearance_json(a) for a in entry.appearances],
    }
    if entry.context is not None:
        record["context"] = {
            "names": list(entry.context.names),
            "uploaders": list(entry.context.uploaders),
            "titles": list(entry.context.titles),
        }
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))


def native_entry(line: str) -> HashlistEntry:
    record = load(line)
    if not isinstance(record, dict):
        raise MalformedLine("a native hash list line is one JSON object")
    if record.get("type") != NATIVE_TYPE:
        raise MalformedLine(f'"type" must be "{NATIVE_TYPE}"')
    if record.get("version") != NATIVE_VERSION:
        raise MalformedLine(f"version {record.get('version')!r}: this version of provenance reads version 1")
    content_sha256 = sha256(record.get("sha256"))
    external_id = text(record.get("id"), "id") or content_sha256
    if external_id is None:
        raise MalformedLine('a media needs an "id" or a "sha256"')
    kind = record.get("kind", "video")
    if kind not in ("video", "image"):
        raise MalformedLine('"kind" must be "video" or "image"')
    duration = record.get("duration_s")
    if duration is not None and not finite(duration, 0.0, 1e7):
        raise MalformedLine('"duration_s" must be a number of seconds')
    fingerprints = record.get("fingerprints")
    if not isinstance(fingerprints, list) or not fingerprints or len(fingerprints) > 16:
        raise MalformedLine('"fingerprints" must be a list of 1-16 fingerprints')
    prints = tuple(_native_fingerprint(f, n) for n, f in enumerate(fingerprints, start=1))
    if len({fp.hasher for fp in prints}) != len(prints):
        raise MalformedLine("two fingerprints of one media have the same hasher")
    return HashlistEntry(
        external_id=external_id,
        content_sha256=content_sha256,
        kind=kind,
        duration_s=float(duration) if duration is not None else None,
        fingerprints=prints,
        appearances=_appearances(record.get("appearances", [])),
        context=_context(record.get("context")),
    )


def _native_fingerprint(data: Any, number: int) -> Fingerprint:
    where = f"fingerprint {number}"
    if not isinstance(data, dict):
        raise MalformedLine(f"{where} must be an object")
    name = data.get("hasher")
    hasher = any_hasher(name) if isinstance(name, str) else None
    if hasher is None:
        raise MalformedLine(
            f"{where}: unknown hasher {name!r} (hashes of unknown recipes cannot be compared)"
        )
    if data.get("bits", hasher.bits) != hasher.bits:
        raise MalformedLine(
            f"{where}: {hasher.name} hashes have {hasher.bits} bits, not {data.get('bits')!r}"
        )
    rate = data.get("rate_hz")
    if not finite(rate, 0.01, 60.0):
        raise MalformedLine(f"{where}: rate_hz must be a number of frames a second (0.01-60)")
    times, hashes, quality = data.get("times_ms"), data.get("hashes"), data.get("quality")
    if not all(isinstance(v, list) for v in (times, hashes, quality)):
        raise MalformedLine(f"{where}: times_ms, hashes and quality must be lists")
    if not len(times) == len(hashes) == len(quality):  # type: ignore[arg-type]
        raise MalformedLine(f"{where}: times_ms, hashes and quality must have one value per frame")
    if len(times) > MAX_FRAMES:  # type: ignore[arg-type]
        raise MalformedLine(f"{where}: more than {MAX_FRAMES} frames")
    return Fingerprint(
        sha256="",
        hasher=hasher.name,
        rate_hz=float(rate),
        times_ms=ints(times, 0, MAX_TIME_MS, f"{where}: times_ms").astype(np.int32),  # type: ignore[arg-type]
        hashes=hash_array(hashes, hasher.bits, where),  # type: ignore[arg-type]
        quality=ints(quality, 0, 100, f"{where}: quality").astype(np.uint8),  # type: ignore[arg-type]
    )


def _timestamp(value: Any, precision: Any) -> Timestamp | None:
    if value is None:
        return None
    if precision not in PRECISIONS:
        raise MalformedLine(f"precision must be one of {', '.join(PRECISIONS)}")
    if not isinstance(value, str) or len(value) > 64:
        raise MalformedLine("published_at must be an ISO 8601 time")
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise MalformedLine(f"published_at {value!r} is not an ISO 8601 time") from None
    if when.tzinfo is None:
        if precision in ("second", "minute", "hour"):
            raise MalformedLine(f"published_at {value!r} has no UTC offset")
        when = when.replace(tzinfo=UTC)  # a date: the UTC day, as platforms state dates
    return Timestamp(value=when.astimezone(UTC), precision=precision, source="imported")


def _appearances(data: Any) -> tuple[ListedAppearance, ...]:
    if not isinstance(data, list) or len(data) > MAX_LISTED:
        raise MalformedLine(f'"appearances" must be a list of at most {MAX_LISTED}')
    found = []
    for item in data:
        if not isinstance(item, dict):
            raise MalformedLine("an appearance must be an object with url, published_at, precision")
        found.append(
            ListedAppearance(
                url=text(item.get("url"), "an appearance's url"),
                published_at=_timestamp(item.get("published_at"), item.get("precision")),
            )
        )
    return tuple(found)


def _context(data: Any) -> ListContext | None:
    if data is None:
        return None
    if not isinstance(data, Mapping):
        raise MalformedLine('"context" must be an object')

    def texts(key: str) -> tuple[str, ...]:
        values = data.get(key, [])
        if not isinstance(values, list) or len(values) > MAX_LISTED:
            raise MalformedLine(f"context {key} must be a list of texts")
        return tuple(t for v in values if (t := text(v, f"context {key}")) is not None)

    return ListContext(names=texts("names"), uploaders=texts("uploaders"), titles=texts("titles"))


def entry_digest(entry: HashlistEntry) -> str:
    """A digest of everything an entry carries: the same entry imported twice is recognised.  The
    description (its repr) states each array's length, so the arrays that follow it are unambiguous."""
    prints = (
        entry.fingerprints if len(entry.fingerprints) == 1 else sorted(entry.fingerprints, key=_by_hasher)
    )
    context = entry.context
    described = (
        entry.kind,
        entry.duration_s,
        entry.content_sha256,
        tuple((fp.hasher, fp.rate_hz, fp.frame_count, int(fp.hashes.size)) for fp in prints),
        tuple(
            (a.url, a.published_at.value.isoformat(), a.published_at.precision)
            if a.published_at
            else (a.url,)
            for a in entry.appearances
        ),
        (context.names, context.uploaders, context.titles) if context else None,
    )
    # repr of str, float, int, None and tuples is stable, and cheaper than JSON for a million entries.
    h = hashlib.sha256(repr(described).encode())
    for fp in prints:  # asarray: no copy when the array already has the stored type
        h.update(np.asarray(fp.times_ms, "<i4").tobytes())
        h.update(np.ascontiguousarray(fp.hashes, np.uint8).tobytes())
        h.update(np.asarray(fp.quality, np.uint8).tobytes())
    return h.hexdigest()


def _by_hasher(fp: Fingerprint) -> str:
    return fp.hasher
