"""A segment of the search index: the informative frames of some fingerprints, with chunk tables,
kept as plain NumPy arrays in a folder of `.npy` files (memory-mapped when opened: no pickle, and
opening costs no more than reading the folder's table of contents).

A segment is made once and never changed; the index (archive_index.py) is a list of segments, new
fingerprints going into a new one.  Files are written into a temporary folder and renamed whole.
"""

from __future__ import annotations

import json
import mmap
import os
import secrets
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import store
from ..hashing import Hasher
from ..models import Fingerprint
from .chunks import ChunkTable, build_tables
from .exact import informative_rows

# What a segment folder holds, and the layout version of its files.
# Layout 2: no owner file (row_start says it), chunk entries of 10 bytes, not 12 (chunks.py).
SEGMENT_LAYOUT = 2
_ARRAYS = ("words", "times_ms", "row_start", "fingerprint_ids")


class RowOwners:
    """``owner[rows]``: the local media number of each row, found in ``row_start`` (sorted) rather
    than stored: 4 bytes a frame is 400 MB of pages at 10^8 frames, read at random by every query,
    while ``row_start`` is 8 bytes a media and stays in the CPU's cache."""

    def __init__(self, row_start: np.ndarray) -> None:
        self.row_start = np.asarray(row_start)
        self.shape = (int(self.row_start[-1]),)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, rows: np.ndarray | slice) -> np.ndarray:
        if isinstance(rows, slice):
            rows = np.arange(*rows.indices(self.shape[0]))
        rows = np.asarray(rows)
        if rows.dtype.kind not in "iu":
            raise TypeError(f"rows are numbers, not {rows.dtype}")
        if rows.size and (int(rows.min()) < 0 or int(rows.max()) >= self.shape[0]):
            raise IndexError(f"rows {int(rows.min())}..{int(rows.max())} of {self.shape[0]}")
        return (np.searchsorted(self.row_start, rows, side="right") - 1).astype(np.int32)

    def __array__(self, dtype: np.dtype | None = None, copy: bool | None = None) -> np.ndarray:
        """Every row's media: 4 bytes a row, for small segments (tests, merges) only."""
        whole = np.repeat(np.arange(len(self.row_start) - 1, dtype=np.int32), np.diff(self.row_start))
        return whole if dtype is None else whole.astype(dtype)


@dataclass(eq=False)
class Segment:
    """Rows (informative frames) of some fingerprints, concatenated fingerprint after fingerprint.

    Local media ``number`` has sha256 ``media[number]`` and rows ``row_start[number]:row_start[number
    + 1]``; ``owner[rows]`` gives the rows' media numbers; ``fingerprint_ids`` are the catalog ids
    of the fingerprints, so the index knows which it covers.
    """

    words: np.ndarray
    times_ms: np.ndarray
    row_start: np.ndarray
    fingerprint_ids: np.ndarray
    media: list[str]
    tables: list[ChunkTable]
    name: str = ""
    owner: RowOwners = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.owner = RowOwners(self.row_start)

    def __len__(self) -> int:
        return int(self.row_start[-1])

    @property
    def informative_frames(self) -> np.ndarray:
        return np.diff(self.row_start)


def build_segment(hasher: Hasher, fingerprints: Iterable[tuple[int, Fingerprint]]) -> Segment:
    """A segment of (catalog id, fingerprint) pairs; only informative frames become rows."""
    ids: list[int] = []

    def noted(pairs: Iterable[tuple[int, Fingerprint]]) -> Iterable[Fingerprint]:
        for fingerprint_id, fp in pairs:  # read once: the pairs may be streamed from the catalog
            ids.append(fingerprint_id)
            yield fp

    rows = informative_rows(hasher, noted(fingerprints))
    return Segment(
        words=rows.words,
        times_ms=rows.times_ms,
        row_start=rows.row_start,
        fingerprint_ids=np.array(ids, dtype=np.int64),
        media=rows.media,
        tables=build_tables(rows.words, rows.row_start),
    )


def merge_segments(segments: list[Segment]) -> Segment:
    """One segment holding the rows of several (their chunk tables made anew)."""
    words = np.concatenate([np.asarray(s.words) for s in segments])
    starts = [np.asarray(segments[0].row_start)]
    for segment in segments[1:]:
        starts.append(np.asarray(segment.row_start)[1:] + starts[-1][-1])
    row_start = np.concatenate(starts).astype(np.int64)
    return Segment(
        words=words,
        times_ms=np.concatenate([np.asarray(s.times_ms) for s in segments]),
        row_start=row_start,
        fingerprint_ids=np.concatenate([np.asarray(s.fingerprint_ids) for s in segments]),
        media=[sha for s in segments for sha in s.media],
        tables=build_tables(words, row_start),
    )


