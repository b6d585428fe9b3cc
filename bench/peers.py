"""Peer baselines for bench/robustness.py: what established tools say about the same files.

- ``vpdq-rule``: vPDQ's matching rule (ThreatExchange vpdq) on pdqhash frames: one RGB frame per
  second, frames with PDQ quality < 50 dropped, identical hashes deduplicated, a reference frame is
  found when some query frame is within distance < 31 of 256 bits; match when >= 80 % of the
  reference's frames are found.  (vPDQ's own decoder is not used: it needs a system FFmpeg to build.)
- ``phash-rule``: imagehash pHash (64 bits) with the same rule: 1 fps, flat frames (grey std < 6)
  skipped, distance <= 10, match when >= 80 % of the reference's frames are found.
- ``videohash``: the PyPI package, one 64-bit hash per video; its own rule ``is_similar``
  (Hamming distance <= ceil(15 % of 64) = 10).  Run only when it imports; it calls ``ffmpeg`` from
  PATH, so the bundled one is put first on PATH while it runs, and it still uses
  ``PIL.Image.ANTIALIAS``, restored as the alias it was while it runs.

None of them gives time segments.  Nothing here is required: a peer that cannot run is reported as
``not run (reason)``.

Beneath every frame-based method lies the frame hash itself: ``true_pair_distances`` measures, with
the alignment known, how far our hashers put each source frame from the copy frames that show it.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import imagehash
import imageio_ffmpeg
import numpy as np
from PIL import Image

from provenance.frames import sample_frames
from provenance.hashing import HASHERS, hamming
from provenance.settings import SamplingSettings

# vPDQ's published thresholds (ThreatExchange vpdq: distance tolerance 31, quality tolerance 50,
# 80 % of frames matched).
VPDQ_DISTANCE_LT = 31
VPDQ_QUALITY_MIN = 50
MATCH_FRACTION = 0.8
PHASH_DISTANCE_LE = 10
PHASH_FLAT_STD = 6.0
# PDQ is defined on images up to 512 px (its reference tools downsample larger ones first); it also
# keeps pdqhash's cost per frame small.
PEER_FRAME_SIDE = 512


@dataclass(frozen=True, slots=True)
class Verdict:
    """What one method says about one (copy, source) pair."""

    matched: bool
    detail: str = ""
    ref_err_s: float | None = None
    query_err_s: float | None = None


@dataclass(slots=True)
class PeerRun:
    """One peer over every (copy id, source key) pair; ``status`` is "ok" or "not run (reason)"."""

    name: str
    status: str = "ok"
    pairs: dict[tuple[str, str], Verdict] = field(default_factory=dict)
    seconds: float = 0.0


# (group, source key, copy path, copy time s -> source time s shown, NaN where the copy shows none)
Shown = tuple[str, str, Path, Callable[[np.ndarray], np.ndarray]]
FAR = 10**6  # a distance no hash reaches: "no usable pair"


@dataclass(frozen=True, slots=True)
class FrameHashes:
    """Per-second hashes of one video, already filtered by each rule's quality floor and deduplicated."""

    pdq: np.ndarray  # (n, 32) uint8, packed 256 bits
    phash: np.ndarray  # (m, 8) uint8, packed 64 bits


