"""The archive's search index: segments on disk, kept in step with the catalog, searched in two stages.

Derived data (rule 8): ``<archive>/index/<hasher>@<rate>/`` holds segments (segment.py) and a
manifest naming them.  Opening compares the fingerprint ids the segments cover with the catalog's:
new fingerprints go into a new segment (persisted when the archive can be written), fingerprints the
catalog no longer has are left out of every answer.  A killed update leaves at worst an unlisted
folder, removed by the next open, whose fingerprints are then indexed again: an answer never
depends on how the last update ended.  Writers take a file lock; readers never wait.

Search: archives small enough to scan are searched exactly (index/exact.py).  Larger ones in two
stages: the chunk tables (chunks.py) name the media that share a chunk, and a close hash, with at
least two query frames at one time offset; the frames of those media that a time line through
those hits can reach are then searched exactly (`Candidates`), so a media found is found with all
its frames on that line, as the exact search would.  bench/scale.py measures what
the first stage misses (no copy at 10^5-10^7 frames, none of bench/robustness.py; 39 % of the query
frames that are close to their source are not found by the chunks alone, see bench/RESULTS.md).
"""

from __future__ import annotations

import fcntl
import json
import logging
import secrets
import shutil
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import store
from ..align import SPEEDS
from ..hashing import Hasher
from ..models import Fingerprint
from .chunks import candidates
from .exact import as_words, search_rows
from .hits import FrameHits, cap_hits, concat_hits, empty_hits, shift_rows
from .segment import (
    AT_RANDOM_BYTES,
    Segment,
    SegmentDamaged,
    build_segment,
    load_segment,
    merge_segments,
    save_segment,
    segment_bytes,
)

logger = logging.getLogger(__name__)

MANIFEST = "manifest.json"
# Up to this many (query hash, stored hash) pairs a search is exact: under 10 ms of popcount and
# hit collection, about what the two stages cost.  (It was 5e7: a 480-frame view against 10^5
# frames took 0.7 s exact, 0.05 s in two stages; bench/scale.py.)
EXACT_PAIRS = 2_000_000
# Queries of at most this many frames also look up chunks one bit off (17 probes a chunk): a short
# clip or a photo has few frames, each of which must count.  64 = 8 s at the query rate: at 32,
# 4 s windows of a screen recording (33 frames) were found by the exact search and missed by the
# two stages (bench/negatives.py with PROVENANCE_MATCH_SEARCH=indexed).
SHORT_QUERY = 64
# Two hits are at one time offset when (reference - query) falls in the same or the next bin: wide
# enough for the speed changes alignment accepts (0.75-1.33x) over a few seconds of query.
OFFSET_BIN_MS = 4000
# Media with this few informative frames (a photo), or queries with this few, need one hit only.
FEW_FRAMES = 2
# Segments are merged when there are more than this many small ones (under a quarter of the largest).
MERGE_SMALL = 4

# FingerprintSource: the catalog's fingerprints by id, for the ids the index does not cover.
FingerprintSource = Callable[[list[int]], Iterable[tuple[int, Fingerprint]]]


class _Rows:
    """A per-row array of all segments, read by global row numbers (``index.owner[rows]``)."""

    def __init__(self, parts: list[np.ndarray], starts: np.ndarray, add: list[int]) -> None:
        self._parts, self._starts, self._add = parts, starts, add

    def __getitem__(self, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.int64)
        where = np.searchsorted(self._starts, rows, side="right") - 1
        out = np.empty(rows.shape, dtype=np.int32)
        for part in np.unique(where):
            mine = where == part
            out[mine] = np.asarray(self._parts[part][rows[mine] - self._starts[part]]) + self._add[part]
        return out


