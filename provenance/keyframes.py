"""Shots and keyframes: where the picture changes, and the sharpest frame of each shot.

A boundary is, strongest evidence first: a cut (a frame-to-frame change far above the change around
it, so a handheld pan is not a cut), a fade through a flat frame, or a dissolve (a change across one
second, well above the same span either side, whose middle frame blends its ends).  Boundaries
nearer than ``min_shot_s`` to a stronger one or to either end are dropped.  A shot's keyframe is its
sharpest non-flat frame (variance of the Laplacian) outside fades and dissolves.
"""

from __future__ import annotations

import contextlib
import io
import ipaddress
import math
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NamedTuple

import av
import av.error
import cv2
import numpy as np
from av.container import InputContainer
from av.stream import Disposition
from av.video.reformatter import VideoReformatter
from PIL import Image, ImageDraw, ImageFont, ImageOps, UnidentifiedImageError

from .errors import BadInputError, CorruptMediaError, NotMediaError, UsageError
from .frames import scaled_size, start_of
from .models import Keyframe, Shot, Transition
from .settings import KeyframeSettings
from .store import require_file, write_atomic

# Grey std (0-255) under which a frame is flat: black, white, one colour (as HashSettings.flat_std).
FLAT_STD = 6.0
BAR_LEVEL = 24  # rows and columns never brighter than this are black bars
# Grey thumbnail for pixel differences: ignores grain and shake, 576 bytes a frame for a whole hour.
TINY_SIZE = (32, 18)
HSV_BINS = ((0, 16, 180), (1, 8, 256), (2, 8, 256))  # (channel, bins, range)
# The histogram only helps: it jumps in fades (dark pixels change bins fast) and with hue shifts.
COLOUR_WEIGHT = 0.25
# A cut's change must be this many times what the picture does anyway (as PySceneDetect's adaptive
# detector), judged over this many seconds either side.
CUT_RATIO = 3.0
MEDIAN_HALF_S = 1.0
# A dissolve compares frames this far either side of its middle, a change DISSOLVE_RATIO times the same
# span's just before and after; its middle frame must blend the two ends: least-squares weights both
# >= BLEND_MIN_WEIGHT, residual share <= BLEND_MAX_RESIDUAL, contrast <= BLEND_MAX_DIP of theirs (two
# unrelated pictures half and half keep ~0.71; in ../shared/media pans, zooms, walking cameras 0.98-1.03).
DISSOLVE_HALF_S = 0.5
DISSOLVE_RATIO = 2.0
BLEND_MIN_WEIGHT, BLEND_MAX_RESIDUAL, BLEND_MAX_DIP = 0.2, 0.35, 0.95
CAPTION_PX = 24  # caption band under each contact-sheet tile
EDGE_GUARD_S = 0.2  # keyframes are not taken this close to a cut
_RANK: dict[Transition, int] = {"cut": 0, "fade": 1, "dissolve": 2}
_STILL_BRANDS = ("heic", "heix", "heif", "mif1", "avif")  # HEIF/AVIF photos open as tiled "videos"
_NOT_MOVING = int(Disposition.attached_pic | Disposition.still_image | Disposition.dependent)
_MAGIC = (b"ftyp", b"moov", b"mdat", b"wide", b"free", b"RIFF", b"\x1aE\xdf\xa3", b"OggS")  # containers


class _Boundary(NamedTuple):
    index: int  # first frame of the new shot
    strength: float
    kind: Transition


@dataclass(frozen=True, slots=True, eq=False)
class _Track:
    t_ms: np.ndarray  # int64 (n,)
    hist: np.ndarray  # float32 (n, 32), each channel's bins sum to 1
    tiny: np.ndarray  # uint8 (n, 576)
    std: np.ndarray  # (n,) grey contrast
    sharp: np.ndarray  # (n,) variance of the Laplacian
    fps: float


