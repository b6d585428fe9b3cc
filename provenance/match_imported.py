"""Matching what the archive holds without footage: fingerprints imported from hash lists.

Two cases the decoding matcher (`match.match_frames`) does not serve:

- **Whole-frame PDQ** (`hashing.PDQ256_FRAME`: vPDQ lists, PDQ hash banks).  Those hashes were made on
  whole frames by another tool, so the query is hashed on its whole frame too, and on its content box
  (a copy that added bars), each also mirrored; zooms are not tried (vPDQ's own matcher tries none).
- **A media known only by its stored hashes** as the query (an imported media has no file to decode):
  its stored frames are searched as they are, without variants.

Hits are aligned in time exactly as `match.py` aligns them (its `_match_variant`), and a reference
keeps its best variant by the same rule (`_better`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

from .contentbox import find_content_box
from .fingerprint import region_greys
from .index import FrameHits, HashIndex
from .match import _better, _match_variant, _strength
from .models import Fingerprint, Frame, Match
from .settings import MatchSettings

# (variant label, query hits, indices of the query's informative frames)
VariantHits = tuple[str, FrameHits, np.ndarray]


def _best_matches(
    query_sha256: str | None,
    times_ms: np.ndarray,
    variants: Iterable[VariantHits],
    index: HashIndex,
    ref_paths: Mapping[str, Path],
    opts: MatchSettings,
) -> list[Match]:
    best: dict[int, Match] = {}
    for variant, hits, informative in variants:
        if informative.size == 0:
            continue
        for ref, (segments, query_coverage, ref_coverage) in _match_variant(
            times_ms, hits, informative, variant, index, opts
        ).items():
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
    return sorted(best.values(), key=lambda m: (-m.score, -sum(s.frames_matched for s in m.segments)))


def _searched(hashes: np.ndarray, quality: np.ndarray, index: HashIndex, max_distance: int) -> VariantHits:
    informative = np.nonzero(quality >= index.hasher.min_quality)[0]
    hits = index.search(hashes[informative], max_distance)
    return (
        "none",
        FrameHits(informative[hits.query_index].astype(np.int32), hits.row, hits.distance),
        informative,
    )


def match_whole_frames(
    query_sha256: str | None,
    frames: Sequence[Frame],
    index: HashIndex,
    ref_paths: Mapping[str, Path],
    opts: MatchSettings,
) -> list[Match]:
    """Every media of a whole-frame index sharing footage with the query frames, best first.

    ``opts`` carries the distances of this hasher (see `frame_settings`).  Query frames as for
    `match.match_frames` (sampled at ``query_rate_hz``).
    """
    if not len(index) or not frames:
        return []
    times_ms = np.array([f.t_ms for f in frames], dtype=np.int32)
    box = find_content_box(frames)
    views = [None, box] if box is not None else [None]
    variants = []
    for mirrored in (False, True):
        for view in views:
            hashes, quality = index.hasher.hash_frames(region_greys(frames, view, 1.0, mirrored=mirrored))
            _, hits, informative = _searched(hashes, quality, index, opts.max_distance)
            variants.append(("hflip" if mirrored else "none", hits, informative))
    return _best_matches(query_sha256, times_ms, variants, index, ref_paths, opts)


def match_stored(
    query: Fingerprint, index: HashIndex, ref_paths: Mapping[str, Path], opts: MatchSettings
) -> list[Match]:
    """Every media of the index sharing footage with a stored fingerprint of the same hasher."""
    if query.hasher != index.hasher.name:
        raise ValueError(f"a {query.hasher} fingerprint cannot be searched in a {index.hasher.name} index")
    if not len(index) or not query.frame_count:
        return []
    variant = _searched(query.hashes, query.quality, index, opts.max_distance)
    return _best_matches(query.sha256, query.times_ms, [variant], index, ref_paths, opts)


def frame_settings(opts: MatchSettings) -> MatchSettings:
    """The match settings with the whole-frame PDQ distances in place of pHash's."""
    from dataclasses import replace

    return replace(
        opts, max_distance=opts.frame_max_distance, few_frames_max_distance=opts.frame_few_frames_max_distance
    )


def merge_matches(*found: Sequence[Match]) -> list[Match]:
    """One match per reference, the better of those found through different indexes, best first."""
    best: dict[str, Match] = {}
    for matches in found:
        for m in matches:
            old = best.get(m.ref_sha256)
            if old is None or _better(_strength(m.score, m.segments), _strength(old.score, old.segments)):
                best[m.ref_sha256] = m
    return sorted(best.values(), key=lambda m: (-m.score, -sum(s.frames_matched for s in m.segments)))