def save_segment(segment: Segment, folder: Path, name: str) -> Path:
    """Write the segment as ``folder/name``: files in a temporary folder, fsynced, renamed whole."""
    staging = folder / f".{name}.{os.getpid()}-{secrets.token_hex(4)}.part"
    staging.mkdir(parents=True)
    try:
        arrays = {key: getattr(segment, key) for key in _ARRAYS}
        for c, table in enumerate(segment.tables):
            arrays |= {
                f"chunk{c}_offsets": table.offsets,
                f"chunk{c}_rest": table.rest,
                f"chunk{c}_row_low": table.row_low,
            }
        for key, array in arrays.items():
            np.save(staging / f"{key}.npy", np.ascontiguousarray(array), allow_pickle=False)
        meta = {"layout": SEGMENT_LAYOUT, "media": segment.media, "chunks": len(segment.tables)}
        (staging / "segment.json").write_text(json.dumps(meta), encoding="utf-8")
        for path in staging.iterdir():
            store.fsync_path(path)
        store.fsync_path(staging)
        target = folder / name
        os.replace(staging, target)
        store.fsync_path(folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    segment.name = name
    return target


# An index larger than this is read at random (mapped_array); a smaller one keeps the kernel's readahead.
AT_RANDOM_BYTES = 1 << 30


def mapped_array(path: Path, at_random: bool) -> np.ndarray:
    """The array of a ``.npy`` file, memory-mapped read-only; ``at_random``: the kernel is told its
    pages are read at random.

    A query reads a few bytes here and there of every file (chunk buckets, the rows they name,
    windows of candidate media).  The kernel's default readahead brings in up to 128 KB around each
    read: at 10^8 frames the whole index (3.3 GB) was resident after 40 queries, and 1.5 GB of it
    with the pages read at random.  On a small index readahead is what makes the first queries fast, reading
    it in a few large requests rather than 4 KB at a time (10^7 frames from a cold cache: 87 / 267
    ms CPU p50 / p95 a query against 172 / 384; bench/scale.py --memory-limit).  A plain array over
    the mapping, not an np.memmap: its Python-level ``__getitem__`` cost ~9 us a slice, thousands
    of times a query."""
    with path.open("rb") as file:
        try:
            version = np.lib.format.read_magic(file)
        except ValueError as exc:
            raise SegmentDamaged(f"{path}: not a .npy file ({exc})") from exc
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(file)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(file)
        else:
            raise SegmentDamaged(f"{path}: .npy format {version}, not one np.save writes for index arrays")
        if fortran or dtype.hasobject:
            raise SegmentDamaged(f"{path}: not an index array (Fortran order or objects)")
        offset = file.tell()
        mapping = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
    if at_random and hasattr(mapping, "madvise") and hasattr(mmap, "MADV_RANDOM"):
        mapping.madvise(mmap.MADV_RANDOM)
    count = int(np.prod(shape))
    if offset + count * dtype.itemsize > len(mapping):
        raise SegmentDamaged(f"{path}: shorter than its header says")
    return np.frombuffer(mapping, dtype=dtype, count=count, offset=offset).reshape(shape)


def segment_bytes(path: Path) -> int:
    """What the arrays of the segment saved at ``path`` take on disk (0 if it cannot be read)."""
    try:
        return sum(p.stat().st_size for p in path.glob("*.npy"))
    except OSError:
        return 0


class SegmentDamaged(ValueError):
    """A saved segment no version of this layout can read (damaged, cut short, missing files) or
    one of an older layout: its fingerprints are indexed anew and it may be dropped.  A newer
    layout or a passing failure (no file handles or memory left) is another error, and the segment
    is kept for whoever can read it."""


def load_segment(path: Path, at_random: bool = False) -> Segment:
    """A saved segment, its arrays memory-mapped (read only; ``at_random``: see mapped_array)."""
    try:
        meta = json.loads((path / "segment.json").read_text(encoding="utf-8"))
        layout, chunks, media = meta.get("layout"), int(meta["chunks"]), list(meta["media"])
    except (FileNotFoundError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise SegmentDamaged(f"{path}: no readable segment.json ({exc})") from exc
    if layout != SEGMENT_LAYOUT:
        message = f"{path}: segment layout {layout}, this version reads {SEGMENT_LAYOUT}"
        newer = isinstance(layout, int) and layout > SEGMENT_LAYOUT
        raise ValueError(message) if newer else SegmentDamaged(message)

    def array(key: str) -> np.ndarray:
        try:
            return mapped_array(path / f"{key}.npy", at_random)
        except FileNotFoundError as exc:
            raise SegmentDamaged(f"{path}: {key}.npy missing") from exc

    tables = [
        ChunkTable(array(f"chunk{c}_offsets"), array(f"chunk{c}_rest"), array(f"chunk{c}_row_low"))
        for c in range(chunks)
    ]
    return Segment(*(array(key) for key in _ARRAYS), media=media, tables=tables, name=path.name)
