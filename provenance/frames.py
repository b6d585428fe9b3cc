"""Decoding for fingerprints: frames sampled at a fixed rate in presentation time, as small grey images.

Decoding is the cost floor of fingerprinting, so this module decodes each file once, lets FFmpeg use
its threads, and scales only the sampled frames, inside FFmpeg's scaler (``VideoFrame.reformat``),
never in Python.  Photos are one frame at t=0, read through Pillow with JPEG draft mode so a
24-megapixel photo is decoded at a fraction of its size.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import BadInputError, CorruptMediaError, NotMediaError
from .models import Frame, MediaKind
from .settings import SamplingSettings
from .store import require_file

try:  # HEIC/HEIF photos need the [heic] extra; without it they are reported as not readable.
    import pillow_heif

    pillow_heif.register_heif_opener()
except ImportError:  # pragma: no cover - depends on the installed extras
    pillow_heif = None

# Pillow refuses images over twice this many pixels as decompression bombs.  Its default (89.5 MP)
# would refuse the 108 and 200 MP photos of current phones; 150 MP keeps the limit at 300 MP.
Image.MAX_IMAGE_PIXELS = 150_000_000
# FFmpeg demuxers that render text files (ANSI art) as video: a .nfo or .asc file is not footage.
TEXT_DEMUXERS = frozenset({"tty", "bin", "xbin", "adf", "idf"})
# Still-image formats Pillow reads as one picture. Animated formats (GIF, APNG) go to PyAV.
STILL_FORMATS = {"JPEG", "MPO", "PNG", "WEBP", "HEIF", "TIFF", "BMP", "JPEG2000"}


def detect_kind(path: Path) -> MediaKind:
    """Tell a photo from a video by reading headers only; raise for anything else."""
    require_file(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                animated_png = img.format == "PNG" and getattr(img, "is_animated", False)
                if img.format in STILL_FORMATS and not animated_png:
                    return "image"
    except Image.DecompressionBombError:
        raise BadInputError(f"{path}: image is too large to decode safely (decompression bomb)") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        pass
    try:
        with av.open(str(path)) as container:
            if container.streams.video and container.format.name not in TEXT_DEMUXERS:
                return "video"
    except av.FFmpegError:
        pass
    raise NotMediaError(f"{path}: not a video or photo that can be read")


def scaled_size(width: int, height: int, side: int) -> tuple[int, int]:
    """Keep the aspect ratio, longer side = ``side``, even dimensions for the scaler."""
    scale = side / max(width, height, 1)
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)


def start_of(stream: av.VideoStream) -> float:
    """The stream's first presentation time in seconds: media times (t_ms) count from there, so
    fingerprints, segments and keyframes agree for streams that do not start at 0 (MPEG-TS)."""
    return float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0


def _rotate(grey: np.ndarray, rotation_deg: float) -> np.ndarray:
    # FFmpeg's display matrix angle is counter-clockwise; np.rot90 with k>0 is counter-clockwise too.
    quarter_turns = round(rotation_deg / 90) % 4
    return np.ascontiguousarray(np.rot90(grey, k=quarter_turns)) if quarter_turns else grey


def sample_video(path: Path, opts: SamplingSettings) -> Iterator[Frame]:
    """Yield one grey frame per 1/rate_hz seconds of presentation time (the first frame at or after
    each sampling instant), rotated as the display matrix says."""
    try:
        container = av.open(str(path))
    except av.FFmpegError as exc:
        raise NotMediaError(f"{path}: not readable as video ({exc.strerror or exc})") from None
    with container:
        if not container.streams.video:
            raise NotMediaError(f"{path}: has no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        stream.codec_context.thread_count = opts.decode_threads
        start_s = start_of(stream)
        step_s = 1.0 / opts.rate_hz
        next_s = 0.0
        decoded = 0
        try:
            for frame in container.decode(stream):
                decoded += 1
                if frame.time is None:
                    continue
                t_s = frame.time - start_s
                if t_s + 1e-3 < next_s:
                    continue
                width, height = scaled_size(frame.width, frame.height, opts.frame_side)
                grey = frame.reformat(width=width, height=height, format="gray").to_ndarray()
                yield Frame(t_ms=max(0, round(t_s * 1000)), grey=_rotate(grey, frame.rotation or 0))
                next_s = (int(t_s / step_s + 1e-6) + 1) * step_s
        except av.FFmpegError as exc:
            if decoded == 0:
                raise CorruptMediaError(f"{path}: video cannot be decoded ({exc.strerror or exc})") from None
            # A truncated tail: keep what decoded (a partial copy is still evidence).
    if decoded == 0:
        raise CorruptMediaError(f"{path}: video stream has no decodable frames")


def read_image(path: Path, opts: SamplingSettings) -> Frame:
    """A photo as one grey frame at t=0, upright as its EXIF orientation says."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                # JPEG draft decodes at 1/2..1/8 scale directly: far cheaper than a full decode.
                img.draft("L", (opts.frame_side * 2, opts.frame_side * 2))
                upright = ImageOps.exif_transpose(img.convert("L"))
    except Image.DecompressionBombError:
        raise BadInputError(f"{path}: image is too large to decode safely (decompression bomb)") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise CorruptMediaError(f"{path}: image cannot be decoded ({exc})") from None
    upright.thumbnail((opts.frame_side, opts.frame_side), Image.Resampling.BILINEAR)
    return Frame(t_ms=0, grey=np.asarray(upright, dtype=np.uint8))


def sample_frames(path: Path, kind: MediaKind, opts: SamplingSettings) -> list[Frame]:
    """All sampled frames of a file: a photo gives one, a video one per 1/rate_hz seconds."""
    if kind == "image":
        return [read_image(path, opts)]
    frames = list(sample_video(path, opts))
    if not frames:  # e.g. every decoded frame lacked a presentation time
        raise CorruptMediaError(f"{path}: no frame with a presentation time could be decoded")
    return frames