@contextlib.contextmanager
def _open_video(path: Path) -> Iterator[tuple[InputContainer, av.VideoStream]]:
    require_file(path)
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError, UnicodeDecodeError) as exc:
        with path.open("rb") as fh:
            head = fh.read(16)
        if head[4:8] in _MAGIC or head[:4] in _MAGIC:  # meant to be a video, so damaged
            raise CorruptMediaError(f"{path}: damaged or truncated video ({exc})") from None
        raise NotMediaError(f"{path}: not a video FFmpeg can read") from None
    try:
        fmt, brand = container.format.name, container.metadata.get("major_brand", "")
        moving = [s for s in container.streams.video if not int(s.disposition) & _NOT_MOVING]
        still = fmt == "image2" or fmt.endswith("_pipe") or brand in _STILL_BRANDS
        if still or (container.streams.video and not moving):
            raise NotMediaError(f"{path}: a still image, not a video", hint="keyframes are for videos")
        if not moving:
            raise NotMediaError(f"{path}: no video stream")
        moving[0].thread_type = "AUTO"  # frame and slice threads: decoding is the cost floor
        yield container, moving[0]
    finally:
        container.close()


def _frames(container: InputContainer, stream: av.VideoStream) -> Iterator[av.VideoFrame]:
    """Decoded frames; a damaged packet is skipped and a damaged tail ends the stream, never raises."""
    packets = container.demux(stream)
    while True:
        try:
            packet = next(packets)
        except (StopIteration, av.error.FFmpegError):
            return  # the end, or a truncated container: keep what was decoded so far
        with contextlib.suppress(av.error.FFmpegError, ValueError):
            yield from packet.decode()


def _fit(width: int, height: int, side: int) -> tuple[int, int]:
    scale = min(1.0, side / max(width, height, 1))
    return max(2, round(width * scale)), max(2, round(height * scale))


def _analyse(path: Path, opts: KeyframeSettings) -> _Track:
    times: list[int] = []
    rows: list[tuple[np.ndarray, np.ndarray, float, float]] = []
    scaler = VideoReformatter()  # one for the file: frame.reformat() builds a scaler per frame (~2 ms)
    with _open_video(path) as (container, stream):
        size: tuple[int, int] | None = None
        start_s = start_of(stream)
        for frame in _frames(container, stream):
            if frame.time is None:
                continue  # no time: it could not be exported by its time
            t_ms = round((frame.time - start_s) * 1000)
            if t_ms < 0 or (times and t_ms <= times[-1]):
                continue  # before the start, or not after the last
            size = size or _fit(frame.width, frame.height, opts.analysis_side)
            try:
                bgr = scaler.reformat(frame, size[0], size[1], "bgr24", interpolation="AREA").to_ndarray()
            except (av.error.FFmpegError, ValueError):
                continue
            grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
            tiny = cv2.resize(grey, TINY_SIZE, interpolation=cv2.INTER_AREA).ravel()
            # the rest inside black bars (letterbox, pillarbox): their edges would pass for detail
            ys, xs = (np.flatnonzero(grey.max(axis=axis) > BAR_LEVEL) for axis in (1, 0))
            if ys.size and xs.size and ys[-1] - ys[0] > size[1] // 4 and xs[-1] - xs[0] > size[0] // 4:
                bgr, grey = (a[ys[0] + 1 : ys[-1], xs[0] + 1 : xs[-1]] for a in (bgr, grey))
            hsv = cv2.cvtColor(bgr, cv2.COLOR_BGR2HSV)
            hist = np.concatenate(
                [cv2.calcHist([hsv], [c], None, [k], [0, r]).ravel() for c, k, r in HSV_BINS]
            )
            sharpness = float(cv2.Laplacian(grey, cv2.CV_32F).var())
            times.append(t_ms)
            rows.append((hist * 3.0 / hist.sum(), tiny, float(grey.std()), sharpness))
    if not times:
        raise CorruptMediaError(f"{path}: no video frame could be decoded", hint="the file may be damaged")
    steps = np.diff(times)  # all positive: times only go forward
    hist, tiny, std, sharp = (np.asarray(column) for column in zip(*rows, strict=True))
    fps = 1000.0 / float(np.median(steps)) if steps.size else 25.0
    return _Track(np.asarray(times, dtype=np.int64), hist, tiny, std, sharp, fps)


def _standard(tiny: np.ndarray) -> np.ndarray:
    # Zero mean, unit contrast: a fade (brightness and contrast scaled) leaves the picture unchanged.
    grey = tiny.astype(np.float32)
    centred = grey - grey.mean(axis=1, keepdims=True)
    return centred / np.maximum(centred.std(axis=1, keepdims=True), FLAT_STD)


