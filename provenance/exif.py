"""What a photo says about itself: camera, capture time, place, orientation, read without decoding pixels.

``read_exif`` reads the picture size and format from the image header with Pillow (so Pillow's
decompression-bomb limit applies) and the EXIF tags with exifread.  Every EXIF tag is kept in
``raw_tags`` under exifread's name (``"EXIF DateTimeOriginal"``, ``"GPS GPSDate"``, ``"EXIF LensModel"``)
with its printable value; the normalised fields are ``created_at`` (DateTimeOriginal with
OffsetTimeOriginal), ``location`` (GPS in decimal degrees), ``make``/``model``/``software`` and
``rotation_deg`` (from Orientation).

exifread 3.5 misses the EXIF of WebP files whose EXIF chunk holds a bare TIFF block (as the WebP
spec says; exifread expects an ``Exif\\0\\0`` prefix): when exifread finds nothing, the EXIF block
Pillow found is parsed by exifread as TIFF instead.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, BinaryIO

import exifread
from exifread.core.ifd_tag import IfdTag
from PIL import Image, UnidentifiedImageError

from .errors import BadInputError, CorruptMediaError, MissingExtraError, NotMediaError
from .metadata import describe_photo
from .models import GeoPoint, MediaInfo
from .store import require_file
from .timestamps import parse_exif_time

# exifread logs a WARNING for every photo without EXIF, an ordinary case.  With no handler anywhere,
# Python's last-resort handler would print it to stderr; the library never prints.  Records still
# reach the application's handlers when it configures logging.
logging.getLogger("exifread").addHandler(logging.NullHandler())

# Clockwise rotation a viewer applies for each EXIF Orientation; 2, 4, 5 and 7 also mirror (the raw
# Orientation tag keeps that).
_ORIENTATION_DEG = {1: 0, 2: 0, 3: 180, 4: 180, 5: 270, 6: 90, 7: 90, 8: 270}
# HEIF brands whose pictures are HEVC-coded: these files are "heic", other HEIF files "heif".
_HEIC_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}
# A printable value longer than this is a blob (a maker's binary table), not evidence worth a column.
_MAX_VALUE_CHARS = 1000


@dataclass(frozen=True, slots=True)
class _Header:
    format: str
    width: int
    height: int
    frames: int
    orientation: int | None  # EXIF Orientation pillow-heif applied and reset (HEIF only)
    exif_block: bytes | None


def read_exif(path: Path, sha256: str) -> MediaInfo:
    """Describe a photo from its header and EXIF; raise a BadInputError kind when it cannot be read.

    ``width``/``height`` are the stored picture size; ``rotation_deg`` is the clockwise rotation a
    viewer applies (EXIF Orientation).  Without OffsetTimeOriginal the capture time is the camera's
    wall clock marked UTC with ``local=True``.
    """
    require_file(path)
    header = _read_header(path)
    tags = _exif_tags(path, header.exif_block)
    caveats: list[str] = []
    if not tags and header.exif_block:
        caveats.append(f"the EXIF block ({len(header.exif_block)} bytes) is damaged and could not be read")
    # pillow-heif resets the Orientation in the EXIF block it hands out; the value it saw comes first.
    orientation = header.orientation or _int_value(tags.get("Image Orientation"))
    width, height = header.width, header.height
    if header.orientation in (5, 6, 7, 8):
        # pillow-heif hands out the picture already turned upright; undo that to report stored pixels.
        width, height = height, width
    raw = [(key, _printable(tag)) for key, tag in tags.items()]
    if header.frames > 1:
        raw.append(("image:frames", str(header.frames)))
    taken = _text(tags, "EXIF DateTimeOriginal")
    created_at = parse_exif_time(taken, _text(tags, "EXIF OffsetTimeOriginal"))
    if taken and created_at is None:
        caveats.append(
            f"EXIF DateTimeOriginal = {taken[:60]!r} is not a plausible time (blank, impossible or in the"
            " future): not used"
        )
    info = MediaInfo(
        sha256=sha256,
        kind="image",
        container=_container_name(path, header.format),
        duration_s=None,
        width=width,
        height=height,
        rotation_deg=_ORIENTATION_DEG.get(orientation or 1, 0),
        created_at=created_at,
        location=_gps_point(tags, caveats),
        make=_text(tags, "Image Make"),
        model=_text(tags, "Image Model"),
        software=_text(tags, "Image Software"),
        raw_tags=tuple(raw),
        caveats=tuple(caveats),
    )
    return describe_photo(info, path, header.exif_block, header.frames)


@cache
def heif_supported() -> bool:
    """Register pillow-heif's HEIF/HEIC opener with Pillow once; False when the [heic] extra is absent."""
    try:
        import pillow_heif
    except ImportError:
        return False
    pillow_heif.register_heif_opener()
    return True


