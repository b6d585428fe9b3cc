"""A small fake video site on 127.0.0.1 that yt-dlp downloads from for real.

`FakeSite` is a threaded `http.server` that serves registered routes (pages and files, with Range
support, optional delays, statuses and Last-Modified); `build_video_site` fills it with the pages a
generic video site shows (JSON-LD, `<video>`, Open Graph, HLS, RSS) from clips made with the bundled
ffmpeg.  Later tests register their own pages and files with `add_page`/`add_file`.
"""

from __future__ import annotations

import html
import json
import re
import socket
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import ffmpeg

# The JSON-LD ground truth the download tests check against.
LD_UPLOADED = "2015-09-30T08:15:00Z"
LD_AUTHOR = "Ana Reporter"
LD_TITLE = "Flood in the old town"
HOSTILE_TITLE = "../../etc/passwd <script>alert(1)</script>"
DIRECT_LAST_MODIFIED = datetime(2016, 1, 2, 3, 4, 5, tzinfo=UTC)
# The slow page answers after this long; tests use a shorter socket timeout.  Bounded so a test that
# forgets the timeout still finishes.
SLOW_DELAY_S = 3.0
CLIP_DURATION_S = 2


@dataclass(frozen=True)
class Route:
    body: bytes
    content_type: str
    status: int = 200
    delay_s: float = 0.0
    last_modified: datetime | None = None
    headers: tuple[tuple[str, str], ...] = ()
    # Fault injection: the first `fail_times` requests get `fail_status` (with `headers`), later
    # ones the route; `cut_at` sends that many bytes of the body, then drops the connection.
    fail_times: int = 0
    fail_status: int = 503
    cut_at: int | None = None


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep test output clean

    def do_HEAD(self) -> None:
        self._answer(send_body=False)

    def do_GET(self) -> None:
        self._answer(send_body=True)

    def _answer(self, *, send_body: bool) -> None:
        path = self.path.split("?", 1)[0].split("#", 1)[0]
        self.server.site.requests.append(path)
        route = self.server.site.routes.get(path)
        if route is None:
            route = Route(b"<html><body>Not here</body></html>", "text/html; charset=utf-8", status=404)
        if route.delay_s:
            time.sleep(route.delay_s)
        body, status, extra = route.body, route.status, dict(route.headers)
        if route.fail_times and self.server.site.count(path) <= route.fail_times:
            body, status = b"<html><body>Try again later</body></html>", route.fail_status
        match = re.fullmatch(r"bytes=(\d*)-(\d*)", self.headers.get("Range", ""))
        if match and status == 200 and match.group(0) != "bytes=-":
            start, end = _byte_range(match.group(1), match.group(2), len(body))
            extra["Content-Range"] = f"bytes {start}-{end}/{len(body)}"
            body, status = body[start : end + 1], 206
        try:
            self.send_response(status)
            self.send_header("Content-Type", route.content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Accept-Ranges", "bytes")
            if route.last_modified is not None:
                self.send_header("Last-Modified", format_datetime(route.last_modified, usegmt=True))
            for name, value in extra.items():
                self.send_header(name, value)
            self.end_headers()
            if send_body and route.cut_at is not None and status in (200, 206):
                self.wfile.write(body[: route.cut_at])
                self.wfile.flush()
                self.close_connection = True  # the rest never comes: the body is cut mid-way
                self.connection.shutdown(socket.SHUT_RDWR)
            elif send_body:
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass  # the client read what it needed (yt-dlp sniffs the first bytes) or timed out


def _byte_range(first: str, last: str, size: int) -> tuple[int, int]:
    if not first:  # "bytes=-N": the last N bytes
        return max(size - int(last), 0), size - 1
    end = min(int(last), size - 1) if last else size - 1
    return int(first), end


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    site: FakeSite

    def handle_error(self, request: object, client_address: object) -> None:
        # A client that hangs up mid-request (a killed run, a timed-out download) is ordinary here.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


class FakeSite:
    """A loopback HTTP server with registered routes; `url(path)` gives the address of a path."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[str] = []  # every path asked for, in order: tests count downloads with it
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.site = self
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        return self.base + path

    def count(self, path: str) -> int:
        """How many times the path was asked for (this request included, when asked while serving it)."""
        return self.requests.count(path)

    def add_page(
        self,
        path: str,
        body: str,
        *,
        status: int = 200,
        delay_s: float = 0.0,
        content_type: str = "text/html; charset=utf-8",
        **faults: object,
    ) -> str:
        """Serve `body` at `path`; returns its URL.  `faults`: Route's fault-injection fields."""
        self.routes[path] = Route(body.encode("utf-8"), content_type, status, delay_s, **faults)  # type: ignore[arg-type]
        return self.url(path)

    def add_file(
        self,
        path: str,
        data: bytes | Path,
        content_type: str,
        *,
        last_modified: datetime | None = None,
        **faults: object,
    ) -> str:
        """Serve the bytes (or a file's bytes) at `path`; returns its URL."""
        body = data.read_bytes() if isinstance(data, Path) else data
        self.routes[path] = Route(body, content_type, last_modified=last_modified, **faults)  # type: ignore[arg-type]
        return self.url(path)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def make_clip(out: Path, *, seconds: int = CLIP_DURATION_S, faststart: bool = True) -> Path:
    """A short h264+aac clip; a keyframe every second so HLS can cut 1 s segments."""
    flags = ["-movflags", "+faststart"] if faststart else []
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        f"testsrc2=size=320x240:rate=25:duration={seconds}",
        "-f",
        "lavfi",
        "-i",
        f"sine=frequency=440:duration={seconds}",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        "-g",
        "25",
        "-c:a",
        "aac",
        "-shortest",
        *flags,
        str(out),
    )
    return out


