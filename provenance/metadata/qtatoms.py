"""The movie header, tracks and user-data atoms of an MP4/QuickTime file, read from the boxes.

FFmpeg exposes the iTunes ``ilst`` items and Apple ``mdta`` keys but not the 3GPP/QuickTime
user-data atoms (``moov/udta``): the ``date`` a phone writes with its zone, ``auth``/``titl``/``dscp``,
iMovie's ``clfn`` clip name, GoPro's ``FIRM``/``LENS``/``CAME``, the ``XMP_`` packet, a ``thmb``
thumbnail.  Nor does it give each track's own duration and start delay, which the footage's
duration needs (the container's duration is the longest track's: a telemetry track, say).

Every read is bounded: atoms are walked with `boxes.boxes` (sizes never trusted) and payloads read
up to fixed limits.  Sample tables are read for one track at a time, up to ``MAX_SAMPLES`` entries.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import BinaryIO

from ..errors import MetadataError
from ..models import QuickTimeInfo, TrackFacts
from . import boxes

MAX_TEXT_BYTES = 64 * 1024
MAX_BLOB_BYTES = 8 * 1024 * 1024  # an XMP packet or a thumbnail
MAX_MOOV_BYTES = 256 * 1024 * 1024
MAX_SAMPLES = 200_000
_EPOCH_1904 = datetime(1904, 1, 1, tzinfo=UTC)
# 3GPP asset atoms (TS 26.244): full box, then a packed language code, then a string.
_ASSET_ATOMS = frozenset({b"titl", b"auth", b"dscp", b"perf", b"gnre", b"cprt", b"albm", b"kywd"})
_XMP_UUID = bytes.fromhex("BE7ACFCB97A942E89C71999491E3AFAC")
# GoPro atoms holding printable text (the others are binary tables).
_TEXT_ATOMS = frozenset({b"FIRM", b"LENS", b"date", b"clfn", b"SDLN", b"smrd", b"name"})


@dataclass(frozen=True, slots=True)
class SampleTable:
    """Where a track's samples are: file offset, size and media time (s) of each."""

    offsets: tuple[int, ...]
    sizes: tuple[int, ...]
    times_s: tuple[float, ...]


def read_quicktime(f: BinaryIO, size: int) -> QuickTimeInfo:
    """The movie header, each track's facts and the user-data atoms; MetadataError when no moov."""
    moov = boxes.child(f, 0, size, b"moov")
    if moov is None:
        raise MetadataError("no moov box")
    if moov[1] - moov[0] > MAX_MOOV_BYTES:
        raise MetadataError("moov box too large to read")
    created, duration, movie_scale = _mvhd(f, *moov)
    user_data = tuple(_user_data(f, *moov))
    found = dict(user_data)
    return QuickTimeInfo(
        major_brand=_major_brand(f, size),
        movie_created=created,
        movie_duration_s=duration,
        tracks=tuple(_tracks(f, *moov, movie_scale)),
        user_data=user_data,
        date=found.get("date"),
        author=found.get("auth") or found.get("©aut"),
        title=found.get("titl") or found.get("©nam"),
        clip_name=found.get("clfn"),
    )


def _major_brand(f: BinaryIO, size: int) -> str | None:
    ftyp = boxes.child(f, 0, min(size, 4096), b"ftyp")
    if ftyp is None:
        return None
    brand = boxes.read_payload(f, ftyp[0], ftyp[1], 4)
    return brand.decode("latin-1").strip() or None if len(brand) == 4 else None


def _full_box_times(payload: bytes) -> tuple[int, int, int, int] | None:
    """(creation s since 1904, modification, timescale, duration) of an mvhd/mdhd payload."""
    if not payload:
        return None
    if payload[0] == 1 and len(payload) >= 32:
        return struct.unpack(">QQIQ", payload[4:32])
    if len(payload) >= 20:
        return struct.unpack(">IIII", payload[4:20])
    return None


def mp4_time(seconds_since_1904: int) -> datetime | None:
    """A movie-header time (seconds since 1904, UTC by the format's rule); None for 0 (unset)."""
    if seconds_since_1904 <= 0:
        return None
    try:
        return _EPOCH_1904 + timedelta(seconds=seconds_since_1904)
    except OverflowError:
        return None


def _mvhd(f: BinaryIO, start: int, end: int) -> tuple[str | None, float | None, int]:
    """(creation time as written, duration s, movie timescale) of the movie header."""
    span = boxes.child(f, start, end, b"mvhd")
    parsed = _full_box_times(boxes.read_payload(f, *span, 64)) if span else None
    if parsed is None:
        return None, None, 0
    created = mp4_time(parsed[0])
    duration = parsed[3] / parsed[2] if parsed[2] and parsed[3] not in (0, 0xFFFFFFFF) else None
    return (created.strftime("%Y-%m-%dT%H:%M:%S") if created else None), duration, parsed[2]


def _tracks(f: BinaryIO, start: int, end: int, movie_scale: int) -> list[TrackFacts]:
    tracks = []
    for kind, trak_start, trak_end in boxes.boxes(f, start, end):
        if kind == b"trak":
            facts = track_facts(f, trak_start, trak_end, movie_scale)
            if facts is not None:
                tracks.append(facts)
    return tracks


