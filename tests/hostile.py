"""A corpus of hostile inputs, made at test time (nothing copied from outside), with what each must give.

Each `Hostile` makes its file (or pipe, link, folder) in a folder and says what it is: a ``video`` or
an ``image`` that must be archived as such however odd it is, or input to be ``refused`` with a given
error kind.  `tests/test_hostile.py` drives every command over the corpus; `bench/hostile.py` prints
the table with exit codes, messages, peak memory and times.
"""

from __future__ import annotations

import gzip
import io
import os
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from conftest import ffmpeg, lavfi_clip
from exifbytes import exif_block, gps_entries, jpeg_with_exif, rational
from PIL import Image

Expect = Literal["video", "image", "refused"]


@dataclass(frozen=True)
class Hostile:
    name: str
    make: Callable[[Path], Path]
    expect: Expect
    kind: str | None = None  # the error kind of a refused input (`add --json` error.kind)
    # A damaged file whose header is whole: `info` still says what it states about itself.
    described: bool = False
    # Refused by `add` (damaged), yet its frames decode: `match` and `keyframes` work on what is there.
    decodes: bool = False


def _clip(folder: Path, name: str = "base.mp4", seconds: float = 3.0) -> Path:
    """A small clip of moving footage, made once per folder."""
    path = folder / name
    if not path.exists():
        lavfi_clip(path, "mandelbrot=s=320x240:rate=25", seconds, "-g", "25")
    return path


def _moov_last(folder: Path) -> Path:
    path = folder / "moov_last.mp4"
    if not path.exists():
        ffmpeg("-i", str(_clip(folder)), "-c", "copy", "-movflags", "-faststart", str(path))
    return path


def _bytes(name: str, data: bytes | Callable[[Path], bytes]) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        path = folder / name
        path.write_bytes(data(folder) if callable(data) else data)
        return path

    return make


def _noise(size: tuple[int, int], seed: int = 0) -> Image.Image:
    pixels = (np.random.default_rng(seed).random((size[1], size[0], 3)) * 255).astype(np.uint8)
    return Image.fromarray(pixels)


def _image(name: str, size: tuple[int, int], fmt: str, **save: object) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        path = folder / name
        _noise(size).save(path, fmt, **save)
        return path

    return make


def _encoded(name: str, *args: str, source: str = "mandelbrot=s=320x240:rate=25", seconds: float = 3.0):  # type: ignore[no-untyped-def]
    def make(folder: Path) -> Path:
        path = folder / name
        ffmpeg("-f", "lavfi", "-i", source, "-t", str(seconds), *args, str(path))
        return path

    return make


def _tagged(name: str, key: str, value: str) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        path = folder / name
        ffmpeg(
            "-i",
            str(_clip(folder)),
            "-c",
            "copy",
            "-movflags",
            "use_metadata_tags",
            "-metadata",
            f"{key}={value}",
            str(path),
        )
        return path

    return make