def make_hls(clip: Path, folder: Path) -> Path:
    """A master playlist with separate video and audio renditions, so yt-dlp merges with ffmpeg."""
    folder.mkdir(parents=True, exist_ok=True)
    ffmpeg(
        "-i",
        str(clip),
        "-map",
        "0:v",
        "-map",
        "0:a",
        "-c",
        "copy",
        "-f",
        "hls",
        "-hls_time",
        "1",
        "-hls_playlist_type",
        "vod",
        "-master_pl_name",
        "master.m3u8",
        "-var_stream_map",
        "v:0,agroup:aud a:0,agroup:aud",
        "-hls_segment_filename",
        str(folder / "s%v_%03d.ts"),
        str(folder / "s%v.m3u8"),
    )
    return folder / "master.m3u8"


def page(title: str, body: str, head: str = "") -> str:
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"{head}</head><body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )


def json_ld_page(
    site: FakeSite, name: str, content_path: str, *, description: str = "", uploaded: str = LD_UPLOADED
) -> str:
    data = {
        "@context": "https://schema.org",
        "@type": "VideoObject",
        "name": name,
        "description": description,
        "uploadDate": uploaded,
        "duration": f"PT{CLIP_DURATION_S}S",
        "author": {"@type": "Person", "name": LD_AUTHOR},
        "contentUrl": site.url(content_path),
        "thumbnailUrl": site.url("/media/thumb.jpg"),
    }
    script = f'<script type="application/ld+json">{json.dumps(data)}</script>'
    return page("Video page", "<p>A report.</p>", head=script)


def _rss(site: FakeSite, paths: list[str]) -> str:
    items = "".join(
        f"<item><title>Item {i}</title><link>{site.url(p)}</link></item>"
        for i, p in enumerate(paths, start=1)
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Feed</title>'
        f"<link>{site.url('/')}</link><description>Videos</description>{items}</channel></rss>"
    )


def build_video_site(site: FakeSite, media: Path) -> None:
    """Register the standard pages; see the module docstring of test_download for what each tests."""
    clip = make_clip(media / "clip.mp4")
    whole = make_clip(media / "whole.mp4", faststart=False)  # moov at the end: half a file has none
    ffmpeg("-i", str(clip), "-frames:v", "1", str(media / "thumb.jpg"))
    master = make_hls(clip, media / "hls")
    site.add_file("/media/clip.mp4", clip, "video/mp4")
    site.add_file("/media/other.mp4", clip, "video/mp4")
    site.add_file("/media/thumb.jpg", media / "thumb.jpg", "image/jpeg")
    site.add_file("/files/direct.mp4", clip, "video/mp4", last_modified=DIRECT_LAST_MODIFIED)
    site.add_file("/media/truncated.mp4", whole.read_bytes()[: whole.stat().st_size // 2], "video/mp4")
    for part in sorted(master.parent.iterdir()):
        kind = "application/vnd.apple.mpegurl" if part.suffix == ".m3u8" else "video/mp2t"
        site.add_file(f"/hls/{part.name}", part, kind)
    site.add_page("/watch/ld", json_ld_page(site, LD_TITLE, "/media/clip.mp4", description="Water rising."))
    site.add_page("/watch/hostile", json_ld_page(site, HOSTILE_TITLE, "/media/clip.mp4"))
    site.add_page("/watch/html5", page("Plain video", '<video src="/media/clip.mp4" controls></video>'))
    og = (
        '<meta property="og:title" content="Open Graph clip">'
        '<meta property="og:video:type" content="video/mp4">'
        f'<meta property="og:video" content="{site.url("/media/clip.mp4")}">'
    )
    site.add_page("/watch/og", page("OG video", "<p>Shared clip.</p>", head=og))
    site.add_page(
        "/watch/hls",
        page(
            "Stream", '<video controls><source src="/hls/master.m3u8" type="application/x-mpegURL"></video>'
        ),
    )
    site.add_page(
        "/watch/two",
        page("Two videos", '<video src="/media/clip.mp4"></video><video src="/media/other.mp4"></video>'),
    )
    site.add_page("/watch/truncated", page("Broken", '<video src="/media/truncated.mp4"></video>'))
    site.add_page("/watch/empty", page("No video here", "<p>Just text.</p>"))
    site.add_page("/watch/slow", page("Slow", "<p>late</p>"), delay_s=SLOW_DELAY_S)
    for status in (403, 410, 429, 500):
        site.add_page(f"/status/{status}", page(f"Status {status}", ""), status=status)
    site.add_page("/feed.rss", _rss(site, ["/watch/ld", "/watch/og"]), content_type="application/rss+xml")


@pytest.fixture(scope="session")
def fake_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeSite]:
    site = FakeSite()
    build_video_site(site, tmp_path_factory.mktemp("fakesite"))
    site.start()
    yield site
    site.stop()
