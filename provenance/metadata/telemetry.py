"""GoPro GPMF telemetry: devices, camera serial, the GPS track with satellite UTC times.

GPMF is a KLV format: a 4-character key, a type character, a structure size (1 byte), a repeat
count (2 bytes), then ``size * repeat`` bytes padded to 4.  Type 0 nests KLVs (``DEVC`` devices
holding ``STRM`` streams).  The track (``gpmd`` sample entry) holds one payload per second or so;
``moov/udta/GPMF`` holds the camera's global settings (serial ``CASN``, model ``MINF``).

GPS comes as ``GPS5`` (lat, lon, alt, 2-D and 3-D speed) with one ``GPSU`` UTC time per payload
and a fix type (``GPSF``), as ``GPS9`` (each sample with its own days-since-2000 and seconds), or
from a Karma drone as ``GPRI`` samples timed by the drone's clock, which ``SYST`` ties to Unix time.

Untrusted input: nesting depth, payload sizes, payload count and items per payload are bounded,
structure sizes are checked against the declared types, and a payload that lies about its sizes is
skipped; a track that yields nothing raises MetadataError.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from statistics import median
from typing import BinaryIO

from ..errors import MetadataError
from ..models import GpsFix, Telemetry
from . import qtatoms

MAX_PAYLOAD_BYTES = 1 << 20
MAX_PAYLOADS = 20_000
MAX_ITEMS = 20_000
MAX_DEPTH = 4
# struct codes and sizes of GPMF value types ("c" text, "U" UTC string, "F" FourCC, "G" GUID as bytes).
_FORMATS = {
    "b": "b",
    "B": "B",
    "s": "h",
    "S": "H",
    "l": "i",
    "L": "I",
    "f": "f",
    "d": "d",
    "j": "q",
    "J": "Q",
    "q": "i",
    "Q": "q",
}
_EPOCH_2000 = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class _Klv:
    key: str
    type: str
    struct_size: int
    repeat: int
    data: bytes


def klvs(data: bytes, depth: int = 0) -> Iterator[_Klv]:
    """The KLVs of one nesting level; stops at a zero key or a size past the end."""
    pos, items = 0, 0
    while pos + 8 <= len(data) and items < MAX_ITEMS:
        key = data[pos : pos + 4]
        if key == b"\x00\x00\x00\x00" or not all(0x20 <= c < 0x7F for c in key):
            return
        type_char, struct_size = chr(data[pos + 4]), data[pos + 5]
        repeat = struct.unpack(">H", data[pos + 6 : pos + 8])[0]
        length = struct_size * repeat
        if pos + 8 + length > len(data):
            raise MetadataError(f"GPMF {key!r} runs past its payload")
        yield _Klv(key.decode("ascii"), type_char, struct_size, repeat, data[pos + 8 : pos + 8 + length])
        pos += 8 + (length + 3) // 4 * 4
        items += 1


def nested(klv: _Klv, depth: int) -> Iterator[_Klv]:
    if klv.type != "\x00" or depth >= MAX_DEPTH:
        return iter(())
    return klvs(klv.data, depth + 1)


def text(klv: _Klv) -> str:
    return klv.data.split(b"\x00")[0].decode("latin-1").strip()


def values(klv: _Klv, types: str | None = None) -> list[tuple[float | int, ...]]:
    """Samples of a KLV as tuples: one per repeat, one element per field (``types`` for "?")."""
    if klv.type == "?":
        if not types or any(t not in _FORMATS for t in types):
            return []
        fmt = ">" + "".join(_FORMATS[t] for t in types)
    elif klv.type in _FORMATS:
        size = struct.calcsize(">" + _FORMATS[klv.type])
        if klv.struct_size % size:
            return []
        fmt = ">" + _FORMATS[klv.type] * (klv.struct_size // size)
    else:
        return []
    if struct.calcsize(fmt) != klv.struct_size:
        return []
    return [struct.unpack_from(fmt, klv.data, i * klv.struct_size) for i in range(klv.repeat)]


def _gpsu(klv: _Klv) -> datetime | None:
    """``yymmddhhmmss.sss`` as UTC."""
    try:
        return datetime.strptime(klv.data[:16].decode("ascii"), "%y%m%d%H%M%S.%f").replace(tzinfo=UTC)
    except (UnicodeDecodeError, ValueError):
        return None


@dataclass
class _Reading:
    """What the payloads gave, gathered while walking them (one reader, never shared)."""

    devices: list[str]
    streams: set[str]
    fixes: list[GpsFix]
    # (payload media time - GPS UTC) pairs: the footage's start in UTC is their median.
    clock: list[tuple[float, datetime]]
    models: set[str]
    camera_serial: str | None = None
    payloads: int = 0


def read_telemetry(path: Path) -> Telemetry | None:
    """The GPMF telemetry of an MP4 with a ``gpmd`` track (GoPro), None when it has none."""
    size = os.path.getsize(path)
    reading = _Reading(devices=[], streams=set(), fixes=[], clock=[], models=set())
    with path.open("rb") as f:
        if not qtatoms.boxes.looks_iso_bmff(f):
            return None
        track = _gpmd_track(f, size)
        settings = qtatoms.udta_blob(f, size, b"GPMF")
        if track is None and not settings:
            return None
        if settings:
            _read_payload(settings, 0.0, 0.0, reading)
            # The settings' device names are sections ("Global Settings", "Front Lens"); the model
            # (MINF) was kept, the recording devices come from the track.
            reading.devices = [d for d in reading.devices if d in reading.models]
        duration = track[1] if track else None
        if track is not None:
            _read_track(f, track[0], duration, reading)
    if track is not None and reading.payloads == 0:
        raise MetadataError("GPMF track without a readable payload")
    fixes = [fx for fx in reading.fixes if fx.fix is None or fx.fix >= 2]
    return Telemetry(
        format="GPMF",
        devices=tuple(dict.fromkeys(d for d in reading.devices if d)),
        track_duration_s=duration,
        payloads=reading.payloads,
        gps_fixes=len(fixes),
        first_fix=fixes[0] if fixes else None,
        last_fix=fixes[-1] if fixes else None,
        camera_serial=reading.camera_serial,
        model=next(iter(sorted(reading.models)), None),
        streams=tuple(sorted(reading.streams)),
        start_utc=_median_start(reading.clock),
    )


def _read_track(f: BinaryIO, span: tuple[int, int], duration: float | None, reading: _Reading) -> None:
    table = qtatoms.sample_table(f, *span)
    times = table.times_s
    for i, (offset, length, t_s) in enumerate(zip(table.offsets, table.sizes, times, strict=True)):
        if i >= MAX_PAYLOADS:
            break
        if length > MAX_PAYLOAD_BYTES:
            continue
        f.seek(offset)
        data = f.read(length)
        next_t = times[i + 1] if i + 1 < len(times) else (duration or t_s + 1.0)
        try:
            _read_payload(data, t_s, max(0.0, next_t - t_s), reading)
        except MetadataError:
            continue  # one damaged payload does not hide the others
        reading.payloads += 1


def _gpmd_track(f: BinaryIO, size: int) -> tuple[tuple[int, int], float | None] | None:
    for start, end in qtatoms.trak_spans(f, size):
        facts = qtatoms.track_facts(f, start, end, 0)
        if facts is not None and facts.sample_format == "gpmd":
            return (start, end), facts.duration_s
    return None


def _read_payload(data: bytes, t_s: float, span_s: float, reading: _Reading) -> None:
    for devc in klvs(data):
        if devc.key != "DEVC":
            continue
        streams = []
        for item in nested(devc, 0):
            if item.key in ("DVNM", "MINF"):
                reading.devices.append(text(item))
                if item.key == "MINF":
                    reading.models.add(text(item))
            elif item.key == "CASN":
                reading.camera_serial = text(item) or reading.camera_serial
            elif item.key == "STRM":
                streams.append({k.key: k for k in nested(item, 1)})
        _read_device(streams, t_s, span_s, reading)


def _read_device(streams: list[dict[str, _Klv]], t_s: float, span_s: float, reading: _Reading) -> None:
    # A Karma drone times its GPS by its own clock; its SYST stream says what UTC that clock means.
    system_clock = next((_syst(s) for s in streams if "SYST" in s), None)
    for found in streams:
        reading.streams.update(k for k in found if k not in _META_KEYS)
        types = text(found["TYPE"]) if "TYPE" in found else None
        if "GPS5" in found:
            _gps5(found, t_s, span_s, reading)
        elif "GPS9" in found:
            _gps9(found, types, t_s, span_s, reading)
        elif "GLPI" in found:
            _karma(found, "GLPI", types or "LllllsssS", system_clock, t_s, span_s, reading)


_META_KEYS = frozenset(
    {
        "STMP",
        "TSMP",
        "STNM",
        "SIUN",
        "UNIT",
        "SCAL",
        "TYPE",
        "TICK",
        "TOCK",
        "EMPT",
        "TMPC",
        "MTRX",
        "ORIN",
        "ORIO",
        "GPSU",
        "GPSF",
        "GPSP",
        "GPSA",
        "VPTS",
    }
)


def _scales(found: dict[str, _Klv], width: int) -> list[float]:
    scal = found.get("SCAL")
    raw = [v[0] for v in values(scal)] if scal is not None else []
    scales = [float(s) or 1.0 for s in raw] or [1.0]
    return scales * width if len(scales) == 1 else (scales + [1.0] * width)[:width]


def _first(found: dict[str, _Klv], key: str) -> float | None:
    got = values(found[key]) if key in found else []
    return float(got[0][0]) if got and got[0] else None


def _gps5(found: dict[str, _Klv], t_s: float, span_s: float, reading: _Reading) -> None:
    samples = values(found["GPS5"])
    scales = _scales(found, 5)
    utc = _gpsu(found["GPSU"]) if "GPSU" in found else None
    fix = _first(found, "GPSF")
    dop = _first(found, "GPSP")
    if utc is not None and (fix is None or fix >= 2):
        reading.clock.append((t_s, utc))
    for k, sample in enumerate(samples):
        lat, lon, alt = (sample[i] / scales[i] for i in range(3))
        offset = span_s * k / len(samples)
        # GPSU is the payload's one UTC time (ExifTool shows it as the first sample's); the others
        # follow at the stream's rate.
        when = utc + timedelta(seconds=offset) if utc is not None else None
        fix_type = int(fix) if fix is not None else None
        _add_fix(reading, GpsFix(round(t_s + offset, 3), when, lat, lon, alt, fix_type, dop and dop / 100))


def _gps9(found: dict[str, _Klv], types: str | None, t_s: float, span_s: float, reading: _Reading) -> None:
    samples = values(found["GPS9"], types or "lllllllSS")
    scales = _scales(found, 9)
    for k, sample in enumerate(samples):
        lat, lon, alt = (sample[i] / scales[i] for i in range(3))
        days, secs = sample[5] / scales[5], sample[6] / scales[6]
        when = _EPOCH_2000 + timedelta(days=days, seconds=secs)
        dop, fix = sample[7] / scales[7], int(sample[8])
        at = round(t_s + span_s * k / len(samples), 3)
        if fix >= 2:
            reading.clock.append((at, when))
        _add_fix(reading, GpsFix(at, when, lat, lon, alt, fix, dop))


def _syst(found: dict[str, _Klv]) -> tuple[float, datetime] | None:
    """(system clock s, the UTC it stood for) from a SYST sample."""
    samples = values(found["SYST"], text(found["TYPE"]) if "TYPE" in found else "JJ")
    scales = _scales(found, 2)
    if not samples or len(samples[0]) < 2:
        return None
    try:
        unix = datetime.fromtimestamp(samples[0][1] / scales[1], tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None
    return samples[0][0] / scales[0], unix


def _karma(
    found: dict[str, _Klv],
    key: str,
    types: str,
    clock: tuple[float, datetime] | None,
    t_s: float,
    span_s: float,
    reading: _Reading,
) -> None:
    """Karma drone position (GLPI: system time, lat, lon, alt, ...), timed in UTC through the
    drone's SYST.  Its raw GPS (GPRI) is the same track before filtering; one is enough."""
    samples = values(found[key], types)
    if not samples or len(samples[0]) < 4:
        return
    scales = _scales(found, len(samples[0]))
    for k, sample in enumerate(samples):
        lat, lon, alt = (sample[i] / scales[i] for i in (1, 2, 3))
        when = clock[1] + timedelta(seconds=sample[0] / scales[0] - clock[0]) if clock else None
        at = round(t_s + span_s * k / len(samples), 3)
        if when is not None and k == 0:
            reading.clock.append((at, when))
        _add_fix(reading, GpsFix(at, when, lat, lon, alt))


def _add_fix(reading: _Reading, fix: GpsFix) -> None:
    if -90 <= fix.lat <= 90 and -180 <= fix.lon <= 180 and not (fix.lat == 0 and fix.lon == 0):
        reading.fixes.append(fix)


def _median_start(clock: list[tuple[float, datetime]]) -> datetime | None:
    """The UTC time at media time 0: the median over payloads of (GPS UTC - media time), so one
    stale fix (a first payload repeating an older time) does not move it."""
    if not clock:
        return None
    base = clock[0][1]
    offsets = [(utc - base).total_seconds() - t for t, utc in clock]
    return base + timedelta(seconds=median(offsets))
