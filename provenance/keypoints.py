"""A second look at a segment that rests on one picture: do its two frames show the same scene?

A segment whose frames show one picture on a side is one frame's evidence (match.py `_vouched`):
its pHash distance must be a single frame's (8 bits).  A copy turned by a few degrees, stretched, or
covered by a caption box is a real copy whose hashes lie 9-12 bits off, as far as an unrelated still
shot may lie.  Local features tell them apart where pHash cannot: ORB keypoints of the query frame
and of the reference frame at the segment's middle, matched and fitted by one homography (RANSAC).
A rotation, a stretch, a crop or a box over part of the frame leaves most keypoints where the
homography puts them; two unrelated pictures share a handful (bench/RESULTS.md, "A second look").
The look can only vouch for a segment, never take one away, and needs the reference's own file: a
reference known only by imported hashes, or a picture too flat for keypoints, is held to the rule.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import av.error
import cv2
import numpy as np

from .errors import ProvenanceError
from .frames import detect_kind, read_image
from .keyframes import grey_frames_at
from .models import Frame, Segment
from .settings import SamplingSettings

logger = logging.getLogger(__name__)

# Keypoints per frame (OpenCV's ORB default 500 leaves a 256-px frame's corners to chance) and the
# reprojection error (px, of the 256-px sampled frames) within which a keypoint agrees with the
# homography.
ORB_FEATURES = 1000
RANSAC_PX = 5.0
# Keypoints that must agree with one homography for two frames to show the same scene.  Chosen on the
# tuning half of bench/keypoints.py (unrelated frame pairs share at most 22), checked on its held-out
# half, bench/heldout.py and bench/negatives.py (bench/RESULTS.md, "Keypoints", "A second look").
MIN_INLIERS = 40
# A homography that shrinks or grows areas beyond this (either way) maps the picture into a corner
# or a line: keypoints fitted by it are not a scene seen again.  A picture-in-picture at 40 % of the
# frame is 0.16 of its area, a copy cropped to 80 % 1.56.
MAX_AREA_SCALE = 25.0
# Second looks per query: each decodes a reference frame, a seek and the frames from the keyframe
# before it (10-150 ms CPU here, 0.5 s in a 720p trailer with 10 s between keyframes); and per
# reference, so that one long still reference cannot take every look of the query.
MAX_LOOKS = 8
MAX_LOOKS_PER_REFERENCE = 2


def shared_keypoints(query: np.ndarray, ref: np.ndarray) -> int:
    """How many ORB keypoints of two grey frames agree with one homography between them (0 when
    either frame has too few keypoints or the fitted homography is degenerate)."""
    orb = cv2.ORB_create(nfeatures=ORB_FEATURES)
    query_points, query_descriptors = orb.detectAndCompute(query, None)
    ref_points, ref_descriptors = orb.detectAndCompute(ref, None)
    if query_descriptors is None or ref_descriptors is None:
        return 0
    pairs = cv2.BFMatcher(cv2.NORM_HAMMING, crossCheck=True).match(query_descriptors, ref_descriptors)
    if len(pairs) < 4:
        return 0
    source = np.float32([query_points[p.queryIdx].pt for p in pairs])
    target = np.float32([ref_points[p.trainIdx].pt for p in pairs])
    homography, agree = cv2.findHomography(source, target, cv2.RANSAC, RANSAC_PX)
    if homography is None or agree is None:
        return 0
    area_scale = float(np.linalg.det(homography[:2, :2]) / homography[2, 2] ** 2)
    if not 1 / MAX_AREA_SCALE <= area_scale <= MAX_AREA_SCALE:  # a mirror too (det < 0: not flipped)
        return 0
    return int(agree.sum())


def _nearest(times_ms: np.ndarray, t_ms: float) -> int:
    return int(np.abs(times_ms - t_ms).argmin())


class SecondLook:
    """Second looks for one query: its sampled frames, the archive's files, a budget of looks.

    The query frame nearest the segment's middle is compared with the reference frame the segment's
    line puts at its time; a query view that mirrors the query is mirrored here too (keypoint
    descriptors are not).  Answers are kept for the query, as its views meet the same reference at
    the same times again and again."""

    def __init__(
        self, frames: Sequence[Frame], ref_paths: Mapping[str, Path], side: int, looks: int = MAX_LOOKS
    ) -> None:
        self.frames = frames
        self.times_ms: np.ndarray | None = None  # read on the first look: most queries ask for none
        self.ref_paths = ref_paths
        self.side = side
        self.looks_left = looks
        self.looks_of: dict[str, int] = {}
        self.unreadable: set[Path] = set()
        self.answers: dict[tuple[str, int, int, bool], bool] = {}

    def __call__(self, ref_sha256: str, segment: Segment) -> bool:
        """Whether the segment's middle frames show the same scene (False when it cannot be told)."""
        path = self.ref_paths.get(ref_sha256)
        if path is None or not self.frames:
            return False
        if self.times_ms is None:
            self.times_ms = np.array([f.t_ms for f in self.frames], dtype=np.int64)
        query_at = _nearest(self.times_ms, (segment.query_start_ms + segment.query_end_ms) / 2)
        # The reference's time of that query frame, on the segment's line.
        along = (int(self.times_ms[query_at]) - segment.query_start_ms) * segment.speed
        ref_ms = round(min(max(segment.ref_start_ms + along, segment.ref_start_ms), segment.ref_end_ms))
        mirrored = "hflip" in segment.variant.split("+")
        key = (ref_sha256, query_at, round(ref_ms / 250), mirrored)  # views meet it within 1/4 s
        if key not in self.answers:
            answer = self._look(ref_sha256, path, query_at, ref_ms, mirrored, segment)
            if answer is None:
                return False  # not looked at (no looks left, or the file unreadable): not an answer
            self.answers[key] = answer
        return self.answers[key]

    def _look(
        self, ref_sha256: str, path: Path, query_at: int, ref_ms: int, mirrored: bool, segment: Segment
    ) -> bool | None:
        if self.looks_left <= 0 or self.looks_of.get(ref_sha256, 0) >= MAX_LOOKS_PER_REFERENCE:
            return None
        if path in self.unreadable:
            return None
        self.looks_left -= 1
        self.looks_of[ref_sha256] = self.looks_of.get(ref_sha256, 0) + 1
        query = self.frames[query_at].grey
        try:
            ref = _ref_frame(path, ref_ms, self.side)
            inliers = shared_keypoints(np.ascontiguousarray(query[:, ::-1]) if mirrored else query, ref)
        # A damaged or vanished archived file, a frame OpenCV refuses: the segment stays held to the
        # rule, and the query goes on (a batch must not stop at one reference).
        except (ProvenanceError, av.error.FFmpegError, cv2.error, OSError, ValueError) as exc:
            logger.warning("second look skipped: %s", exc)
            self.unreadable.add(path)
            return None
        logger.debug(
            "second look %s at %d ms (query %d ms, %s, %d frames, %.1f bits): %d keypoints agree",
            path.name, ref_ms, self.frames[query_at].t_ms, segment.variant, segment.frames_matched,
            segment.mean_distance, inliers,
        )  # fmt: skip
        return inliers >= MIN_INLIERS


def _ref_frame(path: Path, t_ms: int, side: int) -> np.ndarray:
    """The archived file's grey frame at ``t_ms`` (a photo's only frame)."""
    if detect_kind(path) == "image":
        return read_image(path, SamplingSettings(frame_side=side)).grey
    return grey_frames_at(path, [t_ms], side)[0]
