"""Decoding for fingerprints: frames sampled at a fixed rate in presentation time, as small grey images.

Decoding is the cost floor of fingerprinting: videos are decoded once, keyframe-to-keyframe runs side
by side, skipping the frames no sample needs (`video.py`), and only the sampled frames are scaled,
inside FFmpeg's scaler.  Photos are one frame at t=0, read through Pillow with JPEG draft mode so a
24-megapixel photo is decoded at a fraction of its size.
"""

from __future__ import annotations

import struct
import warnings
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import BadInputError, CorruptMediaError, NotMediaError
from ..models import Frame, MediaKind
from ..probe import IMAGE_DEMUXER, open_error
from ..settings import SamplingSettings
from ..store import display_path, require_file
from .buffer import FrameBuffer, chunks
from .video import sample_video, scaled_size, share_decoders, start_of

__all__ = [
    "FrameBuffer",
    "chunks",
    "detect_kind",
    "read_image",
    "sample_frames",
    "sample_video",
    "scaled_size",
    "share_decoders",
    "short_media_rate",
    "start_of",
]

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
ANIMATED_FORMATS = {"GIF", "PNG", "WEBP"}


# ISO BMFF brands of HEIF still images (HEIC photos of phones, AVIF): FFmpeg opens them as a "video"
# of 512x512 tiles, so without a HEIF reader they must be refused, not archived as a wrong record.
_HEIF_BRANDS = frozenset(
    {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1", b"avif", b"avis"}
)


def _heif_brand(path: Path) -> bytes | None:
    with path.open("rb") as f:
        head = f.read(12)
    return head[8:12] if head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS else None


def detect_kind(path: Path) -> MediaKind:
    """Tell a photo from a video by reading headers only; raise for anything else."""
    require_file(path)
    if pillow_heif is None and _heif_brand(path) is not None:
        raise CorruptMediaError(
            f"{display_path(path)}: a HEIC/HEIF photo, which needs pillow-heif to be read",
            hint="pip install 'provenance[heic]', then add it again",
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                animated = getattr(img, "is_animated", False)
                # Animated GIF, PNG and WebP are video (PyAV decodes them); a one-frame GIF is a
                # picture, and so are an MPO's stereo pair and a multi-page TIFF.
                if img.format in STILL_FORMATS | {"GIF"} and not (
                    animated and img.format in ANIMATED_FORMATS
                ):
                    return "image"
    except Image.DecompressionBombError:
        raise BadInputError(f"{path}: image is too large to decode safely (decompression bomb)") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        pass
    try:
        with av.open(str(path)) as container:
            name = container.format.name
            # Text art (.nfo) and still-image demuxers (SVG, and what Pillow could not read) are not
            # footage: FFmpeg's one-frame "video" of a picture is no video.
            if container.streams.video and name not in TEXT_DEMUXERS and not IMAGE_DEMUXER.match(name):
                return "video"
    except av.FFmpegError as exc:
        raise open_error(path, exc) from None  # damaged when it starts like a video, else not media
    raise NotMediaError(f"{display_path(path)}: not a video or photo that can be read")


def read_image(path: Path, opts: SamplingSettings) -> Frame:
    """A photo as one grey frame at t=0, upright as its EXIF orientation says."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                # JPEG draft decodes at 1/2..1/8 scale directly: far cheaper than a full decode.
                img.draft("L", (opts.frame_side * 2, opts.frame_side * 2))
                grey = img.convert("L")
                upright = _upright(grey)
    except Image.DecompressionBombError:
        raise BadInputError(f"{path}: image is too large to decode safely (decompression bomb)") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise CorruptMediaError(f"{path}: image cannot be decoded ({exc})") from None
    upright.thumbnail((opts.frame_side, opts.frame_side), Image.Resampling.BILINEAR)
    return Frame(t_ms=0, grey=np.asarray(upright, dtype=np.uint8))


def _upright(grey: Image.Image) -> Image.Image:
    """Turned as the EXIF Orientation says; a damaged EXIF block leaves the pixels as stored (the
    photo is still the photo: `info` reports the EXIF as unreadable)."""
    try:
        return ImageOps.exif_transpose(grey)
    except (SyntaxError, ValueError, OSError, struct.error, KeyError, IndexError, TypeError):
        return grey


def sample_frames(path: Path, kind: MediaKind, opts: SamplingSettings) -> FrameBuffer:
    """All sampled frames of a file: a photo gives one, a video one per 1/rate_hz seconds.

    Memory: at most buffer.MEMORY_BYTES of frames in RAM, whatever the video's length."""
    frames = FrameBuffer()
    if kind == "image":
        frames.append(read_image(path, opts))
        return frames
    for frame in sample_video(path, opts):
        frames.append(frame)
    if not frames:  # e.g. every decoded frame lacked a presentation time
        raise CorruptMediaError(f"{path}: no frame with a presentation time could be decoded")
    denser = short_media_rate(frames, opts)
    if denser is None:
        return frames
    frames.close()
    return sample_frames(path, kind, replace(opts, rate_hz=denser))


def short_media_rate(frames: Sequence[Frame], opts: SamplingSettings) -> float | None:
    """The denser rate a short video is sampled at, or None when ``frames`` are enough.

    A clip that gave fewer than ``opts.short_media_frames`` samples is sampled again, densely enough
    to give that many (at most ``opts.short_media_max_rate_hz``): an excerpt of a 2 s clip keeps
    evidence.  Told from the frames themselves, so a file without a duration in its header is
    treated alike; only short files are decoded twice, and they are short."""
    if len(frames) >= opts.short_media_frames or opts.rate_hz >= opts.short_media_max_rate_hz:
        return None
    span_s = (frames[-1].t_ms - frames[0].t_ms) / 1000 + 1 / opts.rate_hz
    rate = min(opts.short_media_max_rate_hz, opts.short_media_frames / max(span_s, 1e-3))
    return rate if rate > opts.rate_hz * 1.01 else None
