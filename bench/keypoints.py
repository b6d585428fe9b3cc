"""How many keypoints two frames share (keypoints.shared_keypoints), same scene vs unrelated scenes.

The second look (provenance/keypoints.py) vouches for a one-picture segment when at least
MIN_INLIERS ORB keypoints of its two frames agree with one homography.  This prints, for each half
of ../shared/media/videos (the seeded halves of bench/heldout.py), per frame sampled as the matcher
samples (grey, 256 px), spread over each video:

- the same frame edited as the copies the rule loses are edited (turned 4 degrees, a 4:3 picture
  stretched to 16:9, a caption box over the lower quarter, cropped 10 % a side, recompressed as JPEG
  at quality 15, shrunk to 176x144,
  blurred): the share reaching MIN_INLIERS;
- unrelated frames (different same-footage groups): every pair of frames of two sources, the
  largest count, the 99.9th percentile, and how many pairs reach MIN_INLIERS.

MIN_INLIERS is chosen on the tuning half; the held-out half is the check.

    python bench/keypoints.py [--frames 6]
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from heldout import halves
from negatives import related_to

from provenance.frames import sample_frames
from provenance.keypoints import MIN_INLIERS, shared_keypoints
from provenance.settings import SamplingSettings

MEDIA = Path(__file__).resolve().parents[2] / "shared" / "media" / "videos"
SAMPLING = SamplingSettings(rate_hz=2.0)


def _turned(grey: np.ndarray, degrees: float = 4.0) -> np.ndarray:
    h, w = grey.shape
    turn = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    return cv2.warpAffine(grey, turn, (w, h), borderValue=0)


def _stretched(grey: np.ndarray) -> np.ndarray:
    h, w = grey.shape
    return cv2.resize(grey, (round(w * 4 / 3), h), interpolation=cv2.INTER_AREA)


def _captioned(grey: np.ndarray) -> np.ndarray:
    boxed = grey.copy()
    boxed[-grey.shape[0] // 4 :, :] = 30
    cv2.putText(boxed, "BREAKING NEWS 24", (8, grey.shape[0] - 12), cv2.FONT_HERSHEY_SIMPLEX, 0.6, 255, 2)
    return boxed


def _cropped(grey: np.ndarray) -> np.ndarray:
    h, w = grey.shape
    return np.ascontiguousarray(grey[h // 10 : h - h // 10, w // 10 : w - w // 10])


def _qcif(grey: np.ndarray) -> np.ndarray:
    # A 176x144 copy as the sampler sees it: scaled back up to the longer side it samples at.
    h, w = grey.shape
    return cv2.resize(cv2.resize(grey, (176, 144), interpolation=cv2.INTER_AREA), (w, h))


def _blurred(grey: np.ndarray) -> np.ndarray:
    return cv2.GaussianBlur(grey, (0, 0), 1.5)


def _recompressed(grey: np.ndarray) -> np.ndarray:
    # A heavy re-encode: JPEG at quality 15 (blocks and ringing, as 100 kb/s video).
    return cv2.imdecode(cv2.imencode(".jpg", grey, [cv2.IMWRITE_JPEG_QUALITY, 15])[1], cv2.IMREAD_GRAYSCALE)


EDITS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "rotate_4deg": _turned,
    "stretch_4x3_to_16x9": _stretched,
    "caption_box": _captioned,
    "crop_10pct": _cropped,
    "jpeg_q15": _recompressed,
    "qcif_176x144": _qcif,
    "blur": _blurred,
}


def frames_of(video: Path, count: int) -> list[np.ndarray]:
    """``count`` sampled frames spread over the video."""
    frames = list(sample_frames(video, "video", SAMPLING))
    picks = np.linspace(0, len(frames) - 1, min(count, len(frames))).round().astype(int)
    return [frames[i].grey for i in dict.fromkeys(picks.tolist())]


def report_half(name: str, frames: dict[str, list[np.ndarray]]) -> list[str]:
    lines = [f"### {name} half: {len(frames)} videos, {sum(map(len, frames.values()))} frames", ""]
    lines += ["| edit | frames | reach MIN_INLIERS | median shared |", "|---|---:|---:|---:|"]
    for edit, change in EDITS.items():
        counts = [shared_keypoints(change(g), g) for greys in frames.values() for g in greys]
        reach = np.mean(np.array(counts) >= MIN_INLIERS)
        lines.append(f"| {edit} | {len(counts)} | {reach:.1%} | {np.median(counts):.0f} |")
    unrelated = [
        shared_keypoints(a, b)
        for x, y in itertools.combinations(sorted(frames), 2)
        if y not in related_to(x)
        for a in frames[x]
        for b in frames[y]
    ]
    found = np.array(unrelated)
    lines += [
        "",
        f"Unrelated frame pairs: {found.size:,}; shared keypoints max {found.max()}, 99.9th percentile "
        f"{np.percentile(found, 99.9):.0f}, 99th {np.percentile(found, 99):.0f}; "
        f"pairs reaching MIN_INLIERS ({MIN_INLIERS}): {int((found >= MIN_INLIERS).sum())}.",
        "",
    ]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=6, help="frames per video, spread over it")
    args = parser.parse_args(argv)
    clock = time.perf_counter()
    videos = sorted(p for p in MEDIA.iterdir() if p.is_file())
    half_of = halves([v.name for v in videos])
    frames = {v.name: frames_of(v, args.frames) for v in videos}
    out: list[str] = []
    for half in ("tuning", "held-out"):
        out += report_half(half, {n: f for n, f in frames.items() if half_of[n] == half})
    out.append(f"Time: {time.perf_counter() - clock:.0f} s.")
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
