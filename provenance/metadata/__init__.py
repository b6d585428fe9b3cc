"""Everything a file says about itself beyond its container tags and basic EXIF.

`describe_video` and `describe_photo` take the MediaInfo that `probe.py` / `exif.py` read and add
the sections each reader here owns: XMP (`xmp.py`, parsed by libexiv2 in `exiv2.py`), IPTC
(`iptc.py`), maker notes and Apple identifiers (`makernotes.py`), GoPro telemetry (`telemetry.py`),
QuickTime user data (`qtatoms.py`), Matroska Segment Info (`matroska.py`), Content Credentials
(`c2pa_read.py`), embedded pictures (`thumbnails.py`), and then the capture time chosen among every
stated time (`capturetime.py`).

Each section is read on its own: a damaged or hostile block becomes a caveat of the file (the
section stays empty) and never fails `info` or `add`.  A missing optional extra is a caveat that
names its pip line.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

from PIL import Image

from ..errors import MetadataError
from ..models import AppleIds, C2paInfo, MakerNotes, MediaInfo, QuickTimeInfo, Telemetry, XmpInfo
from . import c2pa_read, exiv2, iptc, makernotes, qtatoms, thumbnails, xmp
from .boxes import looks_iso_bmff
from .capturetime import with_capture_time
from .matroska import read_matroska
from .telemetry import read_telemetry

__all__ = ["describe_photo", "describe_video"]

logger = logging.getLogger(__name__)
T = TypeVar("T")
_EXIF_IFD, _MAKER_NOTE = 0x8769, 0x927C
# Errors a parser of our own can meet on bytes that lie about themselves.
_PARSE_ERRORS = (MetadataError, OSError, struct.error, ValueError, IndexError, KeyError, OverflowError)


def _guard(section: str, caveats: list[str], read: Callable[[], T]) -> T | None:
    try:
        return read()
    except _PARSE_ERRORS as exc:
        caveats.append(f"{section} not read: {exc}"[:300])
    except Exception as exc:  # a library's own failure on hostile input must not fail the file
        logger.debug("%s reader failed", section, exc_info=True)
        caveats.append(f"{section} not read: {type(exc).__name__}: {exc}"[:300])
    return None


def describe_video(info: MediaInfo, path: Path) -> MediaInfo:
    """A video's QuickTime atoms, XMP, telemetry, Matroska info and credentials; its capture time."""
    caveats: list[str] = []
    size = path.stat().st_size
    quicktime = packet = thumb = None
    with path.open("rb") as f:
        if looks_iso_bmff(f):
            quicktime = _guard("QuickTime atoms", caveats, lambda: qtatoms.read_quicktime(f, size))
            packet = _guard("XMP packet", caveats, lambda: qtatoms.xmp_packet(f, size))
            thumb = _guard("QuickTime thumbnail", caveats, lambda: qtatoms.udta_blob(f, size, b"thmb"))
    telemetry = _guard("GPMF telemetry", caveats, lambda: read_telemetry(path)) if quicktime else None
    matroska = (
        _guard("Matroska info", caveats, lambda: read_matroska(path))
        if info.container == "matroska"
        else None
    )
    xmp_info = _guard("XMP", caveats, lambda: _video_xmp(packet, caveats)) if packet else None
    tags = dict(info.raw_tags)
    content_id = tags.get("format:com.apple.quicktime.content.identifier")
    enriched = replace(
        info,
        quicktime=quicktime,
        telemetry=telemetry,
        matroska=matroska,
        xmp=xmp_info,
        makernotes=_camera_atoms(quicktime, telemetry),
        apple=AppleIds(content_identifier=content_id) if content_id else None,
        thumbnails=_guard("thumbnails", caveats, lambda: thumbnails.movie_thumbnail(thumb)) or (),
        c2pa=_credentials(path, info.container, caveats),
    )
    if info.model is None and telemetry is not None and telemetry.model:
        enriched = replace(enriched, make=info.make or "GoPro", model=telemetry.model)
    return with_capture_time(replace(enriched, caveats=(*info.caveats, *caveats)))