def _read_header(path: Path) -> _Header:
    """Format, size and EXIF block from the image header; no pixels are decoded."""
    heif_supported()
    try:
        with Image.open(path) as image:
            return _Header(
                format=image.format or "",
                width=image.width,
                height=image.height,
                frames=getattr(image, "n_frames", 1),
                orientation=image.info.get("original_orientation"),
                exif_block=image.info.get("exif"),
            )
    except Image.DecompressionBombError as exc:
        raise BadInputError(
            f"{path}: image too large to read safely ({exc})",
            hint="raise PIL.Image.MAX_IMAGE_PIXELS only for files you trust",
        ) from None
    except UnidentifiedImageError:
        if _heif_brand(path) is not None and not heif_supported():
            raise MissingExtraError(
                f"{path}: HEIC/HEIF photos need pillow-heif", hint="pip install 'provenance[heic]'"
            ) from None
        raise NotMediaError(f"{path}: not an image Pillow can read") from None
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        # Pillow signals a damaged header with any of these, depending on the format plugin.
        raise CorruptMediaError(f"{path}: damaged image header ({exc})") from None


def _heif_brand(path: Path) -> bytes | None:
    """The ISO BMFF major brand of a HEIF-family file (b"heic", b"mif1", b"avif"...), else None."""
    try:
        with path.open("rb") as f:
            head = f.read(12)
    except OSError:
        return None
    return head[8:12] if head[4:8] == b"ftyp" else None


def _container_name(path: Path, pillow_format: str) -> str:
    if pillow_format == "HEIF":
        return "heic" if _heif_brand(path) in _HEIC_BRANDS else "heif"
    return pillow_format.lower()


def _exif_tags(path: Path, exif_block: bytes | None) -> dict[str, IfdTag]:
    """exifread's tags from the file, else from the EXIF block Pillow found; {} when there are none."""
    try:
        with path.open("rb") as f:
            tags = _process(f)
    except OSError as exc:
        raise BadInputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if not tags and exif_block:
        tiff = exif_block[6:] if exif_block.startswith(b"Exif\x00\x00") else exif_block
        tags = _process(io.BytesIO(tiff))
    return {key: tag for key, tag in tags.items() if isinstance(tag, IfdTag)}


def _process(f: BinaryIO) -> dict[str, Any]:
    try:
        return exifread.process_file(f, details=False, extract_thumbnail=False)
    except Exception:  # exifread raises whatever its parsing hits on damaged EXIF
        # (ValueError, IndexError, struct.error, ZeroDivisionError...): the photo is still a photo.
        return {}


def _printable(tag: IfdTag) -> str:
    # NULs would cut the value short in C-string consumers (SQLite functions, terminals).
    return str(tag).replace("\x00", "").strip()[:_MAX_VALUE_CHARS]


def _text(tags: dict[str, IfdTag], key: str) -> str | None:
    tag = tags.get(key)
    if tag is None:
        return None
    text = _printable(tag)
    return text or None


def _int_value(tag: IfdTag | None) -> int | None:
    if tag is None or not isinstance(tag.values, list) or not tag.values:
        return None
    try:
        return int(tag.values[0])
    except (TypeError, ValueError):
        return None


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError, ZeroDivisionError):  # EXIF rationals may be 0/0
        return None


def _degrees(tag: IfdTag | None) -> float | None:
    """Degrees, minutes, seconds as rationals (minutes may carry the fraction) to decimal degrees."""
    if tag is None or not isinstance(tag.values, list) or not tag.values:
        return None
    parts = [_number(v) for v in tag.values[:3]]
    if any(p is None for p in parts):
        return None
    return sum(p / 60**i for i, p in enumerate(parts))  # type: ignore[operator]


def _gps_point(tags: dict[str, IfdTag], caveats: list[str]) -> GeoPoint | None:
    """GPS latitude/longitude/altitude as decimal degrees and metres (negative south, west, below sea).

    None when absent, malformed, out of range or exactly 0,0 (what devices write without a fix); a
    malformed field that is present is dropped with a note in ``caveats``.
    """
    lat_tag, lon_tag = tags.get("GPS GPSLatitude"), tags.get("GPS GPSLongitude")
    lat, lon = _degrees(lat_tag), _degrees(lon_tag)
    if lat is None or lon is None:
        if lat_tag is not None or lon_tag is not None:
            caveats.append("EXIF GPS latitude/longitude is incomplete or malformed: no location")
        return None
    if (_text(tags, "GPS GPSLatitudeRef") or "N").upper().startswith("S"):
        lat = -lat
    if (_text(tags, "GPS GPSLongitudeRef") or "E").upper().startswith("W"):
        lon = -lon
    if not (-90 <= lat <= 90 and -180 <= lon <= 180) or (lat == 0 and lon == 0):
        caveats.append(f"EXIF GPS position {lat:.6g}, {lon:.6g} is out of range or 0,0 (no fix): no location")
        return None
    alt_tag = tags.get("GPS GPSAltitude")
    values = alt_tag.values if alt_tag is not None and isinstance(alt_tag.values, list) else []
    alt = _number(values[0]) if values else None
    if alt_tag is not None and alt is None:
        caveats.append("EXIF GPSAltitude is empty or malformed: altitude dropped")
    if alt is not None and _int_value(tags.get("GPS GPSAltitudeRef")) == 1:
        alt = -alt  # reference 1: below sea level
    return GeoPoint(lat, lon, alt, "exif")
