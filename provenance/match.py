"""A query's frames -> ranked Matches against the index.

Robustness comes from the query side, so the index keeps one entry per frame: the query is hashed
inside its own content box at several zooms (copies cropped, or showing more around the footage,
than the archived media), mirrored, turned a quarter turn either way (a copy played sideways),
and inside any inset found on it (a player's window, a picture-in-picture: inset.py).
Hits of each view are aligned into segments on their own (a copy is cropped, mirrored and turned
the same way throughout), and each reference keeps its best view.  The score is how much of the
query or of the reference the segments explain, whichever is larger, so a short excerpt of a long
video and a long compilation containing a short clip both score high.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from .align import align_hits
from .contentbox import content_box_in, sampled_stack
from .fingerprint import INDEX_FRACTION, View, hash_views
from .hashing import Hasher
from .index import FrameHits, SearchIndex
from .inset import inset_in
from .models import Frame, Match, Segment
from .settings import MatchSettings, SamplingSettings

# Bump when a change here or in align.py, fingerprint.py or contentbox.py changes what a match is:
# cached matches (pipeline/clusters.py) made by another version are computed again.
MATCHER_VERSION = 7


def query_sampling(sampling: SamplingSettings, opts: MatchSettings) -> SamplingSettings:
    """How a query is decoded: like the archive, but denser (MatchSettings.query_rate_hz)."""
    return replace(sampling, rate_hz=opts.query_rate_hz)


def _ref_coverage(index: SearchIndex, ref: int, segments: Sequence[Segment]) -> float:
    times = index.times_of(ref)
    if times.size == 0:
        return 0.0
    covered = np.zeros(times.size, dtype=bool)
    for s in segments:
        covered |= (times >= s.ref_start_ms) & (times <= s.ref_end_ms)
    return float(covered.mean())


def _variant_hits(
    hashes: np.ndarray, quality: np.ndarray, times_ms: np.ndarray, index: SearchIndex, opts: MatchSettings
) -> tuple[FrameHits, np.ndarray]:
    """Hits of one view of the query, and the indices of its informative frames."""
    informative = np.nonzero(quality >= index.hasher.min_quality)[0]
    hits = index.search(hashes[informative], opts.max_distance, times_ms[informative])
    return replace(hits, query_index=informative[hits.query_index].astype(np.int32)), informative


def _strength(score: float, segments: Sequence[Segment]) -> tuple[float, float]:
    """How well a variant explains a reference: its score, and how close its hashes are."""
    frames = sum(s.frames_matched for s in segments)
    return score, sum(s.mean_distance * s.frames_matched for s in segments) / max(frames, 1)


# A later (more altered) variant replaces an earlier one when it explains clearly more (by
# SCORE_MARGIN), or about as much with hashes closer by DISTANCE_MARGIN bits on average.  A still
# camera or a push-in matches a zoomed query a little worse or a little better at the wrong times,
# while a real crop is matched far better by the right zoom (0.6 vs 9.4 bits, bench/robustness.py).
SCORE_MARGIN = 0.1
DISTANCE_MARGIN = 1.5


def _better(new: tuple[float, float], old: tuple[float, float]) -> bool:
    if abs(new[0] - old[0]) > SCORE_MARGIN:
        return new[0] > old[0]
    return new[1] + DISTANCE_MARGIN < old[1]


def query_views(opts: MatchSettings) -> list[tuple[str, View]]:
    """The views a query is hashed in, named as its segments name them, the least altered first
    (on equal evidence the first one wins): every zoom as is and mirrored, then the plain region
    turned by each of ``opts.quarter_turns``."""
    zooms = sorted(set(opts.crop_zooms) | {1.0}, key=lambda z: abs(np.log(z)))
    views = [
        (_label(zoom, mirrored), View(min(1.0, INDEX_FRACTION * zoom), mirrored))
        for mirrored in (False, True)
        for zoom in zooms
    ]
    return views + [
        (f"rot{90 * t}", View(INDEX_FRACTION, False, t)) for t in dict.fromkeys(opts.quarter_turns)
    ]


def _query_coverage(informative_ms: np.ndarray, segments: Sequence[Segment]) -> float:
    """The share of the query's informative frames that lie inside a segment."""
    covered = np.zeros(informative_ms.size, dtype=bool)
    for s in segments:
        covered |= (informative_ms >= s.query_start_ms) & (informative_ms <= s.query_end_ms)
    return float(covered.mean()) if informative_ms.size else 0.0