def _png_bomb(folder: Path) -> bytes:
    """A 40,000 x 40,000 1-bit PNG of zeros: a few kB that would decode to 1.6 gigapixels."""
    width = height = 40_000
    raw = zlib.compress(b"".join(b"\x00" + b"\x00" * (width // 8) for _ in range(height)), 9)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def _jpeg_huge_header(folder: Path) -> bytes:
    """A JPEG whose frame header claims 65,000 x 65,000 pixels."""
    buffer = io.BytesIO()
    _noise((64, 64)).save(buffer, "JPEG")
    data = bytearray(buffer.getvalue())
    at = data.find(b"\xff\xc0")
    data[at + 5 : at + 9] = struct.pack(">HH", 65000, 65000)
    return bytes(data)


def _zip_bomb(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("zeros.bin", b"\x00" * (64 << 20))
    return buffer.getvalue()


def _fuzzed(offset: int, length: int, seed: int) -> Callable[[Path], bytes]:
    def data(folder: Path) -> bytes:
        raw = bytearray(_clip(folder).read_bytes())
        rng = np.random.default_rng(seed)
        start = offset if offset >= 0 else len(raw) // 2
        raw[start : start + length] = rng.integers(0, 256, length, dtype=np.uint8).tobytes()
        return bytes(raw)

    return data


def _fifo(folder: Path) -> Path:
    path = folder / "pipe.mp4"
    os.mkfifo(path)
    return path


def _link(name: str, target: str) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        path = folder / name
        os.symlink(target, path)
        return path

    return make


def _loop(folder: Path) -> Path:
    os.symlink(folder / "loop_b.mp4", folder / "loop_a.mp4")
    os.symlink(folder / "loop_a.mp4", folder / "loop_b.mp4")
    return folder / "loop_a.mp4"


def _named(name: str | bytes) -> Callable[[Path], Path]:
    """A good clip under a hostile name (bytes: not UTF-8)."""

    def make(folder: Path) -> Path:
        raw = name if isinstance(name, bytes) else name.encode()
        path = Path(os.fsdecode(os.fsencode(folder) + b"/" + raw))
        path.write_bytes(_clip(folder).read_bytes())
        return path

    return make


def _folder_without_media(folder: Path) -> Path:
    path = folder / "notes.mp4"  # a folder named like a video
    path.mkdir()
    (path / "readme.txt").write_text("no footage here")
    return path


def _backwards(folder: Path) -> Path:
    """Presentation times that run backwards half way (a broken muxer): MPEG-TS keeps what it is given."""
    path = folder / "backwards.ts"
    ffmpeg(
        "-i",
        str(_clip(folder)),
        "-c",
        "copy",
        "-bsf:v",
        "setts=pts=if(gte(N\\,40)\\,PTS-60000\\,PTS)",
        "-f",
        "mpegts",
        str(path),
    )
    return path


def _avi_lying_size(folder: Path) -> bytes:
    path = folder / "real.avi"
    if not path.exists():
        ffmpeg("-i", str(_clip(folder)), "-c:v", "mjpeg", "-q:v", "5", str(path))
    raw = bytearray(path.read_bytes())
    raw[4:8] = struct.pack("<I", len(raw) * 4)  # the RIFF size says the file goes on much longer
    return bytes(raw)


def _mp4_huge_box(folder: Path) -> bytes:
    raw = bytearray(_clip(folder).read_bytes())
    at = raw.find(b"mdat") - 4
    raw[at : at + 4] = struct.pack(">I", 0xFFFFFFF0)  # mdat claims 4 GB
    return bytes(raw)


def _exif_jpeg(block: bytes) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        return jpeg_with_exif(folder / f"exif_{zlib.crc32(block):08x}.jpg", block)

    return make


CORPUS: tuple[Hostile, ...] = (
    # Not media at all.
    Hostile("zero-byte", _bytes("empty.mp4", b""), "refused", "not_media"),
    Hostile(
        "text renamed .mp4", _bytes("text.mp4", b"Not a video, just words.\n" * 40), "refused", "not_media"
    ),
    Hostile(
        "html page renamed .mp4",
        _bytes("page.mp4", b"<html><body>removed</body></html>" * 20),
        "refused",
        "not_media",
    ),
    Hostile(
        "random bytes", _bytes("random.mp4", np.random.default_rng(1).bytes(50_000)), "refused", "not_media"
    ),
    Hostile("zip bomb renamed .mp4", _bytes("bomb.mp4", _zip_bomb), "refused", "not_media"),
    Hostile(
        "gzip renamed .mp4", _bytes("zipped.mp4", gzip.compress(b"\x00" * 100_000)), "refused", "not_media"
    ),
    Hostile(
        "svg renamed .jpg",
        _bytes("vector.jpg", b'<svg xmlns="http://www.w3.org/2000/svg"></svg>'),
        "refused",
        "not_media",
    ),
    Hostile(".nfo text art", _bytes("release.nfo", b"\x1b[1;31m" + b"#" * 2000), "refused", "not_media"),
    Hostile(
        "audio only",
        _encoded("sound.mp4", "-c:a", "aac", source="sine=frequency=440"),
        "refused",
        "not_media",
    ),
    # Damaged media.
    Hostile(
        "mp4 cut in half",
        _bytes("half.mp4", lambda f: _moov_last(f).read_bytes()[: _moov_last(f).stat().st_size // 2]),
        "refused",
        "bad_media",
    ),
    Hostile(
        "mp4 cut after its header",
        _bytes("cut.mp4", lambda f: _clip(f).read_bytes()[:4000]),
        "refused",
        "bad_media",
    ),
    Hostile("mp4 header fuzzed", _bytes("fuzz_head.mp4", _fuzzed(0, 600, 2)), "refused"),
    Hostile("mp4 mdat claims 4 GB", _bytes("huge_box.mp4", _mp4_huge_box), "refused", "bad_media"),
    Hostile(
        "avi lying about its size", _bytes("lying.avi", _avi_lying_size), "refused", "bad_media", decodes=True
    ),
    Hostile(
        "jpeg cut in half",
        _bytes("half.jpg", lambda f: _jpeg_bytes()[: len(_jpeg_bytes()) // 2]),
        "refused",
        "bad_media",
        described=True,
    ),
    Hostile(
        "png with a broken chunk",
        _bytes("crc.png", lambda f: _png_bytes()[:60] + b"\x00" * 40 + _png_bytes()[100:]),
        "refused",
        "bad_media",
        described=True,
    ),
    Hostile(
        "webm cut short",
        _bytes("short.webm", lambda f: _webm_bytes(f)[:3000]),
        "refused",
        "bad_media",
        described=True,
    ),
    # Too large to decode safely.
    Hostile("png decompression bomb", _bytes("bomb.png", _png_bomb), "refused", "bad_input"),
    Hostile("jpeg claiming 65000x65000", _bytes("giant.jpg", _jpeg_huge_header), "refused", "bad_input"),
    # Not files.
    Hostile("named pipe", _fifo, "refused", "bad_input"),
    Hostile("symlink loop", _loop, "refused", "bad_input"),
    Hostile("dangling symlink", _link("dangling.mp4", "/nonexistent/clip.mp4"), "refused", "bad_input"),
    Hostile("folder named .mp4 without media", _folder_without_media, "refused", "bad_input"),
    # Odd but real media: archived as what they are.
    Hostile(
        "mdat fuzzed in the middle", _bytes("fuzz_mid.mp4", _fuzzed(-1, 3000, 3)), "video"
    ),  # decoded around it
    Hostile(
        "16x16 video",
        _encoded("tiny.mp4", "-vf", "scale=16:16", "-c:v", "libx264", "-pix_fmt", "yuv420p"),
        "video",
    ),
    Hostile("16x16 png", _image("tiny.png", (16, 16), "PNG"), "image"),
    Hostile("1x1 png", _image("dot.png", (1, 1), "PNG"), "image"),
    Hostile(
        "one-frame video",
        _encoded("one.mp4", "-frames:v", "1", "-c:v", "libx264", "-pix_fmt", "yuv420p"),
        "video",
    ),
    Hostile("one-frame gif", _image("one.gif", (64, 48), "GIF"), "image"),
    Hostile("backwards timestamps", _backwards, "video"),
    Hostile(
        "jpeg with a zip appended (polyglot)",
        _bytes("poly.jpg", lambda f: _jpeg_bytes() + _zip_bomb(f)[:5000]),
        "image",
    ),
    Hostile(
        "mp4 with html appended (polyglot)",
        _bytes("poly.mp4", lambda f: _clip(f).read_bytes() + b"<html><script>x</script></html>"),
        "video",
    ),
    Hostile("jpeg renamed .mp4", _bytes("photo.mp4", lambda f: _jpeg_bytes()), "image"),
    Hostile("mp4 renamed .jpg", _bytes("clip.jpg", lambda f: _clip(f).read_bytes()), "video"),
    Hostile(
        "creation date 9999-12-31 at -12:00",
        _tagged("d9999.mp4", "com.apple.quicktime.creationdate", "9999-12-31T23:59:59-1200"),
        "video",
    ),
    Hostile(
        "creation date 0001-01-01 at +14:00",
        _tagged("d0001.mp4", "com.apple.quicktime.creationdate", "0001-01-01T00:00:00+1400"),
        "video",
    ),
    Hostile("location tag of garbage", _tagged("badgps.mp4", "location", "+999.9-999.9/junk"), "video"),
    Hostile(
        "empty EXIF GPSAltitude",
        _exif_jpeg(exif_block(gps=gps_entries(altitude=b"", altitude_count=0))),
        "image",
    ),
    Hostile(
        "EXIF GPSAltitude 0/0", _exif_jpeg(exif_block(gps=gps_entries(altitude=rational((0, 0))))), "image"
    ),
    Hostile(
        "EXIF of garbage", _exif_jpeg(b"Exif\x00\x00MX\x00*" + np.random.default_rng(4).bytes(300)), "image"
    ),
    Hostile("name that is not UTF-8", _named(b"b_\xff\xfe.mp4"), "video"),
    Hostile("name with a newline and a terminal escape", _named("red\n\x1b[31malert.mp4"), "video"),
    Hostile("name of 240 characters", _named("x" * 236 + ".mp4"), "video"),
)


def _jpeg_bytes() -> bytes:
    buffer = io.BytesIO()
    _noise((320, 240), 7).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def _png_bytes() -> bytes:
    buffer = io.BytesIO()
    _noise((64, 64), 8).save(buffer, "PNG")
    return buffer.getvalue()


def _webm_bytes(folder: Path) -> bytes:
    path = folder / "real.webm"
    if not path.exists():
        ffmpeg("-i", str(_clip(folder)), "-c:v", "libvpx", "-b:v", "300k", "-deadline", "realtime", str(path))
    return path.read_bytes()


def make_corpus(folder: Path) -> list[tuple[Hostile, Path]]:
    """Every input of the corpus made in ``folder`` (its own subfolder each, so names never clash)."""
    made = []
    for number, item in enumerate(CORPUS):
        place = folder / f"{number:02d}"
        place.mkdir(parents=True, exist_ok=True)
        made.append((item, item.make(place)))
    return made


def still_clip(path: Path, seconds: int) -> Path:
    """A long shot of one low-detail picture (a fixed camera, a slide): the worst case for memory."""
    noise = (np.random.default_rng(3).random((45, 80)) * 255).astype(np.uint8)
    still = path.with_suffix(".png")
    Image.fromarray(noise).resize((640, 360), Image.Resampling.BICUBIC).save(still)
    ffmpeg(
        "-loop",
        "1",
        "-i",
        str(still),
        "-t",
        str(seconds),
        "-r",
        "5",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        "-g",
        "250",
        str(path),
    )
    return path