def track_facts(f: BinaryIO, start: int, end: int, movie_scale: int) -> TrackFacts | None:
    """A ``trak`` box's id, handler, own duration and start delay; None when it has no headers."""
    tkhd = boxes.child(f, start, end, b"tkhd")
    mdhd = boxes.path(f, start, end, b"mdia", b"mdhd")
    hdlr = boxes.path(f, start, end, b"mdia", b"hdlr")
    if tkhd is None or mdhd is None or hdlr is None:
        return None
    head = boxes.read_payload(f, *tkhd, 32)
    track_id_at = 20 if head[:1] == b"\x01" else 12
    if len(head) < track_id_at + 4:
        return None
    track_id = struct.unpack(">I", head[track_id_at : track_id_at + 4])[0]
    times = _full_box_times(boxes.read_payload(f, *mdhd, 64))
    timescale = times[2] if times else 0
    duration = times[3] / timescale if times and timescale and times[3] != 0xFFFFFFFF else None
    handler = boxes.read_payload(f, *hdlr, 256)
    # QuickTime writes the name as a Pascal string (a length byte first), MP4 as a C string.
    raw_name = handler[24:]
    if (raw_name and raw_name[0] == len(raw_name) - 1) or (raw_name[:1] and raw_name[0] < 0x20):
        raw_name = raw_name[1 : 1 + raw_name[0]]
    name = raw_name.split(b"\x00")[0].decode("utf-8", "replace").strip() or None
    return TrackFacts(
        track_id=track_id,
        handler=handler[8:12].decode("latin-1") if len(handler) >= 12 else "",
        handler_name=name,
        duration_s=duration,
        start_s=_edit_delay_s(f, start, end, movie_scale),
        sample_format=_sample_format(f, start, end),
    )


def _edit_delay_s(f: BinaryIO, start: int, end: int, movie_scale: int) -> float:
    """Seconds of empty edits (media time -1) before the track's media starts playing."""
    elst = boxes.path(f, start, end, b"edts", b"elst")
    if elst is None or not movie_scale:
        return 0.0
    payload = boxes.read_payload(f, *elst, 8 + 20 * 64)
    if len(payload) < 8:
        return 0.0
    version, count = payload[0], struct.unpack(">I", payload[4:8])[0]
    entry = 20 if version == 1 else 12
    delay = 0
    for i in range(min(count, 64)):
        at = 8 + i * entry
        if len(payload) < at + entry:
            break
        if version == 1:
            duration, media_time = struct.unpack(">Qq", payload[at : at + 16])
        else:
            duration, media_time = struct.unpack(">Ii", payload[at : at + 8])
        if media_time != -1:
            break
        delay += duration
    return delay / movie_scale


def _sample_format(f: BinaryIO, start: int, end: int) -> str | None:
    stsd = boxes.path(f, start, end, b"mdia", b"minf", b"stbl", b"stsd")
    payload = boxes.read_payload(f, *stsd, 16) if stsd else b""
    return payload[12:16].decode("latin-1") if len(payload) >= 16 else None


def sample_table(f: BinaryIO, trak_start: int, trak_end: int) -> SampleTable:
    """Offsets, sizes and times of a track's samples (stco/co64, stsc, stsz, stts), bounded."""
    stbl = boxes.path(f, trak_start, trak_end, b"mdia", b"minf", b"stbl")
    mdhd = boxes.path(f, trak_start, trak_end, b"mdia", b"mdhd")
    if stbl is None or mdhd is None:
        raise MetadataError("track without a sample table")
    times = _full_box_times(boxes.read_payload(f, *mdhd, 64))
    timescale = times[2] if times else 0
    if not timescale:
        raise MetadataError("track without a timescale")
    sizes = _stsz(f, *stbl)
    chunks = _chunk_offsets(f, *stbl)
    per_chunk = _stsc(f, *stbl, len(chunks))
    offsets: list[int] = []
    for chunk_offset, count in zip(chunks, per_chunk, strict=True):
        pos = chunk_offset
        for _ in range(count):
            if len(offsets) >= len(sizes):
                break
            offsets.append(pos)
            pos += sizes[len(offsets) - 1]
    starts = _stts(f, *stbl, len(offsets))
    n = min(len(offsets), len(starts))
    return SampleTable(tuple(offsets[:n]), tuple(sizes[:n]), tuple(t / timescale for t in starts[:n]))


