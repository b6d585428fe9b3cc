"""Matroska/WebM Segment Info: the muxing and writing programs and the ``DateUTC`` FFmpeg hides.

EBML elements are (ID, size, data) with variable-length integers.  Only the start of the file is
read (``MAX_HEAD_BYTES``): the EBML header, then the Segment's children up to its first Cluster,
among which Info sits.  A Segment of unknown size (a live WebM) is fine; a size that runs past the
read bytes ends the walk.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ..models import MatroskaInfo

MAX_HEAD_BYTES = 1024 * 1024
_EBML, _SEGMENT, _INFO, _CLUSTER = 0x1A45DFA3, 0x18538067, 0x1549A966, 0x1F43B675
_MUXING_APP, _WRITING_APP, _DATE_UTC, _TITLE = 0x4D80, 0x5741, 0x4461, 0x7BA9
_EPOCH_2001 = datetime(2001, 1, 1, tzinfo=UTC)


def _vint(data: bytes, pos: int, *, keep_marker: bool) -> tuple[int, int] | None:
    """(value, length) of the variable-length integer at ``pos``; None when malformed."""
    if pos >= len(data) or data[pos] == 0:
        return None
    length = 8 - data[pos].bit_length() + 1
    if pos + length > len(data):
        return None
    value = int.from_bytes(data[pos : pos + length], "big")
    if not keep_marker:
        value &= (1 << (7 * length)) - 1
        if value == (1 << (7 * length)) - 1:
            value = -1  # unknown size
    return value, length


def _elements(data: bytes, start: int, end: int) -> Iterator[tuple[int, int, int]]:
    """(element id, data start, data end) of the elements between two offsets."""
    pos = start
    while pos < end:
        ident = _vint(data, pos, keep_marker=True)
        size = _vint(data, pos + ident[1], keep_marker=False) if ident else None
        if ident is None or size is None:
            return
        body = pos + ident[1] + size[1]
        body_end = end if size[0] < 0 else body + size[0]
        yield ident[0], body, min(body_end, end)
        if size[0] < 0 or body_end > end:
            return
        pos = body_end


def read_matroska(path: Path) -> MatroskaInfo | None:
    with path.open("rb") as f:
        data = f.read(MAX_HEAD_BYTES)
    top = list(_elements(data, 0, len(data)))
    if not top or top[0][0] != _EBML:
        return None
    segment = next(((s, e) for ident, s, e in top if ident == _SEGMENT), None)
    if segment is None:
        return None
    for ident, start, end in _elements(data, *segment):
        if ident == _CLUSTER:
            break
        if ident == _INFO:
            return _info(data, start, end)
    return None


def _info(data: bytes, start: int, end: int) -> MatroskaInfo:
    found: dict[int, bytes] = {}
    for ident, body, body_end in _elements(data, start, end):
        found.setdefault(ident, data[body:body_end])
    return MatroskaInfo(
        muxing_app=_text(found.get(_MUXING_APP)),
        writing_app=_text(found.get(_WRITING_APP)),
        date_utc=_date(found.get(_DATE_UTC)),
        title=_text(found.get(_TITLE)),
    )


def _text(raw: bytes | None) -> str | None:
    return raw.split(b"\x00")[0].decode("utf-8", "replace").strip() or None if raw else None


def _date(raw: bytes | None) -> str | None:
    """DateUTC: signed nanoseconds since 2001-01-01T00:00:00 UTC."""
    if not raw or len(raw) != 8:
        return None
    ns = struct.unpack(">q", raw)[0]
    try:
        return (_EPOCH_2001 + timedelta(microseconds=ns // 1000)).strftime("%Y-%m-%dT%H:%M:%SZ")
    except OverflowError:
        return None