def _change(track: _Track, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """How different frames a[k] and b[k] are, 0-1, mostly from the standardised thumbnails."""
    out = np.empty(a.shape[0], dtype=np.float32)
    for lo in range(0, a.shape[0], 4096):  # in blocks: float thumbnails of an hour would be ~250 MB
        ia, ib = a[lo : lo + 4096], b[lo : lo + 4096]
        colour = np.abs(track.hist[ia] - track.hist[ib]).sum(axis=1) / 6.0
        # mean |za - zb| of two unrelated pictures is about 1.1 (2/sqrt(pi) for independent pixels)
        pixels = np.abs(_standard(track.tiny[ia]) - _standard(track.tiny[ib])).mean(axis=1) / 1.1
        out[lo : lo + 4096] = COLOUR_WEIGHT * colour + (1.0 - COLOUR_WEIGHT) * np.minimum(1.0, pixels)
    return out


def _window(values: np.ndarray, half: int, how: str) -> np.ndarray:
    view = np.lib.stride_tricks.sliding_window_view(np.pad(values, half, mode="edge"), 2 * half + 1)
    return np.median(view, axis=1) if how == "median" else view.max(axis=1)


def _cuts(track: _Track, opts: KeyframeSettings) -> list[_Boundary]:
    n = track.t_ms.shape[0]
    step = np.concatenate([[0.0], _change(track, np.arange(n - 1), np.arange(1, n)), [0.0]])
    # What the picture does anyway: the local median (a pan, a crowd), or the smaller neighbouring
    # step, large inside a fade but small beside a cut even when the cut has one blended frame.
    local = _window(step[:-1], max(2, round(MEDIAN_HALF_S * track.fps)), "median")
    context = np.maximum(local, np.concatenate([[0.0], np.minimum(step[:-2], step[2:])]))
    step = step[:-1]
    # beside a flat frame the standardised pixels are noise: cuts to and from black are fades
    solid = track.std >= FLAT_STD
    solid[1:] &= solid[:-1]
    hits = np.flatnonzero(solid & (step >= opts.cut_threshold) & (step >= CUT_RATIO * context))
    return [_Boundary(int(i), float(step[i]), "cut") for i in hits]


def _fades(track: _Track, opts: KeyframeSettings, half: int) -> list[_Boundary]:
    n = track.t_ms.shape[0]
    edges = np.flatnonzero(np.diff(np.concatenate([[0], track.std < FLAT_STD, [0]]).astype(np.int8)))
    found: list[_Boundary] = []
    for start, stop in zip(edges[::2], edges[1::2], strict=True):  # flat run [start, stop)
        if start == 0 or stop == n or track.std[start:stop].min() > FLAT_STD / 2:
            continue  # not between two pictures, or contrast wobbling about FLAT_STD in a slow fade
        # a dip to black that comes back to the same picture is not a new shot
        ends = np.array([max(0, start - half)]), np.array([min(n - 1, stop - 1 + half)])
        change = float(_change(track, *ends)[0])
        if change < opts.cut_threshold:
            continue
        found.append(_Boundary(int(stop), change, "fade"))  # the new shot starts as the picture returns
        if stop - start < opts.min_shot_s * track.fps:  # ... or, after a short dip, where it went
            found.append(_Boundary(int(start), change * 0.99, "fade"))
    return found


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
    found: list[_Boundary] = []
    for i in hits:  # is the middle frame a blend of the two ends (see BLEND_*)?
        z = _standard(track.tiny[[i - half, i, i + half]])
        weights, *_ = np.linalg.lstsq(z[[0, 2]].T, z[1], rcond=None)
        residual = float(np.sum((z[1] - z[[0, 2]].T @ weights) ** 2) / max(float(np.sum(z[1] ** 2)), 1e-6))
        dip = float(track.std[i]) / max(1e-3, 0.5 * float(track.std[i - half] + track.std[i + half]))
        if weights.min() >= BLEND_MIN_WEIGHT and residual <= BLEND_MAX_RESIDUAL and dip <= BLEND_MAX_DIP:
            found.append(_Boundary(int(i), float(across[i]), "dissolve"))
    return found


def detect_shots(path: Path, opts: KeyframeSettings) -> list[Shot]:
    """The shots of a video, each with its keyframes (not yet exported)."""
    track = _analyse(path, opts)
    t, n = track.t_ms, track.t_ms.shape[0]
    half = max(1, round(DISSOLVE_HALF_S * track.fps))
    # strongest kind first; each kept only if min_shot_s away from both ends and from those kept
    candidates = _cuts(track, opts) + _fades(track, opts, half) + _dissolves(track, opts, half)
    gap, kept = opts.min_shot_s * 1000, [_Boundary(0, 0.0, "start"), _Boundary(n - 1, 0.0, "start")]
    for c in sorted(candidates, key=lambda c: (_RANK[c.kind], -c.strength)):
        if all(abs(t[c.index] - t[k.index]) >= gap for k in kept):
            kept.append(c)
    kept = sorted(kept[:1] + kept[2:])
    avoid = np.zeros(n, dtype=bool)
    edge = max(1, round(EDGE_GUARD_S * track.fps))
    for b in kept[1:]:
        # frames of a fade or dissolve are mixtures, not the shot itself; next to a cut, a frame may
        # belong to the other shot (the boundary can be a frame late) or be smeared by the encoder
        reach = half if b.kind != "cut" else edge
        avoid[max(0, b.index - reach) : b.index + reach] = True
    shots: list[Shot] = []
    for index, (b, hi) in enumerate(zip(kept, [*(k.index for k in kept[1:]), n], strict=True)):
        # the sharpest frame of each of per_shot equal parts, preferring non-flat frames
        frames = np.arange(b.index, hi)
        flat = track.std[frames] < FLAT_STD
        pool = next(p for p in (frames[~flat & ~avoid[frames]], frames[~flat], frames) if p.size)
        parts = np.array_split(pool, min(max(1, opts.per_shot), pool.size))
        picks = [int(p[np.argmax(track.sharp[p])]) for p in parts]
        keys = tuple(Keyframe(int(t[i]), index, round(float(track.sharp[i]), 2)) for i in picks)
        stop = int(t[-1] + round(1000 / track.fps)) if hi == n else int(t[hi])
        shots.append(Shot(index, int(t[b.index]), stop, b.kind, keys))
    return shots


def find_shots(path: Path, opts: KeyframeSettings) -> list[Keyframe]:
    """One keyframe (``opts.per_shot``) per shot of the video, in time order."""
    return [k for shot in detect_shots(path, opts) for k in shot.keyframes]


def _frame_at(path: Path, container: InputContainer, stream: av.VideoStream, t_ms: int) -> av.VideoFrame:
    """The frame shown at t_ms: seek to the keyframe before it, decode forward, keep the nearest."""
    best: tuple[int, av.VideoFrame] | None = None
    start_s = start_of(stream)
    for back_ms in (0, 5000, t_ms):  # a seek may land late in odd files: go further back, then to 0
        with contextlib.suppress(av.error.FFmpegError):
            container.seek(int((max(0, t_ms - back_ms) / 1000 + start_s) / stream.time_base), stream=stream)
            best, first = None, None
            for frame in _frames(container, stream):
                at = -1 if frame.time is None else round((frame.time - start_s) * 1000)
                first = at if first is None else first
                if at >= 0 and (best is None or abs(at - t_ms) < abs(best[0] - t_ms)):
                    best = (at, frame)
                if at >= t_ms:
                    break
            if best is not None and first is not None and first <= t_ms:
                return best[1]
    if best is None:
        raise CorruptMediaError(f"{path}: no frame could be decoded at {t_ms} ms", hint="it may be damaged")
    return best[1]


def _upright(
    frame: av.VideoFrame,
    stream: av.VideoStream,
    side: int,
    scaler: VideoReformatter,
    pixels: str = "rgb24",
    fit: Callable[[int, int, int], tuple[int, int]] = _fit,
) -> np.ndarray:
    """RGB (or ``pixels``) as a player shows it: square pixels, sized by ``fit`` (at most ``side``),
    turned as the display matrix says."""
    sar = stream.codec_context.sample_aspect_ratio
    width = frame.width * (float(sar) if sar and sar > 0 else 1.0)  # anamorphic DV, DVD
    w, h = fit(round(width), frame.height, side)
    image = scaler.reformat(frame, w, h, pixels, interpolation="LANCZOS").to_ndarray()
    turns = round((frame.rotation or 0) / 90) % 4  # the matrix angle is counter-clockwise, as np.rot90
    return np.ascontiguousarray(np.rot90(image, turns)) if turns else image


def grey_frames_at(path: Path, times_ms: Sequence[int], side: int) -> list[np.ndarray]:
    """The frames of a video shown at ``times_ms``, grey, upright, sized as the sampler sizes them
    (longer side ``side``)."""
    scaler = VideoReformatter()
    with _open_video(path) as (container, stream):
        return [
            _upright(_frame_at(path, container, stream, t), stream, side, scaler, "gray", scaled_size)
            for t in times_ms
        ]


def _write_jpeg(path: Path, image: Image.Image, quality: int) -> None:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    write_atomic(path, buffer.getvalue())


def export_keyframes(
    path: Path, keyframes: list[Keyframe], out_dir: Path, *, max_side: int = 1280
) -> list[Keyframe]:
    """Write each keyframe upright as ``out_dir/<t_ms, 9 digits>.jpg``; return them with ``path`` set."""
    written: dict[int, Path] = {}
    scaler = VideoReformatter()
    with _open_video(path) as (container, stream):
        for t_ms in sorted({k.t_ms for k in keyframes}):
            frame = _frame_at(path, container, stream, t_ms)
            written[t_ms] = out_dir / f"{t_ms:09d}.jpg"
            _write_jpeg(written[t_ms], Image.fromarray(_upright(frame, stream, max_side, scaler)), 90)
    return [replace(k, path=written[k.t_ms]) for k in keyframes]


def timecode(t_ms: int) -> str:
    """HH:MM:SS.mmm"""
    hours, rest = divmod(max(0, t_ms), 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    return f"{hours:02d}:{minutes:02d}:{rest // 1000:02d}.{rest % 1000:03d}"


def contact_sheet(keyframes: list[Keyframe], out: Path, *, columns: int = 4, tile_width: int = 320) -> Path:
    """A grid JPEG of exported keyframes, each captioned with its time code and shot number (1-based)."""
    if not keyframes or any(k.path is None for k in keyframes):
        raise UsageError("contact sheet: no keyframes, or some not exported", hint="export them first")
    try:
        tiles = [Image.open(k.path).convert("RGB") for k in keyframes]  # type: ignore[arg-type]
    except (OSError, UnidentifiedImageError) as exc:
        raise BadInputError(f"keyframe image missing or unreadable ({exc})") from None
    tile_height = max(1, round(tile_width * tiles[0].height / tiles[0].width))
    cols = max(1, min(columns, len(tiles)))
    sheet = Image.new("RGB", (cols * tile_width, math.ceil(len(tiles) / cols) * (tile_height + CAPTION_PX)))
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=max(8, min(16, tile_width // 22)))
    for n, (keyframe, tile) in enumerate(zip(keyframes, tiles, strict=True)):
        x, y = (n % cols) * tile_width, (n // cols) * (tile_height + CAPTION_PX)
        tile = ImageOps.contain(tile, (tile_width, tile_height))  # a portrait among landscapes: boxed
        sheet.paste(tile, (x + (tile_width - tile.width) // 2, y + (tile_height - tile.height) // 2))
        caption = f"{timecode(keyframe.t_ms)}  shot {keyframe.shot_index + 1}"
        draw.text((x + 4, y + tile_height + 4), caption, fill=(235, 235, 235), font=font)
    _write_jpeg(out, sheet, 88)
    return out


_BING_BY_URL = "https://www.bing.com/images/search?view=detailv2&iss=sbi&q=imgurl:{}"
_ENGINES = {  # engine: (upload page, search by image URL)
    "google_lens": ("https://lens.google.com/", "https://lens.google.com/uploadbyurl?url={}"),
    "bing": ("https://www.bing.com/visualsearch", _BING_BY_URL),
    "yandex": ("https://yandex.com/images/", "https://yandex.com/images/search?rpt=imageview&url={}"),
    "tineye": ("https://tineye.com/", "https://tineye.com/search?url={}"),
}


def search_links(image_url: str | None) -> dict[str, str]:
    """Reverse image search links (inert strings, nothing is fetched): a search for a public image URL,
    else (a local file, a private address) each engine's page to upload the exported JPEG to."""
    url, scheme, host = (image_url or "").strip(), "", ""
    with contextlib.suppress(ValueError):  # a malformed URL (an unclosed "[") is not public either
        parts = urllib.parse.urlsplit(url)
        scheme, host = parts.scheme, (parts.hostname or "").lower()
        host = host if ipaddress.ip_address(host).is_global else ""  # 127.0.0.1, 10.x, 192.168.x
    if scheme not in ("http", "https") or not ("." in host or ":" in host) or host.endswith(".local"):
        return {engine: upload for engine, (upload, _) in _ENGINES.items()}
    quoted = urllib.parse.quote(url, safe="")
    return {engine: by_url.format(quoted) for engine, (_, by_url) in _ENGINES.items()}
