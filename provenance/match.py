"""A query's frames -> ranked Matches against the index.

The query is hashed as it is and mirrored (robustness to flips comes from the query side, so the
index keeps one entry per frame).  For each reference, hits are aligned into segments; the score is
how much of the query or of the reference the segments explain, whichever is larger, so a short
excerpt of a long video and a long compilation containing a short clip both score high.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from .align import align_hits
from .hashing import flip_variants
from .index import HashIndex
from .models import Frame, Match, Segment
from .settings import MatchSettings


def _ref_coverage(index: HashIndex, ref: int, segments: Sequence[Segment]) -> float:
    times = index.times_of(ref)
    if times.size == 0:
        return 0.0
    covered = np.zeros(times.size, dtype=bool)
    for s in segments:
        covered |= (times >= s.ref_start_ms) & (times <= s.ref_end_ms)
    return float(covered.mean())


def _match_variant(
    times_ms: np.ndarray,
    greys: Sequence[np.ndarray],
    variant: str,
    index: HashIndex,
    opts: MatchSettings,
) -> dict[int, tuple[tuple[Segment, ...], float, float]]:
    hashes, quality = index.hasher.hash_frames(greys)
    informative = np.nonzero(quality >= index.hasher.min_quality)[0]
    hits = index.search(hashes[informative], opts.max_distance)
    q_ms = times_ms[informative][hits.query_index]
    owners = index.owner[hits.row]
    found = {}
    for ref in np.unique(owners):
        mine = owners == ref
        min_frames = min(opts.min_frames, informative.size, index.informative_frames[ref])
        segments = align_hits(
            q_ms[mine], index.times_ms[hits.row[mine]], hits.distance[mine], opts, min_frames
        )
        if not segments:
            continue
        segments = [_with_variant(s, variant) for s in segments]
        query_coverage = sum(s.frames_matched for s in segments) / informative.size
        found[int(ref)] = (tuple(segments), query_coverage, _ref_coverage(index, int(ref), segments))
    return found


def _with_variant(segment: Segment, variant: str) -> Segment:
    return segment if variant == "none" else replace(segment, variant=variant)


def match_frames(
    query_sha256: str | None,
    frames: Sequence[Frame],
    index: HashIndex,
    ref_paths: Mapping[str, Path],
    opts: MatchSettings,
    rate_hz: float,
) -> list[Match]:
    """Every archived media sharing footage with the query frames, best first."""
    times_ms = np.array([f.t_ms for f in frames], dtype=np.int32)
    best: dict[int, Match] = {}
    for variant, greys in flip_variants([f.grey for f in frames]).items():
        found = _match_variant(times_ms, greys, variant, index, opts)
        for ref, (segments, query_coverage, ref_coverage) in found.items():
            score = round(min(1.0, max(query_coverage, ref_coverage)), 4)
            if ref in best and best[ref].score >= score:
                continue
            sha = index.media[ref]
            best[ref] = Match(
                query_sha256=query_sha256,
                ref_sha256=sha,
                ref_path=ref_paths.get(sha, Path(sha)),
                hasher=index.hasher.name,
                segments=segments,
                query_coverage=round(min(1.0, query_coverage), 4),
                ref_coverage=round(ref_coverage, 4),
                score=score,
            )
    return sorted(best.values(), key=lambda m: (-m.score, -sum(s.frames_matched for s in m.segments)))
