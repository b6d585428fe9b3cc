"""Hash lists: fingerprints without the footage, in the formats the field exchanges.

Pure functions over models: one line of text in, one `HashlistEntry` out, and back.  Three formats:

- ``provenance`` (native, lossless): one JSON object per line and media, every fingerprint of it
  (hasher, bits, sampling rate, frame times, hashes in hex, qualities), its duration, its kind, the
  file's SHA-256 and where it appeared (URL, published time with precision).
- ``vpdq``: the feature list python-threatexchange's vPDQ signal type reads and writes, one media
  per line: a JSON array of ``"<pdq hex>,<quality>,<seconds>"`` strings, optionally after the
  signal type's name (``vpdq [...]``, as `threatexchange hash` prints it).  PDQ of whole frames only.
- ``pdq-csv``: one PDQ hash per line with its quality, ``<pdq hex>,<quality>``, as PDQ hash banks
  take them (a bare hash, and the ``hash=...,quality=...`` lines of PDQ's reference hasher, are read
  too).  Each line is one picture: no times, no grouping into media.

Every reader is written for hostile input: a line is bounded (MAX_LINE_CHARS), a fingerprint holds at
most MAX_FRAMES frames, every number is range-checked, and every failure is a `MalformedLine`
saying what is wrong (the pipeline adds the file name and line number).
"""

from __future__ import annotations

from ..models import HashlistEntry
from .common import FORMATS, MAX_LINE_CHARS, MalformedLine
from .exchange import pdq_csv_lines, pdq_entry, vpdq_entry, vpdq_line
from .native import NATIVE_TYPE, NATIVE_VERSION, entry_digest, native_entry, native_line

__all__ = [
    "FORMATS",
    "NATIVE_TYPE",
    "NATIVE_VERSION",
    "MalformedLine",
    "detect_format",
    "entry_digest",
    "native_line",
    "parse_line",
    "pdq_csv_lines",
    "vpdq_line",
]


def detect_format(line: str) -> str:
    """The format of a hash list from its first line that is not blank."""
    text = line.lstrip("\ufeff").strip()
    if text.startswith("{"):
        return "provenance"
    if text.startswith("[") or text.lower().startswith("vpdq"):
        return "vpdq"
    return "pdq-csv"


def parse_line(text: str, fmt: str) -> HashlistEntry | None:
    """The entry of one line (None for a blank line, a ``#`` comment or a CSV header)."""
    if len(text) > MAX_LINE_CHARS:
        raise MalformedLine(f"longer than {MAX_LINE_CHARS} characters")
    line = text.lstrip("\ufeff").strip()
    if not line or line.startswith("#"):
        return None
    if fmt == "provenance":
        return native_entry(line)
    if fmt == "vpdq":
        return vpdq_entry(line)
    if fmt == "pdq-csv":
        return pdq_entry(line)
    raise MalformedLine(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")
