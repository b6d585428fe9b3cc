"""The formats of ThreatExchange and HMA: vPDQ feature lists and PDQ hashes one per line."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import numpy as np

from ..hashing import PDQ256_FRAME
from ..models import Fingerprint, HashlistEntry
from .common import (
    MAX_FRAMES,
    MAX_TIME_MS,
    PDQ_HEX,
    MalformedLine,
    digest,
    hash_array,
    hexes,
    is_hex,
    load,
    number,
)


def _seconds(t_ms: int) -> str:
    # Milliseconds exactly; python-threatexchange reads any float (its own writer keeps 3 digits).
    return f"{t_ms / 1000:.3f}"


def vpdq_line(fp: Fingerprint) -> str:
    """A fingerprint of whole-frame PDQ hashes as a vPDQ feature list (no newline)."""
    _require_frame_pdq(fp)
    features = [
        f"{h},{int(q)},{_seconds(int(t))}"
        for h, q, t in zip(hexes(fp.hashes), fp.quality, fp.times_ms, strict=True)
    ]
    return json.dumps(features)  # the separators python-threatexchange's vpdq_to_json writes


def pdq_csv_lines(fp: Fingerprint, min_quality: int) -> Iterator[str]:
    """``<pdq hex>,<quality>`` for each frame at or above ``min_quality``."""
    _require_frame_pdq(fp)
    for h, q in zip(hexes(fp.hashes), fp.quality, strict=True):
        if q >= min_quality:
            yield f"{h},{int(q)}"


def _require_frame_pdq(fp: Fingerprint) -> None:
    if fp.hasher != PDQ256_FRAME.name:
        raise ValueError(f"vPDQ and PDQ lists carry {PDQ256_FRAME.name} hashes, not {fp.hasher}")


def vpdq_entry(line: str) -> HashlistEntry:
    if line[:4].lower() == "vpdq":
        line = line[4:].strip()
    features = load(line)
    if not isinstance(features, list) or not features:
        raise MalformedLine('a vPDQ line is a JSON list of "<pdq hex>,<quality>,<seconds>" features')
    if len(features) > MAX_FRAMES:
        raise MalformedLine(f"more than {MAX_FRAMES} frames")
    hex_list, quality, times = [], [], []
    for n, feature in enumerate(features, start=1):
        parts = feature.split(",") if isinstance(feature, str) else []
        if len(parts) != 3:
            raise MalformedLine(f'feature {n} is not "<pdq hex>,<quality>,<seconds>"')
        hex_list.append(parts[0].strip())
        quality.append(number(parts[1], int, 0, 100, f"feature {n}: quality"))
        times.append(
            round(number(parts[2], float, 0.0, MAX_TIME_MS / 1000, f"feature {n}: timestamp") * 1000)
        )
    hashes = hash_array(hex_list, 256, "a feature")
    times_ms = np.array(times, dtype=np.int32)
    qualities = np.array(quality, dtype=np.uint8)
    fp = Fingerprint("", PDQ256_FRAME.name, _rate_of(times_ms), times_ms, hashes, qualities)
    external_id = digest(hashes.tobytes(), qualities.tobytes(), times_ms.astype("<i4").tobytes())
    return HashlistEntry(external_id, None, "video", None, (fp,))


def _rate_of(times_ms: np.ndarray) -> float:
    """Frames a second, from the shortest step between distinct frame times (1 for a single frame):
    a list may skip frames (vPDQ leaves out none, a bank may), never add them."""
    steps = np.diff(np.unique(times_ms))
    if steps.size == 0:
        return 1.0
    return float(min(60.0, max(0.01, round(1000.0 / float(steps.min()), 3))))


_PDQ_LINE = re.compile(r"([0-9a-fA-F]{64}),(100|[1-9]?[0-9])")
_NO_TIME = np.zeros(1, np.int32)
_NO_TIME.setflags(write=False)  # shared by every picture


def pdq_entry(line: str) -> HashlistEntry | None:
    plain = _PDQ_LINE.fullmatch(line)
    if plain is not None:  # the common case, a bank of a million lines: no general parsing
        return _picture(plain.group(1), int(plain.group(2)))
    fields = [f.strip() for f in line.split(",")]
    if "=" in fields[0]:  # PDQ's reference hasher: hash=...,norm=...,quality=...,filename=...
        named = dict(f.split("=", 1) for f in fields if "=" in f)
        fields = [named.get("hash", ""), *([named["quality"]] if "quality" in named else [])]
    if fields[0].lower() in ("hash", "pdq", "pdq_hash", "signal"):
        return None  # a header
    if len(fields[0]) != PDQ_HEX or not is_hex(fields[0]):
        raise MalformedLine(f"{fields[0][:80]!r} is not a PDQ hash (64 hex digits)")
    # A bank's hash without a quality was kept as usable by whoever made the list: full quality.
    quality = number(fields[1], int, 0, 100, "quality") if len(fields) > 1 and fields[1] else 100
    return _picture(fields[0], quality)


def _picture(pdq_hex: str, quality: int) -> HashlistEntry:
    """One PDQ hash as a picture: a media of one frame at time 0."""
    hashes = np.frombuffer(bytes.fromhex(pdq_hex), dtype=np.uint8).reshape(1, 32)
    fp = Fingerprint("", PDQ256_FRAME.name, 1.0, _NO_TIME, hashes, np.array([quality], np.uint8))
    return HashlistEntry(pdq_hex.lower(), None, "image", None, (fp,))