def _table(f: BinaryIO, start: int, end: int, kind: bytes, entry: int, header: int = 8) -> tuple[bytes, int]:
    span = boxes.child(f, start, end, kind)
    if span is None:
        return b"", 0
    payload = boxes.read_payload(f, *span, header + entry * MAX_SAMPLES)
    if len(payload) < header:
        return b"", 0
    count = struct.unpack(">I", payload[header - 4 : header])[0]
    return payload[header:], min(count, (len(payload) - header) // entry)


def _stsz(f: BinaryIO, start: int, end: int) -> list[int]:
    span = boxes.child(f, start, end, b"stsz")
    head = boxes.read_payload(f, *span, 12) if span else b""
    if len(head) < 12:
        raise MetadataError("track without sample sizes")
    uniform, count = struct.unpack(">II", head[4:12])
    if uniform:
        return [uniform] * min(count, MAX_SAMPLES)
    body, n = _table(f, start, end, b"stsz", 4, header=12)
    return list(struct.unpack(f">{n}I", body[: 4 * n]))


def _chunk_offsets(f: BinaryIO, start: int, end: int) -> list[int]:
    body, n = _table(f, start, end, b"stco", 4)
    if n:
        return list(struct.unpack(f">{n}I", body[: 4 * n]))
    body, n = _table(f, start, end, b"co64", 8)
    return list(struct.unpack(f">{n}Q", body[: 8 * n]))


def _stsc(f: BinaryIO, start: int, end: int, chunks: int) -> list[int]:
    """Samples in each chunk, expanded from the sample-to-chunk runs."""
    body, n = _table(f, start, end, b"stsc", 12)
    runs = [struct.unpack(">III", body[i * 12 : i * 12 + 12]) for i in range(n)]
    per_chunk: list[int] = []
    for i, (first, samples, _) in enumerate(runs):
        last = runs[i + 1][0] - 1 if i + 1 < len(runs) else chunks
        per_chunk.extend([samples] * max(0, min(last, chunks) - first + 1))
    return per_chunk[:chunks]


def _stts(f: BinaryIO, start: int, end: int, samples: int) -> list[int]:
    """Start time of each sample in track timescale units."""
    body, n = _table(f, start, end, b"stts", 8)
    starts: list[int] = []
    t = 0
    for i in range(n):
        count, delta = struct.unpack(">II", body[i * 8 : i * 8 + 8])
        for _ in range(min(count, samples - len(starts))):
            starts.append(t)
            t += delta
        if len(starts) >= samples:
            break
    return starts


def _user_data(f: BinaryIO, start: int, end: int) -> list[tuple[str, str]]:
    udta = boxes.child(f, start, end, b"udta")
    if udta is None:
        return []
    found = []
    for kind, payload_start, payload_end in boxes.boxes(f, *udta):
        text = _atom_text(kind, boxes.read_payload(f, payload_start, payload_end, MAX_TEXT_BYTES))
        if text:
            found.append((kind.decode("latin-1"), text))
    return found


def _atom_text(kind: bytes, payload: bytes) -> str | None:
    """A user-data atom as text, or None for binary atoms (tables, hashes, thumbnails)."""
    if kind in _ASSET_ATOMS and payload[:4] == b"\x00\x00\x00\x00" and len(payload) > 6:
        body = payload[6:]  # version/flags, then the packed language code
        if body.startswith((b"\xfe\xff", b"\xff\xfe")):
            return _clean(body.decode("utf-16", "replace"))
        return _clean(body.split(b"\x00")[0].decode("utf-8", "replace"))
    if kind[:1] == b"\xa9" and len(payload) > 4:
        length = struct.unpack(">H", payload[:2])[0]
        return _clean(payload[4 : 4 + length].decode("utf-8", "replace"))
    if kind == b"date" and payload[:4] == b"\x00\x00\x00\x00":
        payload = payload[4:]  # a 3GPP full-box header before the text
    if kind in _TEXT_ATOMS or kind in _ASSET_ATOMS:  # iMovie writes some asset atoms as bare text
        return _clean(payload.split(b"\x00")[0].decode("utf-8", "replace"))
    return None


def _clean(text: str) -> str | None:
    text = text.replace("\x00", "").strip()
    return text[:1000] or None if text.isprintable() else None


def udta_blob(f: BinaryIO, size: int, kind: bytes) -> bytes | None:
    """The raw payload of one ``moov/udta`` atom (``XMP_``, ``thmb``, ``GPMF``), up to a limit."""
    span = boxes.path(f, 0, size, b"moov", b"udta", kind)
    return boxes.read_payload(f, *span, MAX_BLOB_BYTES) if span else None


def xmp_packet(f: BinaryIO, size: int) -> bytes | None:
    """The XMP packet: ``moov/udta/XMP_`` (QuickTime) or a ``uuid`` box with the XMP UUID (MP4)."""
    packet = udta_blob(f, size, b"XMP_")
    if packet:
        return packet
    moov = boxes.child(f, 0, size, b"moov")
    for start, end in ((0, size), moov or (0, 0)):
        for kind, payload_start, payload_end in boxes.boxes(f, start, end):
            if kind == b"uuid":
                head = boxes.read_payload(f, payload_start, payload_end, 16)
                if head == _XMP_UUID:
                    return boxes.read_payload(f, payload_start + 16, payload_end, MAX_BLOB_BYTES)
    return None


def trak_spans(f: BinaryIO, size: int) -> list[tuple[int, int]]:
    """(payload start, end) of each ``moov/trak``."""
    moov = boxes.child(f, 0, size, b"moov")
    if moov is None:
        return []
    return [(s, e) for kind, s, e in boxes.boxes(f, *moov) if kind == b"trak"]
