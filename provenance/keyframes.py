"""Shots and keyframes: where the picture changes, and the sharpest frame of each shot.

PyAV decodes with threads and scales every frame down inside the decoder's scaler; OpenCV then
describes each frame by an HSV histogram, a tiny grey thumbnail, its contrast and its sharpness.
A shot boundary is, strongest evidence first:

* a cut: the change between two consecutive frames stands far above the change around it (the
  local median), so a handheld pan, where every frame changes a lot, is not a cut;
* a fade through a flat frame (black, white, one colour) between two different pictures;
* a dissolve: the pictures half a second before and after differ much more than the same span
  does on either side (a sustained change that starts and stops).

A candidate closer than ``min_shot_s`` to a stronger one, or to either end, is dropped.  The
keyframe of a shot is its sharpest non-flat frame (variance of the Laplacian), away from fades
and dissolves, whose double exposures look sharp to a Laplacian.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, NamedTuple

import av
import av.error
import cv2
import numpy as np
from av.stream import Disposition
from av.video.reformatter import VideoReformatter

from .errors import BadInputError, CorruptMediaError, NotMediaError
from .models import Keyframe
from .settings import KeyframeSettings

Transition = Literal["start", "cut", "fade", "dissolve"]

# Grey levels varying less than this (std, 0-255) make a flat frame (black, white, one colour);
# the same value as HashSettings.flat_std, which asks the same question of sampled frames.
FLAT_STD = 6.0
# Pixel differences are taken on a 32x18 grey thumbnail: coarse enough to ignore grain and shake,
# small enough (576 bytes) to keep one per frame of an hour-long video.
TINY_SIZE = (32, 18)
HSV_BINS = ((0, 16, 180), (1, 8, 256), (2, 8, 256))  # (channel, bins, range): hue finer than the rest
# The colour histogram only helps: it jumps in fades (dark pixels change bins fast) and with hue shifts.
COLOUR_WEIGHT = 0.25
# A consecutive-frame change must be this many times the local median to be a cut (PySceneDetect's
# AdaptiveDetector uses 3 too); the median runs over this many seconds either side.
CUT_RATIO = 3.0
MEDIAN_HALF_S = 1.0
# A dissolve is looked for between frames this far either side of its middle, and must change the
# picture this many times more than the same span before and after it does.
DISSOLVE_HALF_S = 0.5
DISSOLVE_RATIO = 2.0
# ... and its middle frame must be a blend of the two ends: both least-squares weights at least this,
# what the blend leaves unexplained at most this share, and its contrast at most this share of theirs
# (two uncorrelated pictures mixed half and half keep ~0.71).  On ../shared/media, pans, zooms and
# walking cameras fail the contrast test (0.98-1.03); the dissolves measured 0.71-0.92.
BLEND_MIN_WEIGHT = 0.2
BLEND_MAX_RESIDUAL = 0.35
BLEND_MAX_DIP = 0.95
_RANK: dict[Transition, int] = {"cut": 0, "fade": 1, "dissolve": 2}
_SKIP = Disposition.attached_pic | Disposition.still_image | Disposition.dependent


@dataclass(frozen=True, slots=True)
class Shot:
    """A run of frames between two boundaries; ``transition`` says how it begins."""

    index: int
    start_ms: int
    end_ms: int
    transition: Transition
    keyframes: tuple[Keyframe, ...]


class _Boundary(NamedTuple):
    index: int  # first frame of the new shot
    strength: float
    kind: Transition


@dataclass(frozen=True, slots=True, eq=False)
class _Track:
    """What the analysis keeps of every decoded frame."""

    t_ms: np.ndarray  # int64 (n,)
    hist: np.ndarray  # float32 (n, 32), each channel's bins sum to 1
    tiny: np.ndarray  # uint8 (n, 576)
    std: np.ndarray  # float32 (n,), grey contrast
    sharp: np.ndarray  # float32 (n,), variance of the Laplacian

    @property
    def fps(self) -> float:
        steps = np.diff(self.t_ms)
        steps = steps[steps > 0]
        return 1000.0 / float(np.median(steps)) if steps.size else 25.0


# ---------------------------------------------------------------- opening and decoding


def _check_file(path: Path) -> None:
    if not path.exists():
        raise BadInputError(f"{path}: no such file", hint="check the path")
    if not path.is_file():
        raise BadInputError(f"{path}: not a file", hint="give a video file")
    if path.stat().st_size == 0:
        raise NotMediaError(f"{path}: empty file", hint="give a video file")


def _unopenable(path: Path, exc: Exception) -> BadInputError:
    # FFmpeg says "invalid data" for both; a known container signature means the file was meant to be
    # a video and is damaged (typically truncated before the moov atom).
    with contextlib.suppress(OSError), path.open("rb") as fh:
        head = fh.read(16)
        if head[4:8] in (b"ftyp", b"moov", b"mdat", b"wide", b"free") or head[:4] in (
            b"RIFF", b"\x1aE\xdf\xa3", b"OggS", b"FLV\x01"
        ):
            return CorruptMediaError(f"{path}: damaged or truncated video ({exc})", hint="re-download it")
    return NotMediaError(f"{path}: not a video FFmpeg can read", hint="give a video file")


@contextlib.contextmanager
def _open_video(path: Path) -> Iterator[tuple[av.container.InputContainer, av.VideoStream]]:
    _check_file(path)
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError, UnicodeDecodeError) as exc:
        raise _unopenable(path, exc) from None
    try:
        fmt = container.format.name
        streams = [s for s in container.streams.video if not int(s.disposition) & int(_SKIP)]
        if fmt == "image2" or fmt.endswith("_pipe") or (container.streams.video and not streams):
            raise NotMediaError(f"{path}: a still image, not a video", hint="keyframes are for videos")
        if not streams:
            raise NotMediaError(f"{path}: no video stream", hint="give a video file")
        streams[0].thread_type = "AUTO"  # frame and slice threads: decoding is the cost floor
        yield container, streams[0]
    finally:
        container.close()


def _frames(container: av.container.InputContainer, stream: av.VideoStream) -> Iterator[av.VideoFrame]:
    """Decoded frames; a damaged packet is skipped and a damaged tail ends the stream, never raises."""
    packets = container.demux(stream)
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            return
        except av.error.FFmpegError:
            return  # truncated or damaged container: keep what was decoded so far
        try:
            decoded = packet.decode()
        except (av.error.FFmpegError, ValueError):
            continue
        yield from decoded


def _time_ms(frame: av.VideoFrame) -> int | None:
    return None if frame.time is None else round(frame.time * 1000)


def _fit(width: int, height: int, side: int) -> tuple[int, int]:
    scale = min(1.0, side / max(width, height, 1))
    return max(2, round(width * scale)), max(2, round(height * scale))


def _describe(bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray, float, float]:
    hsv = cv2.cvtColor(bgr, cv2.COLOR_BGR2HSV)
    hist = np.concatenate([cv2.calcHist([hsv], [c], None, [n], [0, r]).ravel() for c, n, r in HSV_BINS])
    hist *= 3.0 / max(float(hist.sum()), 1.0)
    grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    tiny = cv2.resize(grey, TINY_SIZE, interpolation=cv2.INTER_AREA).ravel()
    return hist, tiny, float(grey.std()), float(cv2.Laplacian(grey, cv2.CV_32F).var())


def _smooth(hist: np.ndarray) -> np.ndarray:
    """Spread each bin over its neighbours (hue circularly), so a slight shift does not jump a bin."""
    out = np.empty_like(hist)
    start = 0
    for channel, bins, _ in HSV_BINS:
        part = hist[:, start : start + bins]
        if channel == 0:
            left, right = np.roll(part, 1, axis=1), np.roll(part, -1, axis=1)
        else:
            padded = np.pad(part, ((0, 0), (1, 1)), mode="edge")
            left, right = padded[:, :-2], padded[:, 2:]
        out[:, start : start + bins] = 0.5 * part + 0.25 * (left + right)
        start += bins
    return out


def _analyse(path: Path, opts: KeyframeSettings) -> _Track:
    times: list[int] = []
    rows: list[tuple[np.ndarray, np.ndarray, float, float]] = []
    # One scaler for the whole file: frame.reformat() would set up a new one per frame (~2 ms at 720p).
    scaler = VideoReformatter()
    with _open_video(path) as (container, stream):
        size: tuple[int, int] | None = None
        for frame in _frames(container, stream):
            t_ms = _time_ms(frame)
            if t_ms is None or (times and t_ms <= times[-1]):
                continue  # no timestamp, or a repeat: it could not be exported by time anyway
            size = size or _fit(frame.width, frame.height, opts.analysis_side)
            try:
                small = scaler.reformat(frame, size[0], size[1], "bgr24", interpolation="AREA")
            except (av.error.FFmpegError, ValueError):
                continue
            times.append(t_ms)
            rows.append(_describe(small.to_ndarray()))
    if not times:
        raise CorruptMediaError(f"{path}: no video frame could be decoded", hint="the file may be damaged")
    return _Track(
        t_ms=np.asarray(times, dtype=np.int64),
        hist=_smooth(np.stack([r[0] for r in rows]).astype(np.float32)),
        tiny=np.stack([r[1] for r in rows]),
        std=np.asarray([r[2] for r in rows], dtype=np.float32),
        sharp=np.asarray([r[3] for r in rows], dtype=np.float32),
    )


# ---------------------------------------------------------------- boundaries


def _standard(tiny: np.ndarray) -> np.ndarray:
    # Zero mean, unit contrast: a fade (brightness and contrast scaled) leaves the picture unchanged.
    grey = tiny.astype(np.float32)
    centred = grey - grey.mean(axis=1, keepdims=True)
    return centred / np.maximum(centred.std(axis=1, keepdims=True), FLAT_STD)


def _change(track: _Track, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """How different frames a[k] and b[k] are, 0-1, mostly from the standardised grey thumbnails."""
    out = np.empty(a.shape[0], dtype=np.float32)
    for lo in range(0, a.shape[0], 4096):  # in blocks: float thumbnails of an hour would be ~250 MB
        ia, ib = a[lo : lo + 4096], b[lo : lo + 4096]
        colour = np.abs(track.hist[ia] - track.hist[ib]).sum(axis=1) / 6.0
        # mean |za - zb| of two unrelated pictures is about 1.1 (2/sqrt(pi) for independent pixels)
        pixels = np.minimum(1.0, np.abs(_standard(track.tiny[ia]) - _standard(track.tiny[ib])).mean(axis=1) / 1.1)
        out[lo : lo + 4096] = COLOUR_WEIGHT * colour + (1.0 - COLOUR_WEIGHT) * pixels
    return out


def _window(values: np.ndarray, half: int, how: str) -> np.ndarray:
    padded = np.pad(values, half, mode="edge")
    view = np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1)
    return np.median(view, axis=1) if how == "median" else view.max(axis=1)


def _cuts(track: _Track, opts: KeyframeSettings) -> list[_Boundary]:
    n = track.t_ms.shape[0]
    if n < 3:
        return []
    step = np.concatenate([[0.0], _change(track, np.arange(n - 1), np.arange(1, n)), [0.0]])
    # What the picture does anyway around frame i: the local median (a pan, a crowd), or the smaller
    # of the two neighbouring steps, which is large inside a fade but small beside a cut even when
    # the cut has one blended frame.
    local = _window(step[:-1], max(2, round(MEDIAN_HALF_S * track.fps)), "median")
    beside = np.minimum(np.concatenate([[0.0], step[:-2]]), step[1:])
    context = np.maximum(local, beside)
    step = step[:-1]
    # beside a flat frame the standardised pixels are noise: cuts to and from black are fades' business
    solid = track.std >= FLAT_STD
    solid[1:] &= solid[:-1]
    hits = np.flatnonzero(solid & (step >= opts.cut_threshold) & (step >= CUT_RATIO * context))
    return [_Boundary(int(i), float(step[i]), "cut") for i in hits]


def _fades(track: _Track, opts: KeyframeSettings, half: int) -> list[_Boundary]:
    n = track.t_ms.shape[0]
    flat = np.concatenate([[False], track.std < FLAT_STD, [False]])
    edges = np.flatnonzero(np.diff(flat.astype(np.int8)))
    found: list[_Boundary] = []
    for start, stop in zip(edges[::2], edges[1::2], strict=True):  # flat run [start, stop)
        if start == 0 or stop == n:
            continue
        # A dip to black that comes back to the same picture is not a new shot.
        before, after = np.array([max(0, start - half)]), np.array([min(n - 1, stop - 1 + half)])
        change = float(_change(track, before, after)[0])
        if change >= opts.cut_threshold:
            found += [_Boundary(int(stop), change, "fade"), _Boundary(int(start), change * 0.99, "fade")]
    return found


def _is_blend(track: _Track, i: int, half: int) -> bool:
    """Is frame i a mix of the frames half a window before and after it, as in a dissolve?

    In a dissolve the middle frame is a*before + b*after with both weights well above zero, and mixing
    two different pictures lowers the contrast; camera motion and zooms give neither.
    """
    z = _standard(track.tiny[[i - half, i, i + half]])
    weights, *_ = np.linalg.lstsq(z[[0, 2]].T, z[1], rcond=None)
    residual = float(np.sum((z[1] - z[[0, 2]].T @ weights) ** 2) / max(float(np.sum(z[1] ** 2)), 1e-6))
    dip = float(track.std[i]) / max(1e-3, 0.5 * float(track.std[i - half] + track.std[i + half]))
    return bool(weights.min() >= BLEND_MIN_WEIGHT and residual <= BLEND_MAX_RESIDUAL and dip <= BLEND_MAX_DIP)


def _dissolves(track: _Track, opts: KeyframeSettings, half: int) -> list[_Boundary]:
    n = track.t_ms.shape[0]
    if n < 2 * half + 1:
        return []
    middle = np.arange(half, n - half)
    across = np.full(n, np.nan, dtype=np.float32)
    across[middle] = _change(track, middle - half, middle + half)
    # the same span just before and just after: large too in a pan or a zoom, small around a dissolve
    before = np.concatenate([np.full(2 * half, np.nan), across[: n - 2 * half]])
    after = np.concatenate([across[2 * half :], np.full(2 * half, np.nan)])
    sides = np.where(np.isnan(before), after, np.where(np.isnan(after), before, 0.5 * (before + after)))
    with np.errstate(invalid="ignore"):  # comparisons with NaN are False, as wanted
        peak = across >= _window(np.nan_to_num(across), half, "max")
        hits = np.flatnonzero(peak & (across >= opts.cut_threshold) & (across >= DISSOLVE_RATIO * sides))
    return [_Boundary(int(i), float(across[i]), "dissolve") for i in hits if _is_blend(track, int(i), half)]


def _boundaries(track: _Track, opts: KeyframeSettings, half: int) -> list[_Boundary]:
    """All candidates, strongest kind first; each kept only if min_shot_s from the ends and the kept."""
    candidates = _cuts(track, opts) + _fades(track, opts, half) + _dissolves(track, opts, half)
    t, gap = track.t_ms, opts.min_shot_s * 1000
    kept: list[_Boundary] = []
    for c in sorted(candidates, key=lambda c: (_RANK[c.kind], -c.strength)):
        at = t[c.index]
        if at - t[0] < gap or t[-1] - at < gap or any(abs(at - t[k.index]) < gap for k in kept):
            continue
        kept.append(c)
    return sorted(kept)


# ---------------------------------------------------------------- shots and keyframes


def _pick(track: _Track, lo: int, hi: int, avoid: np.ndarray, per_shot: int) -> list[int]:
    """The sharpest frame of each of per_shot equal parts of the shot, preferring non-flat frames."""
    frames = np.arange(lo, hi)
    flat = track.std[frames] < FLAT_STD
    for pool in (frames[~flat & ~avoid[frames]], frames[~flat], frames):
        if pool.size:
            break
    parts = np.array_split(pool, min(max(1, per_shot), pool.size))
    return [int(p[np.argmax(track.sharp[p])]) for p in parts]


def detect_shots(path: Path, opts: KeyframeSettings) -> list[Shot]:
    """The shots of a video, each with its keyframes (not yet exported)."""
    track = _analyse(path, opts)
    n = track.t_ms.shape[0]
    half = max(1, round(DISSOLVE_HALF_S * track.fps))
    kept = _boundaries(track, opts, half)
    avoid = np.zeros(n, dtype=bool)
    for b in kept:
        if b.kind != "cut":  # frames of a fade or dissolve are mixtures, not the shot itself
            avoid[max(0, b.index - half) : b.index + half] = True
    starts = [_Boundary(0, 0.0, "start"), *kept]
    end_ms = int(track.t_ms[-1] + round(1000 / track.fps))
    shots: list[Shot] = []
    for index, (b, nxt) in enumerate(zip(starts, [*kept, None], strict=True)):
        hi = n if nxt is None else nxt.index
        picks = _pick(track, b.index, hi, avoid, opts.per_shot)
        keyframes = tuple(Keyframe(int(track.t_ms[i]), index, round(float(track.sharp[i]), 2)) for i in picks)
        stop = end_ms if nxt is None else int(track.t_ms[hi])
        shots.append(Shot(index, int(track.t_ms[b.index]), stop, b.kind, keyframes))
    return shots


def find_shots(path: Path, opts: KeyframeSettings) -> list[Keyframe]:
    """One keyframe (or ``opts.per_shot``) per shot of the video, in time order."""
    return [k for shot in detect_shots(path, opts) for k in shot.keyframes]
