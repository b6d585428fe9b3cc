"""Hand-built EXIF blocks, for tags no writer library will produce (an empty GPSAltitude, garbage IFDs).

`exif_block` lays out a big-endian TIFF structure: IFD0 with a pointer to a GPS IFD (and to an EXIF
IFD when given), each entry written as (tag, type, count, payload).  `jpeg_with_exif` puts the block
into a real JPEG's APP1 segment right after SOI, so the pixels stay decodable.
"""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
from PIL import Image

ASCII, SHORT, LONG, RATIONAL = 2, 3, 4, 5
_SIZES = {ASCII: 1, SHORT: 2, LONG: 4, RATIONAL: 8}
Entry = tuple[int, int, int, bytes]  # tag, type, count, payload (big-endian)


def rational(*pairs: tuple[int, int]) -> bytes:
    return b"".join(struct.pack(">II", n, d) for n, d in pairs)


def ascii_value(text: str) -> tuple[int, bytes]:
    data = text.encode("ascii") + b"\x00"
    return len(data), data


def _ifd(entries: list[Entry], at: int) -> bytes:
    """One IFD starting at offset ``at``: entries, next-IFD 0, then the payloads too big to inline."""
    entries = sorted(entries)
    head = struct.pack(">H", len(entries))
    data_at = at + 2 + 12 * len(entries) + 4
    table, extra = b"", b""
    for tag, kind, count, payload in entries:
        if len(payload) <= 4:
            table += struct.pack(">HHI", tag, kind, count) + payload.ljust(4, b"\x00")
        else:
            table += struct.pack(">HHII", tag, kind, count, data_at + len(extra))
            extra += payload + (b"\x00" if len(payload) % 2 else b"")
    return head + table + b"\x00\x00\x00\x00" + extra


def exif_block(gps: list[Entry] | None = None, exif: list[Entry] | None = None) -> bytes:
    """``Exif\\0\\0`` + TIFF: IFD0 pointing at the EXIF and GPS IFDs given."""
    pointers = [t for t, given in ((0x8769, exif), (0x8825, gps)) if given is not None]
    ifd0_size = 2 + 12 * len(pointers) + 4
    at = 8 + ifd0_size
    sub_ifds, pointer_entries = b"", []
    for tag, given in ((0x8769, exif), (0x8825, gps)):
        if given is None:
            continue
        pointer_entries.append((tag, LONG, 1, struct.pack(">I", at + len(sub_ifds))))
        sub_ifds += _ifd(given, at + len(sub_ifds))
    tiff = b"MM\x00\x2a" + struct.pack(">I", 8) + _ifd(pointer_entries, 8) + sub_ifds
    return b"Exif\x00\x00" + tiff


def jpeg_with_exif(path: Path, block: bytes, size: int = 64) -> Path:
    """A real JPEG of noise (so its hash is informative) carrying the given EXIF block in APP1."""
    pixels = (np.random.default_rng(size).random((size, size, 3)) * 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=90)
    jpeg = buffer.getvalue()
    app1 = b"\xff\xe1" + struct.pack(">H", len(block) + 2) + block
    path.write_bytes(jpeg[:2] + app1 + jpeg[2:])
    return path


def gps_entries(*, altitude: bytes | None, altitude_count: int = 1) -> list[Entry]:
    """A GPS IFD at 10 N 20 E with the altitude payload given (b"" with count 0: an empty tag)."""
    entries: list[Entry] = [
        (1, ASCII, 2, b"N\x00"),
        (2, RATIONAL, 3, rational((10, 1), (0, 1), (0, 1))),
        (3, ASCII, 2, b"E\x00"),
        (4, RATIONAL, 3, rational((20, 1), (0, 1), (0, 1))),
    ]
    if altitude is not None:
        entries.append((6, RATIONAL, altitude_count, altitude))
    return entries
