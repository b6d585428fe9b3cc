"""Frame hits between one query and one reference -> time-aligned Segments.

Copied footage shows as hits whose time offset (reference time - query time) stays nearly constant
while the query time advances.  Hits are grouped by offset (neighbours within the tolerance join a
group, so a slow drift from a speed change stays one group), the strongest group claims its query
frames first, and each group is cut into segments wherever the query skips more than ``max_gap_s``.
"""

from __future__ import annotations

import numpy as np

from .models import Segment
from .settings import MatchSettings


def _offset_groups(offsets: np.ndarray, tolerance_ms: float) -> list[np.ndarray]:
    order = np.argsort(offsets, kind="stable")
    breaks = np.nonzero(np.diff(offsets[order]) > tolerance_ms)[0] + 1
    return [g for g in np.split(order, breaks) if g.size]


def _best_per_query_frame(q_ms: np.ndarray, r_ms: np.ndarray, dist: np.ndarray) -> np.ndarray:
    """Indices of the closest hit for each query frame.  Ties (a static shot matches many frames
    equally well) go to the hit nearest the group's median offset, so the segment keeps its pace."""
    offsets = r_ms.astype(np.int64) - q_ms
    off_median = np.abs(offsets - np.median(offsets))
    order = np.lexsort((off_median, dist, q_ms))
    _, first = np.unique(q_ms[order], return_index=True)
    return order[first]


def _segments_of(
    q_ms: np.ndarray, r_ms: np.ndarray, dist: np.ndarray, opts: MatchSettings, min_frames: int
) -> list[Segment]:
    """Cut one offset group into segments at query gaps; times are those of the first and last
    matched samples (a segment of one photo frame starts and ends at the same time)."""
    order = np.argsort(q_ms, kind="stable")
    q_ms, r_ms, dist = q_ms[order], r_ms[order], dist[order]
    cuts = np.nonzero(np.diff(q_ms) > opts.max_gap_s * 1000)[0] + 1
    segments = []
    for part in np.split(np.arange(q_ms.size), cuts):
        if part.size < min_frames:
            continue
        q, r = q_ms[part], r_ms[part]
        q_span = int(q[-1] - q[0])
        speed = float((r[-1] - r[0]) / q_span) if q_span > 0 else 1.0
        segments.append(
            Segment(
                query_start_ms=int(q[0]),
                query_end_ms=int(q[-1]),
                ref_start_ms=int(r.min()),
                ref_end_ms=int(r.max()),
                frames_matched=int(part.size),
                mean_distance=round(float(dist[part].mean()), 2),
                speed=round(speed, 3) if part.size > 2 else 1.0,
            )
        )
    return segments


def align_hits(
    q_ms: np.ndarray, r_ms: np.ndarray, dist: np.ndarray, opts: MatchSettings, min_frames: int
) -> list[Segment]:
    """Segments of the query found in one reference, longest first, no query frame used twice."""
    if q_ms.size == 0:
        return []
    groups = _offset_groups(r_ms.astype(np.int64) - q_ms, opts.offset_tolerance_s * 1000)
    groups.sort(key=lambda g: (-np.unique(q_ms[g]).size, float(dist[g].mean())))
    used: set[int] = set()
    segments: list[Segment] = []
    for group in groups:
        fresh = np.array([i for i in group if int(q_ms[i]) not in used], dtype=np.int64)
        if fresh.size < min_frames:
            continue
        best = fresh[_best_per_query_frame(q_ms[fresh], r_ms[fresh], dist[fresh])]
        found = _segments_of(q_ms[best], r_ms[best], dist[best], opts, min_frames)
        for segment in found:
            in_segment = (q_ms[best] >= segment.query_start_ms) & (q_ms[best] <= segment.query_end_ms)
            used.update(int(t) for t in q_ms[best][in_segment])
        segments.extend(found)
    segments.sort(key=lambda s: (-s.frames_matched, s.query_start_ms))
    return segments