def _match_variant(
    times_ms: np.ndarray,
    hits: FrameHits,
    informative: np.ndarray,
    variant: str,
    index: SearchIndex,
    opts: MatchSettings,
) -> dict[int, tuple[tuple[Segment, ...], float, float]]:
    q_ms = times_ms[hits.query_index]
    owners = index.owner[hits.row]
    found = {}
    for ref in np.unique(owners):
        mine = owners == ref
        min_frames = needed_frames(informative.size, index.times_of(int(ref)), opts)
        segments = align_hits(
            q_ms[mine],
            index.times_ms[hits.row[mine]],
            hits.distance[mine],
            opts,
            min_frames,
            r_start_ms=index.times_ms[hits.row_start[mine]],
            r_end_ms=index.times_ms[hits.row_end[mine]],
            ref_times_ms=index.times_of(int(ref)),
        )
        # Evidence of one or two frames has no time alignment to vouch for it: it must be closer.
        segments = [
            s
            for s in segments
            if s.frames_matched >= opts.min_frames or s.mean_distance <= opts.few_frames_max_distance
        ]
        if not segments:
            continue
        segments = [s if variant == "none" else replace(s, variant=variant) for s in segments]
        query_coverage = _query_coverage(times_ms[informative], segments)
        found[int(ref)] = (tuple(segments), query_coverage, _ref_coverage(index, int(ref), segments))
    return found


def needed_frames(query_frames: int, ref_times_ms: np.ndarray, opts: MatchSettings) -> int:
    """Distinct reference frames a segment needs: ``opts.min_frames``, or as many as cover
    ``opts.min_evidence_s`` of a densely sampled reference, capped by ``opts.evidence_share`` of
    what the shorter side offers; never more than either side has."""
    offered = min(query_frames, ref_times_ms.size)
    if ref_times_ms.size < 2:
        return min(opts.min_frames, offered)
    step_s = float(np.median(np.diff(ref_times_ms))) / 1000
    by_time = math.ceil(opts.min_evidence_s / max(step_s, 1e-3) - 1e-9)
    cap = max(opts.min_frames, math.ceil(opts.evidence_share * offered))
    return min(max(opts.min_frames, min(by_time, cap)), offered)


def _label(zoom: float, mirrored: bool) -> str:
    return "+".join((["hflip"] if mirrored else []) + ([f"zoom{zoom:g}"] if zoom != 1.0 else [])) or "none"


# One variant of the query, searched: (label, hashes, qualities), all at the query's frame times.
HashedVariant = tuple[str, np.ndarray, np.ndarray]


def match_hashed(
    query_sha256: str | None,
    times_ms: np.ndarray,
    variants: Iterable[HashedVariant],
    index: SearchIndex,
    ref_paths: Mapping[str, Path],
    opts: MatchSettings,
) -> list[Match]:
    """Every indexed media sharing footage with the query's hashed variants, best first.

    Each variant is aligned on its own and each reference keeps its best variant (`_better`; the
    first variant wins on equal evidence): a copy is cropped and mirrored the same way throughout,
    and pooling zooms frame by frame would let zooming footage (a push-in) align at the wrong time.
    """
    best: dict[int, Match] = {}
    for variant, hashes, quality in variants:
        hits, informative = _variant_hits(hashes, quality, times_ms, index, opts)
        if informative.size == 0:
            continue
        found = _match_variant(times_ms, hits, informative, variant, index, opts)
        for ref, (segments, query_coverage, ref_coverage) in found.items():
            score = round(min(1.0, max(query_coverage, ref_coverage)), 4)
            if ref in best and not _better(
                _strength(score, segments), _strength(best[ref].score, best[ref].segments)
            ):
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
    return _ranked(best.values())


def _ranked(matches: Iterable[Match]) -> list[Match]:
    return sorted(matches, key=lambda m: (-m.score, -sum(s.frames_matched for s in m.segments)))


def merge_matches(*found: Sequence[Match]) -> list[Match]:
    """One match per reference, the better of those found through different indexes, best first."""
    best: dict[str, Match] = {}
    for matches in found:
        for m in matches:
            old = best.get(m.ref_sha256)
            if old is None or _better(_strength(m.score, m.segments), _strength(old.score, old.segments)):
                best[m.ref_sha256] = m
    return _ranked(best.values())


def hash_query(
    frames: Sequence[Frame], hasher: Hasher, opts: MatchSettings
) -> tuple[np.ndarray, list[HashedVariant]]:
    """The query frames' times (ms) and every view `match_frames` searches, hashed: the views of
    `query_views` inside the content box, then (``opts.insets``) the inset's box, if there is one,
    at the index's fraction, labelled "inset"."""
    stack = sampled_stack(frames)  # the content box and the inset are found on the same frames
    box = None if stack is None else content_box_in(stack)
    views = query_views(opts)
    inset = inset_in(stack, box) if opts.insets and stack is not None else None
    if inset is not None:
        views.append(("inset", View(INDEX_FRACTION, box=inset)))
    times_ms, hashed = hash_views(frames, box, [hasher], list(dict.fromkeys(v for _, v in views)))
    return times_ms, [(label, *hashed[(hasher.name, view)]) for label, view in views]


def match_frames(
    query_sha256: str | None,
    frames: Sequence[Frame],
    index: SearchIndex,
    ref_paths: Mapping[str, Path],
    opts: MatchSettings,
) -> list[Match]:
    """Every archived media sharing footage with the query frames, best first.

    The query frames should be sampled at ``opts.query_rate_hz`` (see `query_sampling`).  They are
    hashed in every view of `hash_query`.
    """
    times_ms, variants = hash_query(frames, index.hasher, opts)
    return match_hashed(query_sha256, times_ms, variants, index, ref_paths, opts)
