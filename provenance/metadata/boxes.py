"""ISO BMFF (MP4, QuickTime, HEIF) boxes: a bounded walker shared by every reader of atoms.

A box is ``size (4 bytes) type (4 bytes) [64-bit size] payload``.  The walker never trusts a size:
a box that runs past its parent is clipped to it, a size smaller than its header or a type that is
not printable ends the walk (trailing padding or junk), and every read is capped by the caller.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import BinaryIO

# First boxes of the files FFmpeg reads as MP4/QuickTime.
ISO_BMFF_BOXES = frozenset({b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot", b"styp"})
# Containers whose children are boxes (QuickTime ``meta`` is a plain box, ISO ``meta`` a full box).
CONTAINER_BOXES = frozenset({b"moov", b"trak", b"mdia", b"minf", b"stbl", b"udta", b"edts", b"dinf"})


def looks_iso_bmff(f: BinaryIO) -> bool:
    f.seek(0)
    return f.read(8)[4:8] in ISO_BMFF_BOXES


def boxes(f: BinaryIO, start: int, end: int, *, clip: bool = True) -> Iterator[tuple[bytes, int, int]]:
    """ISO BMFF boxes between two offsets as (type, payload start, box end); stops at garbage.

    With ``clip`` (the default) a box end never passes ``end``; without, the declared end is given,
    so a caller can tell a truncated file.
    """
    pos = start
    while pos + 8 <= end:
        f.seek(pos)
        head = f.read(16)
        if len(head) < 8:
            return
        box_size, kind = struct.unpack(">I4s", head[:8])
        header = 8
        if box_size == 1 and len(head) == 16:
            box_size, header = struct.unpack(">Q", head[8:16])[0], 16
        elif box_size == 0:  # "to the end of the file"
            box_size = end - pos
        # Trailing bytes that are not a box (padding, junk) end the walk rather than count as a box.
        if box_size < header or not all(0x20 <= c < 0x7F or c == 0xA9 for c in kind):
            return
        yield kind, pos + header, min(pos + box_size, end) if clip else pos + box_size
        pos += box_size


def child(f: BinaryIO, start: int, end: int, kind: bytes) -> tuple[int, int] | None:
    """(payload start, end) of the first child box of this type, or None."""
    for found, payload, box_end in boxes(f, start, end):
        if found == kind:
            return payload, box_end
    return None


def path(f: BinaryIO, start: int, end: int, *kinds: bytes) -> tuple[int, int] | None:
    """(payload start, end) of the box at this path of types (``b"moov", b"udta"``), or None."""
    span: tuple[int, int] | None = (start, end)
    for kind in kinds:
        if span is None:
            return None
        span = child(f, span[0], span[1], kind)
    return span


def read_payload(f: BinaryIO, start: int, end: int, limit: int) -> bytes:
    """At most ``limit`` bytes of a box payload: a hostile size never makes a large read."""
    f.seek(start)
    return f.read(max(0, min(end - start, limit)))
