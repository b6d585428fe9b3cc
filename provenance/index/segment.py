"""A segment of the search index: the informative frames of some fingerprints, with chunk tables,
kept as plain NumPy arrays in a folder of `.npy` files (memory-mapped when opened: no pickle, and
opening costs no more than reading the folder's table of contents).

A segment is made once and never changed; the index (archive_index.py) is a list of segments, new
fingerprints going into a new one.  Files are written into a temporary folder and renamed whole.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import store
from ..hashing import Hasher
from ..models import Fingerprint
from .chunks import ChunkTable, build_tables
from .exact import informative_rows

# What a segment folder holds, and the layout version of its files.
SEGMENT_LAYOUT = 1
_ARRAYS = ("words", "owner", "times_ms", "row_start", "fingerprint_ids")


@dataclass(eq=False)
class Segment:
    """Rows (informative frames) of some fingerprints, concatenated fingerprint after fingerprint.

    ``owner[row]`` is the row's local media number, whose sha256 is ``media[number]`` and whose
    rows are ``row_start[number]:row_start[number + 1]``; ``fingerprint_ids`` are the catalog ids
    of the fingerprints, so the index knows which it covers.
    """

    words: np.ndarray
    owner: np.ndarray
    times_ms: np.ndarray
    row_start: np.ndarray
    fingerprint_ids: np.ndarray
    media: list[str]
    tables: list[ChunkTable]
    name: str = ""

    def __len__(self) -> int:
        return int(self.owner.shape[0])

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
        owner=rows.owner,
        times_ms=rows.times_ms,
        row_start=rows.row_start,
        fingerprint_ids=np.array(ids, dtype=np.int64),
        media=rows.media,
        tables=build_tables(rows.words, rows.owner),
    )


def merge_segments(segments: list[Segment]) -> Segment:
    """One segment holding the rows of several (their chunk tables made anew)."""
    owners, offset = [], 0
    for segment in segments:
        owners.append(np.asarray(segment.owner) + offset)
        offset += len(segment.media)
    words = np.concatenate([np.asarray(s.words) for s in segments])
    owner = np.concatenate(owners).astype(np.int32)
    starts = [np.asarray(segments[0].row_start)]
    for segment in segments[1:]:
        starts.append(np.asarray(segment.row_start)[1:] + starts[-1][-1])
    return Segment(
        words=words,
        owner=owner,
        times_ms=np.concatenate([np.asarray(s.times_ms) for s in segments]),
        row_start=np.concatenate(starts).astype(np.int64),
        fingerprint_ids=np.concatenate([np.asarray(s.fingerprint_ids) for s in segments]),
        media=[sha for s in segments for sha in s.media],
        tables=build_tables(words, owner),
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
                f"chunk{c}_rows": table.rows,
                f"chunk{c}_words": table.words,
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


def load_segment(path: Path) -> Segment:
    """A saved segment, its arrays memory-mapped (read only)."""
    meta = json.loads((path / "segment.json").read_text(encoding="utf-8"))
    if meta.get("layout") != SEGMENT_LAYOUT:
        raise ValueError(f"{path}: segment layout {meta.get('layout')}, this version reads {SEGMENT_LAYOUT}")

    def array(key: str) -> np.ndarray:
        # A plain array over the mapping: np.memmap's Python-level __getitem__ costs ~9 us a slice,
        # and a query slices the index thousands of times (bench/scale.py).
        return np.asarray(np.load(path / f"{key}.npy", mmap_mode="r", allow_pickle=False))

    tables = [
        ChunkTable(array(f"chunk{c}_offsets"), array(f"chunk{c}_rows"), array(f"chunk{c}_words"))
        for c in range(int(meta["chunks"]))
    ]
    return Segment(*(array(key) for key in _ARRAYS), media=list(meta["media"]), tables=tables, name=path.name)
