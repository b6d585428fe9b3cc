"""Matching what the archive holds without footage: fingerprints imported from hash lists.

Two cases the decoding matcher (`match.match_frames`) does not serve:

- **Whole-frame PDQ** (`hashing.PDQ256_FRAME`: vPDQ lists, PDQ hash banks).  Those hashes were made on
  whole frames by another tool, so the query is hashed on its whole frame too, and on its content box
  (a copy that added bars), each also mirrored; zooms are not tried (vPDQ's own matcher tries none).
- **A media known only by its stored hashes** as the query (an imported media has no file to decode):
  its stored frames are searched as they are, without variants.

Both go through `match.match_hashed`: hits aligned in time and a reference's best variant kept
exactly as for a decoded query.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from .contentbox import find_content_box
from .fingerprint import hash_views
from .index import SearchIndex
from .match import HashedVariant, match_hashed, merge_matches
from .models import Fingerprint, Frame, Match
from .settings import MatchSettings


def match_whole_frames(
    query_sha256: str | None,
    frames: Sequence[Frame],
    index: SearchIndex,
    ref_paths: Mapping[str, Path],
    opts: MatchSettings,
) -> list[Match]:
    """Every media of a whole-frame index sharing footage with the query frames, best first.

    ``opts`` carries the distances of this hasher (see `frame_settings`).  Query frames as for
    `match.match_frames` (sampled at ``query_rate_hz``).
    """
    if not len(index) or not frames:
        return []
    box = find_content_box(frames)
    variants: list[HashedVariant] = []
    times_ms = np.zeros(0, np.int32)
    for view in [None, box] if box is not None else [None]:
        views = [(1.0, False), (1.0, True)]
        times_ms, hashed = hash_views(frames, view, [index.hasher], views)
        variants += [
            ("hflip" if mirrored else "none", *hashed[(index.hasher.name, (1.0, mirrored))])
            for _, mirrored in views
        ]
    # Unmirrored views first: on equal evidence the least altered wins.
    variants.sort(key=lambda v: v[0] != "none")
    return match_hashed(query_sha256, times_ms, variants, index, ref_paths, opts)


def match_stored(
    query: Fingerprint, index: SearchIndex, ref_paths: Mapping[str, Path], opts: MatchSettings
) -> list[Match]:
    """Every media of the index sharing footage with a stored fingerprint of the same hasher."""
    if query.hasher != index.hasher.name:
        raise ValueError(f"a {query.hasher} fingerprint cannot be searched in a {index.hasher.name} index")
    if not len(index) or not query.frame_count:
        return []
    variants = [("none", query.hashes, query.quality)]
    return match_hashed(query.sha256, query.times_ms, variants, index, ref_paths, opts)


def frame_settings(opts: MatchSettings) -> MatchSettings:
    """The match settings with the whole-frame PDQ distances in place of pHash's."""
    from dataclasses import replace

    return replace(
        opts, max_distance=opts.frame_max_distance, few_frames_max_distance=opts.frame_few_frames_max_distance
    )


__all__ = ["frame_settings", "match_stored", "match_whole_frames", "merge_matches"]
