"""The content box: where the footage is inside a frame, without black bars or a blurred fill.

Re-uploads put the same picture inside different frames: letterboxed or pillarboxed with black
bars, or re-framed to 9:16 over a blurred, zoomed copy of itself.  Hashing inside the content box
makes all of these look like the original.  The box is found once per video, from rows and columns
that stay dark (bars) or stay soft (a blurred fill) over the sampled frames.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .models import Box, Frame

# Up to this many frames, evenly spread, decide the box (bars and fills do not change over time).
SAMPLE_FRAMES = 48
# A bar pixel is never brighter than this in any frame (video black is 16) ...
BAR_LEVEL = 40
# ... and a bar row or column is all such pixels (first pass, on the whole frame), or at least this
# share of them within the remaining box (second pass): a channel logo stamped over a bar (a quarter
# of its width, typically) does not make it footage, while bars on the other axis never count.
BAR_SHARE = 0.7
# ... and a bar pixel changes by at most BAR_FLICKER grey levels over the sampled frames and by at
# most BAR_GRAIN from its neighbour along the line (averaged over time): encoded black bars are flat
# to a level or two, while darkened footage (bench/heldout.py, condition "dark": luma x 0.3) kept
# under BAR_LEVEL was cut away as bars by the darkness test alone (a third of the frame of
# tmh_av1_sdr.webm), so the copy and the archived file were hashed on different boxes.
BAR_FLICKER = 10
BAR_GRAIN = 3
# A blurred fill has less than this fraction of the edge energy of the footage's middle rows.
SOFT_RATIO = 0.35
# A fill counts only when it takes at least this share of each side, and both sides are alike
# (a centred re-frame), so soft skies and shallow focus in ordinary footage are left alone.
MIN_FILL_SHARE = 0.08
MAX_FILL_IMBALANCE = 0.05
# The fill's inner edge is the sharpest rise of edge energy (at least FILL_STEP times) within
# FILL_REACH of the frame beyond the soft run: blur spreads the footage's edge into the fill.
FILL_STEP = 1.8
FILL_REACH = 0.1
# The box must keep at least this share of each dimension; less means we are cutting footage.  A
# 2.39:1 film re-framed to 9:16 keeps 0.235 of the height.
MIN_KEPT = 0.2


def _edge_run(mask: np.ndarray) -> tuple[int, int]:
    """How many leading and trailing entries of a boolean run are True."""
    n = mask.size
    lead = int(np.argmin(mask)) if not mask.all() else n
    trail = int(np.argmin(mask[::-1])) if not mask.all() else n
    return lead, trail


def _bar_pixels(stack: np.ndarray, along: int) -> np.ndarray:
    """Pixels that look like a bar: dark in every frame, steady over time and smooth along the line
    (``along``: 1 for rows, 0 for columns).  Dark footage (a night scene, a flame against black)
    stays under BAR_LEVEL too, but it flickers over time or has grain along its lines."""
    peak = stack.max(axis=0)
    steady = peak - stack.min(axis=0) <= BAR_FLICKER
    grain = np.abs(np.diff(stack.mean(axis=0), axis=along))
    smooth = np.ones(peak.shape, dtype=bool)
    if grain.size:
        rough = grain > BAR_GRAIN  # a step between two pixels marks both
        if along == 1:
            smooth[:, :-1] &= ~rough
            smooth[:, 1:] &= ~rough
        else:
            smooth[:-1, :] &= ~rough
            smooth[1:, :] &= ~rough
    return (peak < BAR_LEVEL) & steady & smooth


def _bars(stack: np.ndarray, axis: int, share: float) -> tuple[int, int]:
    """Rows (axis=1) or columns (axis=2) at the edges whose pixels are, for at least ``share`` of
    them, bar pixels (`_bar_pixels`)."""
    bar = _bar_pixels(stack, along=axis % 2)
    return _edge_run(bar.mean(axis=2 - axis) >= share)


def _trim_bars(stack: np.ndarray) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) bar sizes: wholly dark lines first, then mostly dark ones inside."""
    height, width = stack.shape[1:]
    top, bottom = _bars(stack, 1, 0.98)
    left, right = _bars(stack, 2, 0.98)
    inner = stack[:, top : height - bottom, left : width - right]
    if inner.size == 0:
        return top, bottom, left, right
    more_top, more_bottom = _bars(inner, 1, BAR_SHARE)
    more_left, more_right = _bars(inner, 2, BAR_SHARE)
    return top + more_top, bottom + more_bottom, left + more_left, right + more_right


def _rise(energy: np.ndarray, edge: int) -> float:
    """How many times the edge energy of the 3 lines from ``edge`` on exceeds that of the 3 before."""
    before = float(energy[max(0, edge - 3) : edge].mean())
    after = float(energy[edge : edge + 3].mean())
    return after / max(before, 1e-6)


def _edge_step(energy: np.ndarray, run: int, reach: int) -> int:
    """Where the footage begins past a soft run: the sharpest rise of edge energy within ``reach``
    lines beyond it.  A blurred fill softens towards the footage's own edge, so the soft run alone
    stops a few lines short, by a different amount on each side."""
    best, at = 0.0, run
    for edge in range(max(1, run), min(energy.size - 3, run + reach)):
        rise = _rise(energy, edge)
        if rise > best:
            best, at = rise, edge
    return at if best >= FILL_STEP else run


