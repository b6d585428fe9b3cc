"""Insets: footage shown as a rectangle inside a larger picture that is not part of it.

A screen recording of a desktop player puts the footage in a window with a title bar, a progress
bar and buttons around it; a news channel shows it picture-in-picture over its own background.
The content box (contentbox.py) cannot cut these away: the surround is neither black bars nor a
blurred fill it can tell, so the whole frame is hashed and the footage is a minority of it.  Three
signs of an inset, each found on frames sampled over the whole video (an inset does not move):

- a still surround: everything outside one rectangle stays the same from frame to frame while
  the inside changes (a player's window, a static template);
- a persistent border: the four sides of a rectangle are edges in most frames, whatever the
  footage shows (picture-in-picture over a moving background);
- a band between two borders on a portrait frame, softer outside than inside: a 9:16 re-frame
  whose blurred fill the content box missed because the footage is as flat as the fill
  (contentbox.fill_band).

An inset is searched as an extra query view (match.py), never indexed: a false sign costs one
more view of the query, whose hits need the same time-aligned evidence as every other view.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import numpy as np

from .contentbox import fill_band, sampled_stack
from .models import Box, Frame

# The frames of contentbox.sampled_stack (<= 48, evenly spread over the video) decide the insets;
# at least this many of them are needed to tell what moves.
MIN_FRAMES = 3
# A pixel is still when its grey level changes by less than STILL_LEVEL on average between
# sampled frames: encoded static graphics change by at most a few hundredths, footage by 1-50
# levels, and dark footage (a night scene, luma x 0.3) by 0.2-1 (bench/heldout.py, tuning half).
STILL_LEVEL = 0.2
# A row or column belongs to the moving rectangle when at least this share of its pixels moves.
MOVING_SHARE = 0.5
# The surround is still when at most this share of its pixels moves (a progress bar, a clock) and
# it changes at most SURROUND_MOTION levels on average; the inside must change this many times
# more than the surround does.
SURROUND_MOVING = 0.05
SURROUND_MOTION = 0.1
MOTION_RATIO = 10.0
# A border pixel is a step of at least EDGE_LEVEL grey levels to its neighbour in at least
# EDGE_PERSIST of the frames; each side of a bordered rectangle is such pixels for at least
# SIDE_SHARE of its length.  The footage and the background around a picture-in-picture are alike
# along part of a side in part of the frames (bench/heldout.py, pip_50pct).
EDGE_LEVEL = 10.0
EDGE_PERSIST = 0.6
SIDE_SHARE = 0.6
# At most this many candidate lines per direction are paired into rectangles.
CANDIDATE_LINES = 10
# An inset keeps at least MIN_SIDE of each dimension of the frame (a 40 % picture-in-picture is
# 0.4) and leaves out at least MIN_LEFT_OUT of its area (else it is the frame, or the content box).
MIN_SIDE = 0.25
MIN_LEFT_OUT = 0.1
# A bordered rectangle keeps this many pixels off the frame's edges: one reaching them is cut out
# of the footage (a building's edge, a window), not laid over a background.
MARGIN = 3
# An inset whose every side is within SAME_SIDE of the frame's size of the content box's is the
# content box (already searched, at several zooms).  A player's dark window is partly cut as bars,
# so the content box can hold most of the inset and still keep the title bar and the controls.
SAME_SIDE = 0.04


def _longest_run(mask: np.ndarray) -> tuple[int, int]:
    """(start, end) of the longest run of True (end exclusive; (0, 0) when there is none)."""
    padded = np.concatenate(([False], mask, [False])).astype(np.int8)
    steps = np.diff(padded)
    starts, ends = np.nonzero(steps == 1)[0], np.nonzero(steps == -1)[0]
    if starts.size == 0:
        return 0, 0
    longest = int(np.argmax(ends - starts))
    return int(starts[longest]), int(ends[longest])


def _still_surround(stack: np.ndarray) -> Box | None:
    """The rectangle of moving pixels inside a still surround, if the surround is still."""
    _, height, width = stack.shape
    motion = np.abs(np.diff(stack, axis=0)).mean(axis=0)
    moving = motion >= STILL_LEVEL
    y0, y1 = _longest_run(moving.mean(axis=1) >= MOVING_SHARE)
    if y1 - y0 < MIN_SIDE * height:
        return None
    x0, x1 = _longest_run(moving[y0:y1].mean(axis=0) >= MOVING_SHARE)
    if x1 - x0 < MIN_SIDE * width:
        return None
    surround = np.ones((height, width), dtype=bool)
    surround[y0:y1, x0:x1] = False
    if not surround.any():
        return None
    still = moving[surround].mean() <= SURROUND_MOVING and motion[surround].mean() <= SURROUND_MOTION
    inside = float(motion[y0:y1, x0:x1].mean())
    if not still or inside < MOTION_RATIO * max(float(motion[surround].mean()), 1e-3):
        return None
    return Box(x=x0, y=y0, width=x1 - x0, height=y1 - y0)


def _candidate_lines(profile: np.ndarray, minimum: float) -> list[int]:
    """The positions of the strongest lines, at least ``minimum`` strong and 3 apart."""
    picks: list[int] = []
    for at in np.argsort(-profile, kind="stable"):
        if profile[at] < minimum or len(picks) == CANDIDATE_LINES:
            break
        if all(abs(int(at) - p) > 2 for p in picks):
            picks.append(int(at))
    return sorted(picks)


def _bordered(stack: np.ndarray) -> Box | None:
    """The largest rectangle whose four sides are edges in most frames."""
    _, height, width = stack.shape
    # vertical[y, x]: a border between columns x and x + 1; horizontal[y, x]: between rows y, y + 1.
    vertical = (np.abs(np.diff(stack, axis=2)) > EDGE_LEVEL).mean(axis=0) >= EDGE_PERSIST
    horizontal = (np.abs(np.diff(stack, axis=1)) > EDGE_LEVEL).mean(axis=0) >= EDGE_PERSIST
    cols = _candidate_lines(vertical.sum(axis=0), SIDE_SHARE * MIN_SIDE * height)
    rows = _candidate_lines(horizontal.sum(axis=1), SIDE_SHARE * MIN_SIDE * width)
    # Running sums along each line make every side's share two look-ups.
    down = np.vstack([np.zeros((1, width - 1)), np.cumsum(vertical, axis=0)])
    across = np.hstack([np.zeros((height - 1, 1)), np.cumsum(horizontal, axis=1)])
    best: tuple[int, Box] | None = None
    for left in cols:
        for right in (c for c in cols if c - left >= MIN_SIDE * width):
            for top in rows:
                for bottom in (r for r in rows if r - top >= MIN_SIDE * height):
                    y0, y1, x0, x1 = top + 1, bottom + 1, left + 1, right + 1
                    if min(x0, y0) < MARGIN or x1 > width - MARGIN or y1 > height - MARGIN:
                        continue
                    sides = (
                        (down[y1, left] - down[y0, left]) / (y1 - y0),
                        (down[y1, right] - down[y0, right]) / (y1 - y0),
                        (across[top, x1] - across[top, x0]) / (x1 - x0),
                        (across[bottom, x1] - across[bottom, x0]) / (x1 - x0),
                    )
                    area = (x1 - x0) * (y1 - y0)
                    if min(sides) < SIDE_SHARE or area > (1 - MIN_LEFT_OUT) * height * width:
                        continue
                    if best is None or area > best[0]:
                        best = (area, Box(x=x0, y=y0, width=x1 - x0, height=y1 - y0))
    return best[1] if best else None


def _same_box(a: Box, b: Box, width: int, height: int) -> bool:
    sides = (
        abs(a.x - b.x) / width,
        abs(a.y - b.y) / height,
        abs(a.x + a.width - b.x - b.width) / width,
        abs(a.y + a.height - b.y - b.height) / height,
    )
    return max(sides) <= SAME_SIDE


def find_inset(frames: Sequence[Frame], content_box: Box | None) -> Box | None:
    """The box of footage shown inside a larger picture, other than the content box itself, or
    None (most videos)."""
    stack = sampled_stack(frames)
    return None if stack is None else inset_in(stack, content_box)


def inset_in(stack: np.ndarray, content_box: Box | None) -> Box | None:
    """`find_inset` on frames already sampled by `contentbox.sampled_stack`.  A still surround is
    the surer sign, so it is asked first (a player's window around a small clip makes a portrait
    frame whose controls could pass for a band); then a fill band, which a re-frame's blurred copy
    of the footage never shows as still; a bordered rectangle last, as the footage's own straight
    edges can also be one."""
    if len(stack) < MIN_FRAMES:
        return None
    _, height, width = stack.shape
    whole = content_box or Box(x=0, y=0, width=width, height=height)
    for found in (_still_surround, partial(_band_in, whole=whole), _bordered):
        box = found(stack)
        if box is not None and not _same_box(box, whole, width, height):
            return box
    return None


def _band_in(stack: np.ndarray, whole: Box) -> Box | None:
    """`contentbox.fill_band` across the content box's columns: pillar bars beside a re-frame are
    not footage, while its rows are the band's own (the box may have kept the fill)."""
    band = fill_band(stack[:, :, whole.x : whole.x + whole.width])
    return None if band is None else Box(x=whole.x, y=band.y, width=whole.width, height=band.height)
