"""A query's frames -> ranked Matches against the index.

Robustness comes from the query side, so the index keeps one entry per frame: the query is hashed
inside its own content box at several zooms (copies cropped, or showing more around the footage,
than the archived media), mirrored, turned a quarter turn either way (a copy played sideways),
inside any inset found on it (a player's window, a picture-in-picture, a 9:16 re-frame's band of
footage: inset.py), and, where its content box cut bars or a fill, on its whole frame (the bars
may be the copy's own: a slight turn's black corners).
Hits of each view are aligned into segments on their own (a copy is cropped, mirrored and turned
the same way throughout), and each reference keeps its best view.  The score is how much of the
query or of the reference the segments explain, whichever is larger, so a short excerpt of a long
video and a long compilation containing a short clip both score high.  Time alignment vouches for a
segment only when its frames show more than one picture on both sides (`_vouched`); one picture,
however many frames show it, is held to the distance a single frame is.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .align import align_hits
from .contentbox import content_box_in, sampled_stack
from .fingerprint import INDEX_FRACTION, View, hash_views
from .hashing import Hasher
from .index import FrameHits, SearchIndex, as_words
from .inset import inset_in
from .keypoints import SecondLook
from .models import Frame, Match, Segment
from .settings import MatchSettings, SamplingSettings

# Bump when a change here or in align.py, fingerprint.py, contentbox.py, inset.py or keypoints.py
# changes what a match is: cached matches (pipeline/clusters.py) made by another version are
# computed again.
MATCHER_VERSION = 11


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


def _zoom_fractions(opts: MatchSettings) -> list[tuple[float, float]]:
    """(zoom, share of the box hashed) for every zoom of ``opts.crop_zooms`` and 1, the least
    altered first."""
    zooms = sorted(set(opts.crop_zooms) | {1.0}, key=lambda z: abs(np.log(z)))
    return [(zoom, min(1.0, INDEX_FRACTION * zoom)) for zoom in zooms]


def query_views(opts: MatchSettings) -> list[tuple[str, View]]:
    """The views a query is hashed in, named as its segments name them, the least altered first
    (on equal evidence the first one wins): every zoom as is and mirrored, then the plain region
    turned by each of ``opts.quarter_turns``."""
    views = [
        (_label(zoom, mirrored), View(fraction, mirrored))
        for mirrored in (False, True)
        for zoom, fraction in _zoom_fractions(opts)
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


@dataclass(slots=True)
class _ViewSegments:
    """One view's segments: ``kept[ref]`` the vouched ones, ``held`` those `_vouched` holds back,
    each numbered as alignment ordered them (ref, number, segment)."""

    informative_ms: np.ndarray
    kept: dict[int, list[tuple[int, Segment]]]
    held: list[tuple[int, int, Segment]]

    def found(self, index: SearchIndex) -> dict[int, tuple[tuple[Segment, ...], float, float]]:
        """{ref: (segments in alignment order, query coverage, reference coverage)}."""
        found = {}
        for ref, numbered in self.kept.items():
            segments = tuple(s for _, s in sorted(numbered, key=lambda n: n[0]))
            query_coverage = _query_coverage(self.informative_ms, segments)
            found[ref] = (segments, query_coverage, _ref_coverage(index, ref, segments))
        return found


def _match_variant(
    times_ms: np.ndarray,
    hits: FrameHits,
    query: tuple[np.ndarray, np.ndarray],
    variant: str,
    index: SearchIndex,
    opts: MatchSettings,
) -> _ViewSegments:
    """Segments of one view in each reference its hits reach; ``query`` is the view's informative
    frames (their indices, their hashes as words)."""
    informative, query_words = query
    informative_ms = times_ms[informative]
    q_ms = times_ms[hits.query_index]
    owners = index.owner[hits.row]
    view = _ViewSegments(informative_ms, {}, [])
    for ref in np.unique(owners).tolist():
        mine = owners == ref
        ref_times = index.times_of(ref)
        segments = align_hits(
            q_ms[mine],
            index.times_ms[hits.row[mine]],
            hits.distance[mine],
            opts,
            needed_frames(informative.size, ref_times, opts),
            r_start_ms=index.times_ms[hits.row_start[mine]],
            r_end_ms=index.times_ms[hits.row_end[mine]],
            ref_times_ms=ref_times,
        )
        sides = _Sides(informative_ms, query_words, ref_times, index.words_of(ref))
        for order, s in enumerate(s if variant == "none" else replace(s, variant=variant) for s in segments):
            if _vouched(s, sides, opts):
                view.kept.setdefault(ref, []).append((order, s))
            else:
                view.held.append((ref, order, s))
    return view


def _look_again(
    views: Sequence[_ViewSegments], index: SearchIndex, second_look: Callable[[str, Segment], bool]
) -> None:
    """Put the segments the views hold back to ``second_look`` (reference sha256, segment), the most
    frames first over every view, and keep those it vouches for.  Its looks are few
    (keypoints.MAX_LOOKS): none is asked about a reference some view found anyway."""
    found = {ref for view in views for ref in view.kept}
    asked = [
        (n, ref, order, s) for n, view in enumerate(views) for ref, order, s in view.held if ref not in found
    ]
    for n, ref, order, s in sorted(
        asked, key=lambda a: (-a[3].frames_matched, a[3].mean_distance, index.media[a[1]], a[0], a[2])
    ):
        if second_look(index.media[ref], s):
            views[n].kept.setdefault(ref, []).append((order, s))


@dataclass(frozen=True, slots=True)
class _Sides:
    """The informative frames of the query view and of the reference: times (ms) and hashes."""

    query_ms: np.ndarray
    query_words: np.ndarray
    ref_ms: np.ndarray
    ref_words: np.ndarray


def _vouched(segment: Segment, sides: _Sides, opts: MatchSettings) -> bool:
    """Whether the segment's evidence holds: frames within ``opts.few_frames_max_distance``, or at
    least `_fewest_frames` time-aligned frames (alignment asked for `needed_frames`) showing more
    than one picture on both sides.

    Time alignment vouches for a match only when the aligned frames are different pictures.  A still
    stretch (a static shot, a slide, a dark scene) is one picture however many frames it spans, and
    the query meeting one reference picture is one frame's evidence, held to one frame's distance:
    among 10^5-10^6 frames of natural footage, a still shot of the query lies within 12 bits of
    some unrelated still shot often enough (bench/RESULTS.md, "False matches at scale").
    """
    if segment.mean_distance <= opts.few_frames_max_distance:
        return True
    if segment.frames_matched < _fewest_frames(opts):
        return False
    in_query = (sides.query_ms >= segment.query_start_ms) & (sides.query_ms <= segment.query_end_ms)
    in_ref = (sides.ref_ms >= segment.ref_start_ms) & (sides.ref_ms <= segment.ref_end_ms)
    return _several_pictures(sides.query_words[in_query], opts.max_distance) and _several_pictures(
        sides.ref_words[in_ref], opts.max_distance
    )


# Frames compared pairwise when telling whether a stretch shows more than one picture (evenly spaced).
PICTURE_SAMPLE = 256


def _several_pictures(words: np.ndarray, max_distance: int) -> bool:
    """Whether two of the frames (rows of uint64 words) are more than ``max_distance`` bits apart:
    the distance within which two frames count as the same picture."""
    if len(words) < 2:
        return False
    if len(words) > PICTURE_SAMPLE:
        words = words[np.linspace(0, len(words) - 1, PICTURE_SAMPLE).astype(np.int64)]
    apart = np.bitwise_count(words[:, None, :] ^ words[None, :, :]).sum(axis=2, dtype=np.int64)
    return bool((apart > max_distance).any())


# The fewest frames a time line can rest on: two fit some line at any speed, so three is where time
# alignment starts to say anything.
LINE_FRAMES = 3


def _fewest_frames(opts: MatchSettings) -> int:
    """The fewest frames time alignment vouches with: LINE_FRAMES, or a lower ``opts.min_frames``."""
    return min(opts.min_frames, LINE_FRAMES)


def needed_frames(query_frames: int, ref_times_ms: np.ndarray, opts: MatchSettings) -> int:
    """Distinct reference frames a segment needs: ``opts.min_frames``, or as many as cover
    ``opts.min_evidence_s`` of a densely sampled reference, capped by ``opts.evidence_share`` of
    what the shorter side offers though never below `_fewest_frames`; never more than either side
    has."""
    offered = min(query_frames, ref_times_ms.size)
    if ref_times_ms.size < 2:
        return min(opts.min_frames, offered)
    step_s = float(np.median(np.diff(ref_times_ms))) / 1000
    by_time = math.ceil(opts.min_evidence_s / max(step_s, 1e-3) - 1e-9)
    wanted = max(opts.min_frames, by_time)
    cap = math.ceil(opts.evidence_share * offered)
    return min(max(_fewest_frames(opts), min(wanted, cap)), offered)


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
    second_look: Callable[[str, Segment], bool] | None = None,
) -> list[Match]:
    """Every indexed media sharing footage with the query's hashed variants, best first.

    Each variant is aligned on its own and each reference keeps its best variant (`_better`; the
    first variant wins on equal evidence): a copy is cropped and mirrored the same way throughout,
    and pooling zooms frame by frame would let zooming footage (a push-in) align at the wrong time.
    """
    views = []
    for variant, hashes, quality in variants:
        hits, informative = _variant_hits(hashes, quality, times_ms, index, opts)
        if informative.size == 0:
            continue
        query = (informative, as_words(hashes[informative]))
        views.append(_match_variant(times_ms, hits, query, variant, index, opts))
    if second_look is not None:
        _look_again(views, index, second_look)
    best: dict[int, Match] = {}
    for view in views:
        for ref, (segments, query_coverage, ref_coverage) in view.found(index).items():
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
    at every zoom, labelled "inset" ("inset+zoom0.9", ...), and (``opts.whole_frame``) where a
    content box was found (bars or a fill), the whole frame at the index's fraction, "whole"."""
    stack = sampled_stack(frames)  # the content box and the inset are found on the same frames
    box = None if stack is None else content_box_in(stack)
    views = query_views(opts)
    inset = inset_in(stack, box) if opts.insets and stack is not None else None
    if inset is not None:
        # At every zoom, as the content box is: an inset found a few pixels off its footage's
        # edges is a crop of it, and the inset is small, so a pixel is a larger share of it.
        views += [
            ("inset" if zoom == 1.0 else f"inset+{_label(zoom, False)}", View(fraction, box=inset))
            for zoom, fraction in _zoom_fractions(opts)
        ]
    if opts.whole_frame and box is not None:
        views.append(("whole", View(INDEX_FRACTION, whole=True)))
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
    hashed in every view of `hash_query`; with ``opts.second_look``, a segment resting on one picture
    may be vouched for by the keypoints its frames share with the archived file (keypoints.py).
    """
    times_ms, variants = hash_query(frames, index.hasher, opts)
    look = None
    if opts.second_look and frames:
        look = SecondLook(frames, ref_paths, side=max(frames[0].grey.shape))
    return match_hashed(query_sha256, times_ms, variants, index, ref_paths, opts, look)
