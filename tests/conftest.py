"""Shared fixtures and guards.

Guards (autouse): sockets may only reach loopback, and a test that logs at ERROR fails unless it is
marked ``logs_errors``.
"""

from __future__ import annotations

import logging
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import imageio_ffmpeg
import pytest

from provenance.fingerprint import fingerprint_frames
from provenance.frames import sample_frames
from provenance.hashing import PHASH64
from provenance.index import HashIndex
from provenance.settings import SamplingSettings

SHARED_MEDIA = Path(__file__).resolve().parents[1].parent / "shared" / "media"
LOOPBACK = {"127.0.0.1", "::1", "localhost"}


def _host_of(address: object) -> str | None:
    if isinstance(address, tuple) and address:
        return str(address[0])
    return None  # unix sockets and the like


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def check(address: object) -> None:
        host = _host_of(address)
        if host is not None and host not in LOOPBACK:
            raise OSError(f"test tried to reach {host}: only 127.0.0.1 is allowed in tests")

    def connect(self: socket.socket, address: object) -> None:
        check(address)
        return real_connect(self, address)

    def connect_ex(self: socket.socket, address: object) -> int:
        check(address)
        return real_connect_ex(self, address)

    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host: object, *args: object, **kwargs: object) -> object:
        # Name lookups too: a lookup of a real host name would leave this machine before any connect.
        name = host.decode() if isinstance(host, bytes) else host
        if name is not None and str(name) not in LOOPBACK:
            raise OSError(f"test tried to look up {host}: only 127.0.0.1 is allowed in tests")
        return real_getaddrinfo(host, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.fixture(autouse=True)
def _no_error_logs(request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    caplog.set_level(logging.WARNING)
    yield
    if request.node.get_closest_marker("logs_errors"):
        return
    errors = [r for r in caplog.get_records("call") if r.levelno >= logging.ERROR]
    assert not errors, f"unexpected ERROR log: {errors[0].getMessage()}"


def shared_media(relative: str) -> Path:
    """A file of ../shared/media: skip when the whole folder is absent, fail when one file is missing."""
    if not SHARED_MEDIA.is_dir():
        pytest.skip(f"{SHARED_MEDIA} is absent: real-footage tests need ../shared/media beside the checkout")
    path = SHARED_MEDIA / relative
    assert path.is_file(), f"{path} is missing from ../shared/media (see its README)"
    return path


FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()


def ffmpeg(*args: str) -> None:
    """Run the bundled ffmpeg quietly; fail the test with its stderr on error."""
    proc = subprocess.run([FFMPEG, "-hide_banner", "-loglevel", "error", "-y", *args], capture_output=True)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")


def phash_index(sha256: str, path: Path) -> HashIndex:
    """A pHash index of one video under ``sha256``, sampled at the default rate, as `add` keeps it."""
    sampling = SamplingSettings()
    frames = sample_frames(path, "video", sampling)
    return HashIndex(PHASH64, fingerprint_frames(sha256, frames, [PHASH64], sampling.rate_hz))


def lavfi_clip(path: Path, source: str, seconds: float = 6.0, *extra: str) -> Path:
    """A silent h264 clip of an FFmpeg lavfi source (e.g. "mandelbrot=s=320x240:rate=25")."""
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        source,
        "-t",
        str(seconds),
        *extra,
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        str(path),
    )
    return path