def frames_1fps(path: Path) -> Iterator[np.ndarray]:
    """RGB frames, the first at or after each whole second of presentation time, at most 512 px."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        start = float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
        next_s = 0.0
        for frame in container.decode(stream):
            if frame.time is None or frame.time - start + 1e-3 < next_s:
                continue
            scale = min(1.0, PEER_FRAME_SIDE / max(frame.width, frame.height))
            width, height = max(2, round(frame.width * scale)), max(2, round(frame.height * scale))
            yield frame.reformat(width=width, height=height, format="rgb24").to_ndarray()
            next_s = math.floor(frame.time - start + 1e-6) + 1.0


def _unique_rows(rows: list[np.ndarray], width: int) -> np.ndarray:
    # vPDQ deduplicates identical frame hashes before counting, so a static shot counts once.
    if not rows:
        return np.zeros((0, width), np.uint8)
    return np.unique(np.stack(rows), axis=0)


def hash_video(path: Path) -> FrameHashes:
    import pdqhash  # a peer's own dependency: imported here so a missing one fails only this peer

    pdq_rows, phash_rows = [], []
    for rgb in frames_1fps(path):
        bits, quality = pdqhash.compute(np.ascontiguousarray(rgb))
        if quality >= VPDQ_QUALITY_MIN:
            pdq_rows.append(np.packbits(bits.astype(np.uint8)))
        grey = Image.fromarray(rgb).convert("L")
        if float(np.asarray(grey).std()) >= PHASH_FLAT_STD:
            phash_rows.append(np.packbits(imagehash.phash(grey, hash_size=8).hash.reshape(-1)))
    return FrameHashes(_unique_rows(pdq_rows, 32), _unique_rows(phash_rows, 8))


def found_fraction(ref: np.ndarray, query: np.ndarray, within: Callable[[np.ndarray], np.ndarray]) -> float:
    """Share of ``ref`` rows that some ``query`` row is close to (``within`` judges distances)."""
    if ref.shape[0] == 0 or query.shape[0] == 0:
        return 0.0
    dist = np.bitwise_count(ref[:, None, :] ^ query[None, :, :]).sum(axis=2)
    return float(within(dist).any(axis=1).mean())


def _rule_verdict(ref: np.ndarray, query: np.ndarray, within: Callable[[np.ndarray], np.ndarray]) -> Verdict:
    ref_cov = found_fraction(ref, query, within)
    query_cov = found_fraction(query, ref, within)
    return Verdict(ref_cov >= MATCH_FRACTION, f"ref {ref_cov:.0%} query {query_cov:.0%}")


def frame_rule_peers(sources: Mapping[str, Path], copies: Sequence[tuple[str, Path]]) -> list[PeerRun]:
    """The vPDQ rule and the pHash rule, sharing one decode per file."""
    vpdq, phash = PeerRun("vpdq-rule"), PeerRun("phash-rule")
    try:
        hashes = {path: hash_video(path) for path in {*sources.values(), *(p for _, p in copies)}}
    except ImportError as exc:
        vpdq.status = phash.status = f"not run ({exc})"
        return [vpdq, phash]
    for copy_id, copy_path in copies:
        query = hashes[copy_path]
        for key, ref_path in sources.items():
            ref = hashes[ref_path]
            vpdq.pairs[copy_id, key] = _rule_verdict(ref.pdq, query.pdq, lambda d: d < VPDQ_DISTANCE_LT)
            phash.pairs[copy_id, key] = _rule_verdict(
                ref.phash, query.phash, lambda d: d <= PHASH_DISTANCE_LE
            )
    return [vpdq, phash]


@contextlib.contextmanager
def _videohash_environment() -> Iterator[None]:
    """What videohash 3.0.1 expects of its surroundings, for this peer only: ``ffmpeg`` on PATH (the
    bundled one goes first) and ``PIL.Image.ANTIALIAS``, which Pillow 10 removed (it was an alias
    of LANCZOS, so restoring it changes nothing in videohash's results)."""
    shim = Path(tempfile.mkdtemp(prefix="peers-ffmpeg-"))
    (shim / "ffmpeg").symlink_to(imageio_ffmpeg.get_ffmpeg_exe())
    before = os.environ.get("PATH", "")
    os.environ["PATH"] = f"{shim}{os.pathsep}{before}"
    had_alias = hasattr(Image, "ANTIALIAS")
    if not had_alias:
        Image.ANTIALIAS = Image.Resampling.LANCZOS  # type: ignore[attr-defined]
    try:
        yield
    finally:
        os.environ["PATH"] = before
        shutil.rmtree(shim, ignore_errors=True)
        if not had_alias:
            del Image.ANTIALIAS  # type: ignore[attr-defined]


def videohash_peer(sources: Mapping[str, Path], copies: Sequence[tuple[str, Path]]) -> PeerRun:
    run = PeerRun("videohash")
    try:
        from videohash import VideoHash
    except ImportError as exc:
        run.status = f"not run (pip install videohash: {exc})"
        return run
    hashes: dict[Path, object] = {}
    failed: dict[Path, str] = {}

    def one(path: Path, storage: str) -> None:
        try:
            # videohash takes a folder only when its name ends with a separator.
            hashes[path] = VideoHash(path=str(path), storage_path=storage + os.sep)
        except Exception as exc:  # a third-party tool's failure on one file is a result, not a crash
            failed[path] = f"{type(exc).__name__}: {exc}"

    paths = sorted({*sources.values(), *(p for _, p in copies)})
    # Two files at a time: most of its time is spent waiting on ffmpeg and on writing frame images.
    with (
        _videohash_environment(),
        tempfile.TemporaryDirectory(prefix="peers-videohash-") as storage,
        ThreadPoolExecutor(max_workers=2) as pool,
    ):
        list(pool.map(one, paths, [storage] * len(paths)))
    if not hashes:
        run.status = f"not run ({next(iter(failed.values()), 'no files')})"
        return run
    for copy_id, copy_path in copies:
        for key, ref_path in sources.items():
            if copy_path in failed or ref_path in failed:
                reason = failed.get(copy_path) or failed[ref_path]
                run.pairs[copy_id, key] = Verdict(False, f"error: {reason}")
                continue
            query, ref = hashes[copy_path], hashes[ref_path]
            run.pairs[copy_id, key] = Verdict(query.is_similar(ref), f"distance {query - ref}")  # type: ignore[attr-defined,operator]
    return run


def _hashed(path: Path, hashers: Sequence[Any], opts: SamplingSettings, mirror: bool) -> tuple:
    """Sample times (s) and, per hasher, the hashes and qualities of each variant (as is[, mirrored])."""
    frames = sample_frames(path, "video", opts)
    variants = [[f.grey for f in frames]]
    if mirror:
        variants.append([np.ascontiguousarray(f.grey[:, ::-1]) for f in frames])
    times_s = np.array([f.t_ms for f in frames]) / 1000
    return times_s, {h.name: [h.hash_frames(greys) for greys in variants] for h in hashers}


def true_pair_distances(
    sources: Mapping[str, Path],
    shown: Sequence[Shown],
    hasher_names: Sequence[str],
    ref_opts: SamplingSettings,
    query_opts: SamplingSettings,
) -> dict[tuple[str, str], np.ndarray]:
    """(group, hasher) -> for each informative source frame the copy shows, the distance to the
    closest informative copy frame within one query sampling step of where the copy shows it, on
    whole frames, as is or mirrored (as a matcher that tries both would see it).  Counted per source
    frame, as "how much of the reference could be found" is."""
    hashers = [HASHERS[name] for name in hasher_names if HASHERS[name].available]
    refs = {key: _hashed(path, hashers, ref_opts, mirror=False) for key, path in sources.items()}
    found: dict[tuple[str, str], list[np.ndarray]] = {}
    for group, key, path, source_time in shown:
        r_s, ref_hashes = refs[key]
        q_s, copy_hashes = _hashed(path, hashers, query_opts, mirror=True)
        pace = np.nanmedian(np.diff(source_time(q_s)) / np.diff(q_s))  # source seconds per copy second
        near = np.abs(source_time(q_s)[:, None] - r_s[None, :]) <= pace / query_opts.rate_hz  # NaN: False
        for hasher in hashers:
            r_hash, r_quality = ref_hashes[hasher.name][0]
            best = np.full(r_s.size, FAR)
            for q_hash, q_quality in copy_hashes[hasher.name]:
                usable = near & (q_quality >= hasher.min_quality)[:, None]
                dist = np.where(usable, hamming(q_hash[:, None, :], r_hash[None, :, :]), FAR).min(axis=0)
                best = np.minimum(best, dist)
            keep = (best < FAR) & (r_quality >= hasher.min_quality)
            found.setdefault((group, hasher.name), []).append(best[keep])
    return {k: np.concatenate(v) for k, v in found.items()}
