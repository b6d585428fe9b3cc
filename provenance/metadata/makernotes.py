"""Maker notes in normalised form: body and lens serials, owner, firmware, the clock's time zone.

libexiv2 decodes the maker notes of Canon, Nikon, Sony, Olympus, Pentax, Fujifilm, Panasonic,
Casio... (`exiv2.py`); the serials some cameras write in standard EXIF (BodySerialNumber) are taken
too.  libexiv2 does not decode Apple's maker note, whose Live Photo and burst identifiers are read
here from its IFD (``Apple iOS\\0``, version, ``MM``, then an IFD whose offsets count from the note's
start), bounded to its own bytes.
"""

from __future__ import annotations

import struct

from ..models import AppleIds, MakerNotes
from .exiv2 import Pairs

_STANDARD_GROUPS = frozenset({"Image", "Photo", "GPSInfo", "Iop", "Thumbnail", "MpfInfo", "MakerNote"})
_BODY_SERIAL = (
    "Exif.Photo.BodySerialNumber",
    "Exif.Canon.SerialNumber",
    "Exif.Nikon3.SerialNumber",
    "Exif.Pentax.SerialNumber",
    "Exif.OlympusEq.SerialNumber",
    "Exif.Olympus.SerialNumber",
    "Exif.Fujifilm.SerialNumber",
    "Exif.Panasonic.InternalSerialNumber",
    "Exif.Sony2.SerialNumber",
    "Exif.Image.CameraSerialNumber",
)
_LENS_SERIAL = (
    "Exif.Photo.LensSerialNumber",
    "Exif.OlympusEq.LensSerialNumber",
    "Exif.Canon.LensSerialNumber",
)
_LENS_MODEL = (
    "Exif.Photo.LensModel",
    "Exif.Canon.LensModel",
    "Exif.OlympusEq.LensModel",
    "Exif.Sony2.LensID",
)
_OWNER = ("Exif.Photo.CameraOwnerName", "Exif.Canon.OwnerName", "Exif.Image.Artist_")
_FIRMWARE = ("Exif.Canon.FirmwareVersion", "Exif.OlympusEq.FirmwareVersion", "Exif.Panasonic.FirmwareVersion")
# Canon writes its serial as a number; SerialNumberFormat says how it is printed (ExifTool's rule).
_CANON_SERIAL_10_DIGITS = 0xA0000000
_MAX_PROPERTIES = 300
_MAX_VALUE_CHARS = 200
_APPLE_MAGIC = b"Apple iOS\x00"


def maker_notes(exif: Pairs, make: str | None) -> MakerNotes | None:
    """The serials, owner and zone the EXIF and its maker note give; None when they give none."""
    found = dict(exif)
    groups = {k.split(".")[1] for k in found if k.count(".") >= 2} - _STANDARD_GROUPS
    properties = tuple((k, v) for k, v in exif if k.split(".")[1] in groups and len(v) <= _MAX_VALUE_CHARS)[
        :_MAX_PROPERTIES
    ]
    zone, dst = _time_zone(found)
    notes = MakerNotes(
        maker=(make or next(iter(sorted(groups)), "")).strip(),
        body_serial=_body_serial(found),
        lens_serial=_first(found, _LENS_SERIAL),
        lens_model=_first(found, _LENS_MODEL),
        owner=_first(found, _OWNER),
        firmware=_first(found, _FIRMWARE),
        time_zone_min=zone,
        dst=dst,
        properties=properties,
    )
    named = (notes.body_serial, notes.lens_serial, notes.owner, notes.time_zone_min, notes.lens_model)
    return notes if properties or any(v is not None for v in named) else None


def _first(found: dict[str, str], keys: tuple[str, ...]) -> str | None:
    return next((found[k].strip() for k in keys if found.get(k, "").strip()), None)


def _body_serial(found: dict[str, str]) -> str | None:
    serial = _first(found, _BODY_SERIAL)
    if serial and found.get("Exif.Canon.SerialNumber") == serial and serial.isdigit():
        fmt = found.get("Exif.Canon.SerialNumberFormat", "")
        if fmt.isdigit() and int(fmt) == _CANON_SERIAL_10_DIGITS:
            return serial.zfill(10)
    return serial


def _time_zone(found: dict[str, str]) -> tuple[int | None, bool | None]:
    """The camera's zone in minutes east of UTC with daylight saving added, and the DST flag."""
    for zone_key, dst_key in (
        ("Exif.NikonWt.Timezone", "Exif.NikonWt.DaylightSavings"),
        ("Exif.CanonTi.TimeZone", "Exif.CanonTi.DaylightSavings"),
    ):
        zone = _int(found.get(zone_key))
        if zone is None or abs(zone) > 14 * 60:
            continue
        dst_value = _int(found.get(dst_key))
        dst = None if dst_value is None else dst_value != 0
        # Nikon's flag is 1 for an hour ahead; Canon's value is the minutes added (60).
        ahead = 60 if dst and (dst_value == 1 or dst_value is None) else (dst_value or 0) if dst else 0
        return zone + ahead, dst
    return None, None


def _int(text: str | None) -> int | None:
    try:
        return int(str(text).split()[0]) if text is not None else None
    except (ValueError, IndexError):
        return None


def apple_ids(maker_note: bytes | None) -> AppleIds | None:
    """Burst and Live Photo identifiers from an Apple maker note (tags 0x000b and 0x0011)."""
    if not maker_note or not maker_note.startswith(_APPLE_MAGIC) or maker_note[12:14] != b"MM":
        return None
    strings = _apple_strings(maker_note)
    ids = AppleIds(media_group_uuid=strings.get(0x0011), burst_uuid=strings.get(0x000B))
    return ids if ids.media_group_uuid or ids.burst_uuid else None


def _apple_strings(note: bytes) -> dict[int, str]:
    """ASCII entries of the Apple maker-note IFD (at offset 14, offsets from the note's start)."""
    if len(note) < 16:
        return {}
    count = struct.unpack(">H", note[14:16])[0]
    found: dict[int, str] = {}
    for i in range(min(count, 200)):
        at = 16 + 12 * i
        if at + 12 > len(note):
            break
        tag, kind, n = struct.unpack(">HHI", note[at : at + 8])
        if kind != 2 or not 0 < n <= 256:  # ASCII only
            continue
        raw = (
            note[at + 8 : at + 8 + n]
            if n <= 4
            else _at(note, struct.unpack(">I", note[at + 8 : at + 12])[0], n)
        )
        text = raw.split(b"\x00")[0].decode("ascii", "replace").strip()
        if text:
            found[tag] = text
    return found


def _at(note: bytes, offset: int, n: int) -> bytes:
    return note[offset : offset + n] if offset >= 0 and offset + n <= len(note) else b""