class ArchiveIndex:
    """Every informative frame of one hasher's fingerprints, in segments, with a global numbering:
    media ``0..len(media)-1`` and rows ``0..len(self)-1`` run through the segments in order."""

    def __init__(
        self, hasher: Hasher, segments: list[Segment], alive_ids: set[int], search: str = "auto"
    ) -> None:
        self.hasher = hasher
        # "auto", "exact" or "indexed" (MatchSettings.search): how `search` chooses its path.
        self.search_mode = search
        self.segments = segments
        self._alive_ids = alive_ids
        self._renumber()

    def _renumber(self) -> None:
        self.media: list[str] = [sha for s in self.segments for sha in s.media]
        self._media_start = np.cumsum([0, *(len(s.media) for s in self.segments)]).astype(np.int64)
        self._row_start = np.cumsum([0, *(len(s) for s in self.segments)]).astype(np.int64)
        ids = np.concatenate([np.asarray(s.fingerprint_ids) for s in self.segments]) if self.segments else []
        ids = np.asarray(ids, dtype=np.int64)
        self.alive = np.isin(ids, np.fromiter(self._alive_ids, np.int64))
        # Two writers that indexed the same new fingerprints at once each list a segment of them:
        # the first copy answers, so a media is never found twice.
        first = np.zeros(ids.size, dtype=bool)
        first[np.unique(ids, return_index=True)[1]] = True
        self.alive &= first
        counts = [s.informative_frames for s in self.segments]
        self.informative_frames = np.concatenate(counts).astype(np.int64) if counts else np.zeros(0, np.int64)
        self.owner = _Rows([s.owner for s in self.segments], self._row_start, list(self._media_start[:-1]))
        self.times_ms = _Rows([s.times_ms for s in self.segments], self._row_start, [0] * len(self.segments))

    def __len__(self) -> int:
        return int(self._row_start[-1])

    @property
    def covered_ids(self) -> set[int]:
        return {int(i) for s in self.segments for i in np.asarray(s.fingerprint_ids)}

    def times_of(self, number: int) -> np.ndarray:
        """Times (ms) of the informative frames of global media ``number``."""
        return self._rows_of(number, "times_ms")

    def words_of(self, number: int) -> np.ndarray:
        """Hashes (rows of uint64 words) of the informative frames of global media ``number``."""
        return self._rows_of(number, "words")

    def _rows_of(self, number: int, field: str) -> np.ndarray:
        part = int(np.searchsorted(self._media_start, number, side="right") - 1)
        segment, local = self.segments[part], number - int(self._media_start[part])
        return np.asarray(getattr(segment, field)[segment.row_start[local] : segment.row_start[local + 1]])

    def sync(self, alive_ids: dict[int, str], source: FingerprintSource) -> None:
        """Match the catalog again: its fingerprints ``alive_ids`` {id: sha256} are what is answered;
        those no segment covers are indexed (``source`` gives them by id) in a new segment."""
        self._alive_ids = set(alive_ids)
        missing = sorted(self._alive_ids - self.covered_ids)
        if missing:
            self.add(source(missing))
        else:
            self._renumber()

    def add(self, fingerprints: Iterable[tuple[int, Fingerprint]]) -> Segment | None:
        """Index more fingerprints (in memory: a new segment, persisted by `ArchiveStore.flush`)."""
        segment = build_segment(self.hasher, fingerprints)
        if not segment.media:
            return None
        self.segments.append(segment)
        self._alive_ids |= {int(i) for i in segment.fingerprint_ids}
        self._renumber()
        return segment

    # -- search --------------------------------------------------------------------------------

    def search(
        self, query_hashes: np.ndarray, max_distance: int, query_times_ms: np.ndarray | None = None
    ) -> FrameHits:
        """Bounded hits (FrameHits, global rows) of the query within ``max_distance`` bits."""
        if not len(self) or not len(query_hashes):
            return empty_hits()
        query = as_words(query_hashes)
        if self._scans_all(len(query)):
            return self._search_media(query, max_distance, query_times_ms, np.flatnonzero(self.alive))
        found = self.candidate_media(query, max_distance, query_times_ms)
        return self._search_media(query, max_distance, query_times_ms, found.media, found)

    def _scans_all(self, query_frames: int) -> bool:
        """Whether a query of this many frames is searched over every stored frame."""
        if self.search_mode == "indexed":  # always two stages: benchmarks compare it with "exact"
            return False
        return self.search_mode == "exact" or query_frames * len(self) <= EXACT_PAIRS

    def candidate_media(
        self, query: np.ndarray, max_distance: int, query_times_ms: np.ndarray | None
    ) -> Candidates:
        """The media that the chunk tables find with enough evidence (module docstring), and where
        in each of them stage 2 searches."""
        flips = 1 if len(query) <= SHORT_QUERY else 0
        found_q, found_m, found_t = [], [], []
        for part, segment in enumerate(self.segments):
            q, rows, _ = candidates(segment.tables, query, max_distance, flips)
            if not q.size:
                continue
            found_q.append(q)
            found_m.append(np.asarray(segment.owner[rows]).astype(np.int64) + self._media_start[part])
            found_t.append(np.asarray(segment.times_ms[rows]).astype(np.int64))
        if not found_q:
            return Candidates.whole(np.zeros(0, np.int64))
        q, media, times = (np.concatenate(a) for a in (found_q, found_m, found_t))
        keep = self.alive[media]
        q, media, times = q[keep], media[keep], times[keep]
        few = (self.informative_frames[media] <= FEW_FRAMES) | (len(query) <= FEW_FRAMES)
        whole = set(np.unique(media[few]).tolist())
        if query_times_ms is None:
            offset_bin = np.zeros(q.size, np.int64)
        else:
            offset_bin = (times - query_times_ms[q].astype(np.int64)) // OFFSET_BIN_MS
        chosen = set(whole)
        for shift in (0, 1):  # the same bin, or neighbouring bins (an offset on a bin's edge)
            cells = np.unique(np.stack([media, (offset_bin + shift) // 2, q], axis=1), axis=0)
            keys, votes = np.unique(cells[:, :2], axis=0, return_counts=True)
            chosen |= set(keys[votes >= 2, 0].tolist())
        found = np.array(sorted(chosen), dtype=np.int64)
        if query_times_ms is None:  # a photo, or frames without times: no line to follow
            return Candidates.whole(found)
        windowed = np.isin(media, np.fromiter(chosen - whole, np.int64))
        span = (int(query_times_ms.min()), int(query_times_ms.max()))
        hit_query_ms = query_times_ms[q[windowed]].astype(np.int64)
        return Candidates.around(found, whole, media[windowed], times[windowed], hit_query_ms, span)

    def _search_media(
        self,
        query: np.ndarray,
        max_distance: int,
        query_times_ms: np.ndarray | None,
        media: np.ndarray,
        where: Candidates | None = None,
    ) -> FrameHits:
        """Exact search over every row of the given global media (only inside ``where``'s windows)."""
        found: list[FrameHits] = []
        for part, segment in enumerate(self.segments):
            first, last = self._media_start[part], self._media_start[part + 1]
            local = media[(media >= first) & (media < last)] - first
            if not local.size:
                continue
            offset = int(self._row_start[part])
            if where is None and local.size == len(segment.media):  # the whole segment, as it lies
                hits = search_rows(
                    segment.words, segment.owner, segment.times_ms, query, max_distance, query_times_ms
                )
                found.append(shift_rows(hits, offset))
                continue
            starts, ends = np.asarray(segment.row_start)[local], np.asarray(segment.row_start)[local + 1]
            rows = np.concatenate([np.arange(a, b) for a, b in zip(starts, ends, strict=True)]).astype(
                np.int64
            )
            owner = np.asarray(segment.owner[rows])
            if where is not None:
                inside = where.covers(owner.astype(np.int64) + first, np.asarray(segment.times_ms[rows]))
                rows, owner = rows[inside], owner[inside]
                # Rows either side of a skipped stretch are not neighbours: each unbroken block is
                # its own "media" while hits are collected, so a run of look-alike rows never spans
                # rows that were not compared; the hits are bounded per real media below.
                broken = np.ones(rows.size, dtype=bool)
                broken[1:] = (rows[1:] != rows[:-1] + 1) | (owner[1:] != owner[:-1])
                owner = np.cumsum(broken, dtype=np.int64) - 1
            hits = search_rows(
                np.asarray(segment.words[rows]),
                owner,
                np.asarray(segment.times_ms[rows]),
                query,
                max_distance,
                query_times_ms,
            )
            found.append(shift_rows(hits, rows + offset))
        hits = concat_hits(found)
        if len(found) > 1 or where is not None:
            hits = cap_hits(hits, self.owner)
        if not self.alive.all() and hits.row.size:
            keep = self.alive[self.owner[hits.row]]
            hits = FrameHits(*(getattr(hits, f)[keep] for f in FrameHits.__slots__))
        return hits


# Stage 2 searches a candidate only where a time line through its stage-1 hits can pass: from each
# hit, as far before and after as the rest of the query reaches at the fastest speed alignment
# accepts (align.SPEEDS, and a refit 2 % past it), plus WINDOW_PAD_MS for the offset tolerance and
# a run of still frames.  A media found by chance (a few hits in an hour of footage) is searched
# over about the query's length instead of its whole length; a copy's hits span its whole line.
WINDOW_PAD_MS = 4000
_MAX_SPEED = float(SPEEDS[-1]) * 1.02
_TIME_SPAN = 1 << 32  # window keys: media * _TIME_SPAN + time (ms), so one sorted array holds all


@dataclass(frozen=True, slots=True, eq=False)
class Candidates:
    """Media stage 1 found (global numbers), and the windows of their time stage 2 searches:
    sorted, disjoint [lo, hi] keys (media * _TIME_SPAN + ms); a media searched whole has one
    window over all its time."""

    media: np.ndarray
    lo: np.ndarray
    hi: np.ndarray

    @staticmethod
    def whole(media: np.ndarray) -> Candidates:
        """Every media searched over all its time."""
        return Candidates.around(media, set(media.tolist()), *(np.zeros(0, np.int64),) * 3, (0, 0))

    @staticmethod
    def around(
        media: np.ndarray,
        whole: set[int],
        hit_media: np.ndarray,
        hit_ms: np.ndarray,
        hit_query_ms: np.ndarray,
        query_span_ms: tuple[int, int],
    ) -> Candidates:
        """The media ``whole`` searched over all their time, the others around their stage-1 hits
        (``hit_media`` at ``hit_ms``, met by query frames at ``hit_query_ms`` of a query spanning
        ``query_span_ms``)."""
        full = np.fromiter(sorted(whole), np.int64, len(whole)) * _TIME_SPAN
        before = _MAX_SPEED * (hit_query_ms - query_span_ms[0]) + WINDOW_PAD_MS
        after = _MAX_SPEED * (query_span_ms[1] - hit_query_ms) + WINDOW_PAD_MS
        base = hit_media * _TIME_SPAN
        starts = np.concatenate([full, base + np.clip(hit_ms - before, 0, _TIME_SPAN - 1).astype(np.int64)])
        ends = np.concatenate(
            [full + _TIME_SPAN - 1, base + np.clip(hit_ms + after, 0, _TIME_SPAN - 1).astype(np.int64)]
        )
        order = np.argsort(starts, kind="stable")
        starts, ends = starts[order], np.maximum.accumulate(ends[order])
        # Overlapping windows become one: a window opens where its start is past every earlier end,
        # and closes where the next one opens.
        opens = np.ones(starts.size, dtype=bool)
        opens[1:] = starts[1:] > ends[:-1]
        closes = np.append(opens[1:], True)[: starts.size]
        return Candidates(media, starts[opens], ends[closes])

    def covers(self, media: np.ndarray, times_ms: np.ndarray) -> np.ndarray:
        """Which (media, time) rows lie inside a window."""
        keys = media.astype(np.int64) * _TIME_SPAN + np.asarray(times_ms).astype(np.int64)
        where = np.searchsorted(self.lo, keys, side="right") - 1
        return (where >= 0) & (keys <= self.hi[np.maximum(where, 0)])


# -- on disk -------------------------------------------------------------------------------------


def _segment_name(segment: Segment) -> str:
    """A name no other writer's segment has, even one a lost manifest no longer lists."""
    return f"seg-{int(np.max(segment.fingerprint_ids))}-{secrets.token_hex(6)}"


class ArchiveStore:
    """The folder of one index: its manifest, its segments, and the lock writers take."""

    def __init__(self, folder: Path, hasher: Hasher, rate_hz: float, *, writable: bool) -> None:
        self.folder, self.hasher, self.rate_hz, self.writable = folder, hasher, rate_hz, writable
        # Listed segments that can never be read (damaged, or of an older layout): their
        # fingerprints were indexed anew, and the next flush takes them off the manifest.
        self._unreadable: set[str] = set()

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.folder.mkdir(parents=True, exist_ok=True)
        with (self.folder / "lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _listed(self) -> list[str]:
        try:
            manifest = json.loads((self.folder / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return []
        if manifest.get("hasher") != self.hasher.name or manifest.get("rate_hz") != self.rate_hz:
            return []
        return [str(name) for name in manifest.get("segments", [])]

    def _write_manifest(self, names: list[str]) -> None:
        manifest = {"hasher": self.hasher.name, "rate_hz": self.rate_hz, "segments": names}
        store.write_atomic(self.folder / MANIFEST, json.dumps(manifest).encode("utf-8"))

    def open(
        self, alive_ids: dict[int, str], source: FingerprintSource, *, search: str = "auto"
    ) -> ArchiveIndex:
        """The index as the catalog has it now: ``alive_ids`` {fingerprint id: sha256} the catalog
        holds, ``source`` gives the fingerprints of ids the segments do not cover."""
        segments, names = [], self._listed()
        at_random = sum(segment_bytes(self.folder / name) for name in names) > AT_RANDOM_BYTES
        for name in names:
            try:
                segments.append(load_segment(self.folder / name, at_random))
            except SegmentDamaged as exc:  # damaged or older: indexed anew, and dropped at the next flush
                logger.warning("%s: index segment unreadable (%s); indexed again", self.folder / name, exc)
                self._unreadable.add(name)
            except (OSError, ValueError) as exc:  # a newer layout, or a passing failure: kept listed
                logger.warning("%s: index segment not read (%s); indexed again here", self.folder / name, exc)
        index = ArchiveIndex(self.hasher, segments, set(alive_ids), search)
        index.sync(alive_ids, source)
        if self.writable:
            self.flush(index)
        return index

    def flush(self, index: ArchiveIndex) -> None:
        """Persist the segments made in memory, merge small ones, forget what nothing lists."""
        if not self.writable:
            return
        with self._locked():
            listed = self._listed()
            dropped = [name for name in listed if name in self._unreadable]
            listed = [name for name in listed if name not in self._unreadable]
            self._unreadable.clear()
            fresh = [s for s in index.segments if not s.name]
            for segment in fresh:
                name = _segment_name(segment)
                save_segment(segment, self.folder, name)
                listed.append(name)
            merged = self._merge_small(index, listed)
            if fresh or merged or dropped:
                self._write_manifest(listed)
            self._sweep(set(listed))

    def _merge_small(self, index: ArchiveIndex, listed: list[str]) -> bool:
        if not index.segments:
            return False
        largest = max(len(s) for s in index.segments)
        small = [s for s in index.segments if s.name in listed and len(s) < largest / 4]
        if len(small) <= MERGE_SMALL:
            return False
        merged = merge_segments(small)
        save_segment(merged, self.folder, _segment_name(merged))
        for segment in small:
            listed.remove(segment.name)
        listed.append(merged.name)
        index.segments = [s for s in index.segments if s not in small] + [merged]
        index._renumber()
        return True

    def _sweep(self, listed: set[str]) -> None:
        """Remove segment folders no manifest lists and what killed writers left half-written.

        Called with the lock held: every write happens under it, so a partial file or folder seen
        now belongs to a writer that is gone."""
        for path in self.folder.iterdir():
            if path.name.startswith(".") and path.name.endswith(".part"):
                if path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)
            elif path.is_dir() and path.name not in listed:
                shutil.rmtree(path, ignore_errors=True)

    def clear(self) -> None:
        """Forget the whole index (it is made again from the catalog on the next open)."""
        with self._locked():
            self._write_manifest([])
            self._sweep(set())