def _video_xmp(packet: bytes, caveats: list[str]) -> XmpInfo | None:
    pairs = exiv2.read_xmp_packet(packet)
    if pairs is None:
        caveats.append(f"the XMP packet ({len(packet)} bytes) is not read without pyexiv2: {exiv2.PIP_LINE}")
        return None
    if not pairs:
        caveats.append(f"the XMP packet ({len(packet)} bytes) holds no readable property")
    return xmp.xmp_info(pairs)


def _camera_atoms(quicktime: QuickTimeInfo | None, telemetry: Telemetry | None) -> MakerNotes | None:
    """GoPro's serials and firmware (``LENS``/``FIRM`` atoms, GPMF ``CASN``) as a video's maker notes."""
    found = dict(quicktime.user_data) if quicktime else {}
    body = telemetry.camera_serial if telemetry else None
    if not (found.get("LENS") or (found.get("FIRM") and body)):
        return None
    return MakerNotes(
        maker="GoPro",
        body_serial=body,
        lens_serial=found.get("LENS"),
        firmware=found.get("FIRM"),
        properties=tuple((k, v) for k, v in found.items() if k in ("FIRM", "LENS")),
    )


def _credentials(path: Path, container: str, caveats: list[str]) -> C2paInfo | None:
    if not c2pa_read.available():
        if c2pa_read.mime_type(container) and _has_c2pa_marker(path):
            caveats.append(f"a C2PA manifest store is present but not read: {c2pa_read.PIP_LINE}")
        return None
    return _guard("C2PA manifest", caveats, lambda: c2pa_read.read_c2pa(path, container))


def _has_c2pa_marker(path: Path) -> bool:
    with path.open("rb") as f:
        head = f.read(4 * 1024 * 1024)
    return b"jumb" in head and b"c2pa" in head


def describe_photo(info: MediaInfo, path: Path, exif_block: bytes | None, frames: int) -> MediaInfo:
    """A photo's XMP, IPTC, maker notes, Apple ids, embedded pictures and credentials; its time."""
    caveats: list[str] = []
    tags = _guard("XMP, IPTC and maker notes", caveats, lambda: _exiv2_tags(path))
    if tags is None and not exiv2.available():
        caveats.append(f"XMP, IPTC and maker notes are not read without pyexiv2: {exiv2.PIP_LINE}")
    exif, iptc_pairs, xmp_pairs = tags or ((), (), ())
    enriched = replace(
        info,
        xmp=xmp.xmp_info(xmp_pairs),
        iptc=iptc.iptc_info(iptc_pairs),
        makernotes=makernotes.maker_notes(exif, info.make),
        apple=_guard("Apple maker note", caveats, lambda: makernotes.apple_ids(_maker_note(exif_block))),
        thumbnails=_guard(
            "thumbnails", caveats, lambda: thumbnails.photo_thumbnails(path, exif_block, frames)
        )
        or (),
        c2pa=_credentials(path, info.container, caveats),
    )
    return with_capture_time(replace(enriched, caveats=(*info.caveats, *caveats)))


def _exiv2_tags(path: Path) -> tuple[exiv2.Pairs, exiv2.Pairs, exiv2.Pairs] | None:
    if not exiv2.available():
        return None
    if path.stat().st_size > exiv2.MAX_BYTES:
        raise MetadataError(f"{path.stat().st_size} bytes is past the metadata reader's limit")
    return exiv2.read_image_tags(path.read_bytes())


def _maker_note(exif_block: bytes | None) -> bytes | None:
    if not exif_block:
        return None
    exif = Image.Exif()
    exif.load(exif_block[6:] if exif_block.startswith(b"Exif\x00\x00") else exif_block)
    note = exif.get_ifd(_EXIF_IFD).get(_MAKER_NOTE)
    return note if isinstance(note, bytes) else None
