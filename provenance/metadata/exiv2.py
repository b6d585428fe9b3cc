"""libexiv2 through pyexiv2 (the [metadata] extra): EXIF with maker notes, IPTC and XMP as tag maps.

The one module that imports pyexiv2.  Without the extra every function returns None and callers say
so in a caveat.  libexiv2 parses in C++: its input is bounded (``MAX_BYTES``), calls are serialised
(its XMP toolkit keeps global state), its console warnings are silenced, and whatever it raises on a
damaged block becomes a MetadataError.  Values are strings: an XMP array becomes indexed keys
(``Xmp.dc.subject[1]``), a language alternative its ``x-default`` text.
"""

from __future__ import annotations

import threading
from functools import cache
from types import ModuleType
from typing import Any

from ..errors import MetadataError

Pairs = tuple[tuple[str, str], ...]
MAX_BYTES = 256 * 1024 * 1024
MAX_VALUE_CHARS = 2000
PIP_LINE = "pip install 'provenance[metadata]'"
_LOCK = threading.Lock()


@cache
def _pyexiv2() -> ModuleType | None:
    try:
        import pyexiv2
    except (ImportError, OSError):  # not installed, or its bundled library does not load here
        return None
    pyexiv2.set_log_level(4)  # errors are raised to us; nothing is printed
    return pyexiv2


def available() -> bool:
    return _pyexiv2() is not None


def read_image_tags(data: bytes) -> tuple[Pairs, Pairs, Pairs] | None:
    """(EXIF incl. maker notes, IPTC, XMP) of an image's bytes; None without the extra."""
    lib = _pyexiv2()
    if lib is None:
        return None
    if len(data) > MAX_BYTES:
        raise MetadataError(f"image of {len(data)} bytes is past the metadata reader's limit")
    with _LOCK:
        try:
            image = lib.ImageData(data)
            try:
                exif, iptc, xmp = image.read_exif(), image.read_iptc(), image.read_xmp()
            finally:
                image.close()
        except Exception as exc:  # libexiv2 raises RuntimeError (and others) on damaged blocks
            raise MetadataError(f"libexiv2 could not read the metadata: {str(exc)[:200]}") from None
    return _pairs(exif), _pairs(iptc), _pairs(xmp)


def read_xmp_packet(packet: bytes) -> Pairs | None:
    """The properties of a bare XMP packet (as found in a video); None without the extra."""
    lib = _pyexiv2()
    if lib is None:
        return None
    start = packet.find(b"<")
    if start < 0:
        raise MetadataError("XMP packet without XML")
    with _LOCK:
        try:
            image = lib.ImageData(packet[start:])
            try:
                return _pairs(image.read_xmp())
            finally:
                image.close()
        except Exception as exc:
            raise MetadataError(f"the XMP packet does not parse: {str(exc)[:200]}") from None


def _pairs(tags: dict[str, Any]) -> Pairs:
    out: list[tuple[str, str]] = []
    for key, value in tags.items():
        if isinstance(value, list):
            out.extend((f"{key}[{i}]", _text(v)) for i, v in enumerate(value, start=1))
        elif isinstance(value, dict):
            chosen = value.get('lang="x-default"', next(iter(value.values()), ""))
            out.append((key, _text(chosen)))
        else:
            out.append((key, _text(value)))
    return tuple((k, v) for k, v in out if v and not v.startswith("type="))


def _text(value: Any) -> str:
    return str(value).replace("\x00", "").strip()[:MAX_VALUE_CHARS]
