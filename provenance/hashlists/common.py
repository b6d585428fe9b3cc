"""What every hash list format shares: bounds, the error of a bad line, and careful readers."""

from __future__ import annotations

import hashlib
import json
import math
import re
from typing import Any

import numpy as np

FORMATS = ("provenance", "vpdq", "pdq-csv")
# A media of 10 hours at 2 frames a second is 72,000 frames; a line of a million PDQ frames is
# ~70 MB of hex.  Past these a line is refused rather than read into memory.
MAX_FRAMES = 1_000_000
MAX_LINE_CHARS = 128 << 20
MAX_TEXT = 4096  # a URL, an id, a name
MAX_LISTED = 1000  # appearances or context items of one media
MAX_TIME_MS = 2**31 - 1
PRECISIONS = ("second", "minute", "hour", "day", "month", "year")
PDQ_HEX = 64
HEX = re.compile(r"[0-9a-fA-F]*")


class MalformedLine(ValueError):
    """A line of a hash list that cannot be read; the message says what is wrong with it."""


def hexes(hashes: np.ndarray) -> list[str]:
    data = np.ascontiguousarray(hashes, np.uint8)
    width = data.shape[1] * 2 if data.ndim == 2 else 0
    text = data.tobytes().hex()
    return [text[i : i + width] for i in range(0, len(text), width)] if width else []


def load(line: str) -> Any:
    try:
        return json.loads(line)
    except json.JSONDecodeError as exc:
        raise MalformedLine(f"not JSON ({exc.msg} at column {exc.colno})") from None
    except RecursionError:
        raise MalformedLine("JSON nested too deeply") from None


def text(value: Any, what: str, *, optional: bool = True) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_TEXT:
        raise MalformedLine(f"{what} must be a text of 1-{MAX_TEXT} characters")
    return value.strip()


def sha256(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) != 64 or not is_hex(value):
        raise MalformedLine("sha256 must be 64 hex digits")
    return value.lower()


def is_hex(text: str) -> bool:
    return HEX.fullmatch(text) is not None


def finite(value: Any, low: float, high: float) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and low <= value <= high


def ints(values: list[Any], low: int, high: int, what: str) -> np.ndarray:
    if not all(type(v) is int for v in values):
        raise MalformedLine(f"{what} must be whole numbers")
    array = np.array(values, dtype=np.int64)
    if array.size and (array.min() < low or array.max() > high):
        raise MalformedLine(f"{what} must lie in {low}..{high}")
    return array


def hash_array(hexes: list[Any], bits: int, where: str) -> np.ndarray:
    width = bits // 4
    if not all(isinstance(h, str) and len(h) == width for h in hexes):
        raise MalformedLine(f"{where}: each hash must be {width} hex digits")
    try:
        data = bytes.fromhex("".join(hexes))
    except ValueError:
        raise MalformedLine(f"{where}: a hash is not hexadecimal") from None
    return np.frombuffer(data, dtype=np.uint8).reshape(len(hexes), bits // 8).copy()


def number(text: str, kind: type, low: float, high: float, what: str) -> Any:
    try:
        value = kind(text.strip())
    except ValueError:
        raise MalformedLine(f"{what} {text.strip()!r} is not a number") from None
    if (isinstance(value, float) and not math.isfinite(value)) or not low <= value <= high:
        raise MalformedLine(f"{what} {text.strip()!r} is outside {low:g}..{high:g}")
    return value


def digest(*parts: bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part)
    return h.hexdigest()