def _soft_fill(stack: np.ndarray, axis: int) -> tuple[int, int]:
    """Rows (axis=1) or columns (axis=2) at the edges that are a blurred fill: soft in every frame
    compared with the middle of the picture, in a centred, balanced pair of bands."""
    along = 3 - axis  # the direction in which we measure sharpness inside each row/column
    if min(stack.shape[1:]) < 2:
        return 0, 0  # a picture a pixel wide or high has no edges to measure
    energy = np.abs(np.diff(stack, axis=along)).mean(axis=(0, along))
    n = energy.size
    middle = energy[n // 3 : n - n // 3]
    if middle.size == 0 or float(np.median(middle)) <= 1e-6:
        return 0, 0
    soft = energy < SOFT_RATIO * float(np.median(middle))
    lead, trail = _edge_run(soft)
    if min(lead, trail) < MIN_FILL_SHARE * n:
        return 0, 0
    reach = round(FILL_REACH * n)
    lead, trail = _edge_step(energy, lead, reach), _edge_step(energy[::-1], trail, reach)
    return (lead, trail) if abs(lead - trail) <= MAX_FILL_IMBALANCE * n else (0, 0)


def fill_band(stack: np.ndarray) -> Box | None:
    """The band of footage between a fill above and below it, on portrait frames (a 9:16 re-frame),
    found by its two borders rather than by how soft the fill is: the pair of rows as far from the
    top as from the bottom (within MAX_FILL_IMBALANCE) where edge energy rises most, at least
    FILL_STEP times at both, with the rows outside softer than SOFT_RATIO of the band's median.

    `content_box_in` measures the fill against the middle rows' median, which footage with large
    flat parts (a screen recording, a still camera's road) keeps so low that the fill is not softer
    than it; its borders are still sharp.  None on landscape and square frames and where no pair
    holds.
    """
    _, height, width = stack.shape
    if height <= width or width < 2:
        return None  # landscape, or a picture a pixel wide: no edges along its rows
    energy = np.abs(np.diff(stack, axis=2)).mean(axis=(0, 2))  # per row, along the row
    rises_top = [0.0] + [_rise(energy, row) for row in range(1, height - 3)]
    rises_bottom = [0.0] + [_rise(energy[::-1], row) for row in range(1, height - 3)]
    lowest = max(1, round(MIN_FILL_SHARE * height))
    highest = min(int((1 - MIN_KEPT) / 2 * height), height - 4)  # rises are known up to there
    slack = int(MAX_FILL_IMBALANCE * height)  # as `_soft_fill` allows
    best = (0.0, 0, 0)
    for top in range(lowest, highest + 1):
        for bottom in range(max(lowest, top - slack), min(highest, top + slack) + 1):
            rise = min(rises_top[top], rises_bottom[bottom])
            if rise > best[0]:
                best = (rise, top, bottom)
    rise, top, bottom = best
    if rise < FILL_STEP:
        return None
    band = energy[top : height - bottom]
    outside = np.concatenate([energy[:top], energy[height - bottom :]])
    if float(np.median(outside)) >= SOFT_RATIO * float(np.median(band)):
        return None
    return Box(x=0, y=top, width=width, height=height - top - bottom)


def sampled_stack(frames: Sequence[Frame]) -> np.ndarray | None:
    """Up to SAMPLE_FRAMES greys evenly spread over the frames, of the first frame's shape, as one
    float32 array (frames, height, width); None when there are no frames.  What the content box and
    the inset (inset.py) are found on."""
    if not frames:
        return None
    shape = frames[0].grey.shape
    # Only the picked frames are read: the frames may be a buffer on disk (frames/buffer.py).
    picks = np.linspace(0, len(frames) - 1, min(SAMPLE_FRAMES, len(frames))).round().astype(int)
    picked = [grey for grey in (frames[int(i)].grey for i in picks) if grey.shape == shape]
    return np.stack(picked).astype(np.float32)


def find_content_box(frames: Sequence[Frame]) -> Box | None:
    """The box holding the footage, or None when it is the whole frame (or cannot be told)."""
    stack = sampled_stack(frames)
    return None if stack is None else content_box_in(stack)


def content_box_in(stack: np.ndarray) -> Box | None:
    """`find_content_box` on frames already sampled by `sampled_stack`."""
    _, height, width = stack.shape
    top, bottom, left, right = _trim_bars(stack)
    if top + bottom >= height * (1 - MIN_KEPT) or left + right >= width * (1 - MIN_KEPT):
        return None  # a dark picture, not bars
    inner = stack[:, top : height - bottom, left : width - right]
    soft_top, soft_bottom = _soft_fill(inner, 1)
    soft_left, soft_right = _soft_fill(inner, 2)
    y0, y1 = top + soft_top, height - bottom - soft_bottom
    x0, x1 = left + soft_left, width - right - soft_right
    if (y1 - y0) < MIN_KEPT * height or (x1 - x0) < MIN_KEPT * width:
        return None
    if (x0, y0, x1, y1) == (0, 0, width, height):
        return None
    return Box(x=int(x0), y=int(y0), width=int(x1 - x0), height=int(y1 - y0))


def crop(grey: np.ndarray, box: Box | None, fraction: float = 1.0) -> np.ndarray:
    """The central ``fraction`` (of width and of height) of the box, or of the frame without one."""
    if box is not None:
        grey = grey[box.y : box.y + box.height, box.x : box.x + box.width]
    if fraction >= 1.0:
        return grey
    height, width = grey.shape
    dy, dx = round(height * (1 - fraction) / 2), round(width * (1 - fraction) / 2)
    return grey[dy : height - dy, dx : width - dx] if height - 2 * dy > 0 and width - 2 * dx > 0 else grey
