"""The post's page as the server sent it: WARC records, a WACZ to replay them, a screenshot.

The page and its subresources (images, styles, scripts, icons; not video or audio: the media is
archived on its own) are fetched through `http.client` with every byte sent and received teed into
warcio's WARC writer: a request and a response record per exchange, redirects included, and for
https the server's certificate chain as a `metadata` record beside the response.  The WARC is packed
as WACZ with the `wacz` package (index, pages list, datapackage with SHA-256s), which ReplayWeb.page
and pywb replay.  A screenshot is taken by headless Chromium when it is installed; when it is not,
the page is kept without one and a note says so.

Sizes are bounded (`page.max_resources`, `max_resource_bytes`, `max_total_bytes`) so that a hostile
page cannot fill the disk; what was left out is said in the notes.
"""

from __future__ import annotations

import _ssl
import contextlib
import http.client
import io
import shutil
import ssl
import subprocess
import tempfile
import urllib.parse
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from cryptography import x509
from warcio.warcwriter import WARCWriter

from ..errors import BadInputError, MissingExtraError
from ..settings import PageSettings

PAGE_DIR = "page"
WARC_NAME = "page.warc.gz"
WACZ_NAME = "page.wacz"
SCREENSHOT_NAME = "screenshot.png"
MAX_REDIRECTS = 5
_REDIRECTS = (301, 302, 303, 307, 308)
_SKIPPED_TYPES = (
    "video/",
    "audio/",
    "application/vnd.apple.mpegurl",
    "application/x-mpegurl",
    "application/dash",
)


class _Tee(io.RawIOBase):
    """A socket's reader that keeps a copy of every byte read (what the server sent, as sent)."""

    def __init__(self, raw: Any, sink: io.BytesIO) -> None:
        self.raw, self.sink = raw, sink

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = self.raw.readinto(buffer)
        if n:
            self.sink.write(memoryview(buffer)[:n])
        return n or 0

    def close(self) -> None:
        self.raw.close()
        super().close()


class _Response(http.client.HTTPResponse):
    def __init__(self, sock: Any, *args: Any, sink: io.BytesIO, **kwargs: Any) -> None:
        super().__init__(sock, *args, **kwargs)
        # Tee the socket itself (nothing is read yet), under a buffer of our own: a buffered reader
        # over another would block until its whole buffer is filled.
        # The socket's own reader is kept referenced: collected, it would close the socket under us.
        self._socket_reader = self.fp
        self.fp = io.BufferedReader(_Tee(self.fp.raw, sink))  # type: ignore[assignment]


@dataclass
class Exchange:
    """One request and its response, as bytes on the wire, with what they say."""

    url: str
    request: bytes
    response: bytes
    status: int
    headers: http.client.HTTPMessage
    body: bytes
    peer_ip: str | None
    tls_chain_pem: list[bytes] = field(default_factory=list)
    truncated: bool = False


def _connection(url: str, opts: PageSettings) -> tuple[http.client.HTTPConnection, str]:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadInputError(f"{url}: not an http(s) page")
    target = urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, ""))
    if parts.scheme == "https":
        context = (
            ssl.create_default_context(cafile=opts.ca_file) if opts.ca_file else ssl.create_default_context()
        )
        return http.client.HTTPSConnection(
            parts.hostname, parts.port, timeout=opts.timeout_s, context=context
        ), target
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=opts.timeout_s), target


def _tls_chain(conn: http.client.HTTPConnection) -> list[bytes]:
    """The server's certificate chain as PEM, leaf first (https only)."""
    sock = conn.sock
    if not isinstance(sock, ssl.SSLSocket):
        return []
    # SSLSocket.get_verified_chain is public from Python 3.13 (DER bytes); before that the same
    # method of the underlying _ssl object gives certificate objects.
    chain_of = getattr(sock, "get_verified_chain", None) or getattr(
        getattr(sock, "_sslobj", None), "get_verified_chain", None
    )
    certs = chain_of() if chain_of else [sock.getpeercert(binary_form=True)]
    pems = []
    for cert in certs or []:
        der = cert if isinstance(cert, bytes) else cert.public_bytes(_ssl.ENCODING_DER)
        pems.append(ssl.DER_cert_to_PEM_cert(der).encode("ascii"))
    return pems


def fetch_recorded(url: str, opts: PageSettings, *, user_agent: str, limit_bytes: int) -> Exchange:
    """GET one URL; the exchange as sent and received.  A body past ``limit_bytes`` is cut there
    (the record says so); a video or audio answer is not read at all."""
    conn, target = _connection(url, opts)
    sent, received = io.BytesIO(), io.BytesIO()
    original_send = conn.send

    def send(data: Any) -> None:
        sent.write(data if isinstance(data, bytes) else bytes(data))
        original_send(data)

    conn.send = send  # type: ignore[method-assign]
    conn.response_class = lambda sock, *a, **k: _Response(sock, *a, sink=received, **k)  # type: ignore[assignment]
    try:
        conn.putrequest("GET", target, skip_accept_encoding=True)
        for name, value in (
            ("User-Agent", user_agent),
            ("Accept", "*/*"),
            ("Accept-Encoding", "gzip, identity"),
            ("Connection", "close"),  # one exchange per connection, whole in its record
        ):
            conn.putheader(name, value)
        conn.endheaders()
        response = conn.getresponse()
        chain = _tls_chain(conn)
        kind = (response.getheader("Content-Type") or "").lower()
        if kind.startswith(_SKIPPED_TYPES):
            raise BadInputError(f"{url}: {kind.split(';')[0]} is media, not kept with the page")
        body = response.read(limit_bytes + 1)
        truncated = len(body) > limit_bytes
        peer = conn.sock.getpeername()[0] if conn.sock else None
    except (OSError, http.client.HTTPException, ssl.SSLError) as exc:
        raise BadInputError(f"{url}: the page could not be fetched ({exc})") from None
    finally:
        conn.close()
    return Exchange(
        url,
        sent.getvalue(),
        received.getvalue(),
        response.status,
        response.headers,
        body[:limit_bytes],
        peer,
        chain,
        truncated,
    )


def decoded_body(exchange: Exchange, limit_bytes: int) -> bytes:
    """The body as the page's text, for finding subresources: gzip undone, at most ``limit_bytes``."""
    if (exchange.headers.get("Content-Encoding") or "").lower() not in ("gzip", "x-gzip", "deflate"):
        return exchange.body
    try:
        return zlib.decompressobj(wbits=47).decompress(exchange.body, limit_bytes)
    except zlib.error:
        return b""


class _Links(HTMLParser):
    """Subresources a browser would load to show the page, in document order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self.title: str | None = None
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "img":
            self.found += [a["src"]] if a.get("src") else []
            self.found += [c.strip().split(" ")[0] for c in a.get("srcset", "").split(",") if c.strip()]
        elif tag == "link" and {"stylesheet", "icon", "shortcut", "preload"} & set(
            a.get("rel", "").lower().split()
        ):
            self.found += [a["href"]] if a.get("href") and a.get("as", "") not in ("video", "audio") else []
        elif tag == "script" and a.get("src"):
            self.found.append(a["src"])
        elif tag == "video" and a.get("poster"):
            self.found.append(a["poster"])
        elif tag == "meta" and a.get("property", a.get("name", "")).lower() in ("og:image", "twitter:image"):
            self.found += [a["content"]] if a.get("content") else []
        elif tag == "title":
            self._in_title = True

    def handle_endtag(self, tag: str) -> None:
        self._in_title = self._in_title and tag != "title"

    def handle_data(self, data: str) -> None:
        if self._in_title and self.title is None and data.strip():
            self.title = data.strip()[:300]


def page_links(html: bytes, base_url: str) -> tuple[str | None, list[str]]:
    """The page's title and the absolute http(s) URLs of its subresources, each once."""
    parser = _Links()
    with contextlib.suppress(Exception):  # a broken page still gives what was found before the break
        parser.feed(html.decode("utf-8", errors="replace"))
    urls = []
    for link in parser.found:
        absolute = urllib.parse.urldefrag(urllib.parse.urljoin(base_url, link.strip()))[0]
        if urllib.parse.urlsplit(absolute).scheme in ("http", "https"):
            urls.append(absolute)
    return parser.title, list(dict.fromkeys(urls))


# -- the capture --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FetchedPage:
    """Every exchange of one page capture, the page's own URL and title, and what was left out."""

    url: str
    exchanges: tuple[Exchange, ...]
    title: str | None
    notes: tuple[str, ...]

    @property
    def page(self) -> Exchange:
        """The page itself: the last exchange of the redirect chain."""
        return next(e for e in reversed(self.exchanges) if e.url == self.url)


def fetch_page(url: str, opts: PageSettings, user_agent: str) -> FetchedPage:
    """The page (redirects followed) and its subresources, within the settings' bounds."""
    exchanges, notes = [], []
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        exchange = fetch_recorded(current, opts, user_agent=user_agent, limit_bytes=opts.max_total_bytes)
        exchanges.append(exchange)
        location = exchange.headers.get("Location")
        if exchange.status not in _REDIRECTS or not location:
            break
        current = urllib.parse.urljoin(current, location)
    else:
        notes.append(f"stopped after {MAX_REDIRECTS} redirects")
    page = exchanges[-1]
    if page.truncated:
        notes.append(f"the page is larger than {opts.max_total_bytes} bytes: cut there")
    title, links = page_links(decoded_body(page, opts.max_total_bytes), current)
    total = sum(len(e.response) for e in exchanges)
    if len(links) > opts.max_resources:
        notes.append(
            f"{len(links) - opts.max_resources} of {len(links)} subresources left out (page.max_resources)"
        )
    for link in links[: opts.max_resources]:
        left = min(opts.max_resource_bytes, opts.max_total_bytes - total)
        if left <= 0:
            notes.append(f"{link}: left out, page.max_total_bytes reached")
            continue
        try:
            exchange = fetch_recorded(link, opts, user_agent=user_agent, limit_bytes=left)
        except BadInputError as exc:
            notes.append(exc.message)
            continue
        if exchange.truncated:
            notes.append(f"{link}: cut at {left} bytes")
        exchanges.append(exchange)
        total += len(exchange.response)
    return FetchedPage(current, tuple(exchanges), title, tuple(notes))


def write_warc(fetched: FetchedPage, out: Path, software: str) -> None:
    """A gzipped WARC 1.1: warcinfo, then request/response pairs, and the TLS chains as metadata."""
    with out.open("wb") as fh:
        writer = WARCWriter(fh, gzip=True, warc_version="1.1")
        info = {"software": software, "format": "WARC File Format 1.1", "isPartOf": fetched.url}
        writer.write_record(writer.create_warcinfo_record(out.name, info))
        for exchange in fetched.exchanges:
            headers = {"WARC-IP-Address": exchange.peer_ip} if exchange.peer_ip else {}
            if exchange.truncated:
                headers["WARC-Truncated"] = "length"
            request = writer.create_warc_record(
                exchange.url, "request", payload=io.BytesIO(exchange.request), length=len(exchange.request)
            )
            response = writer.create_warc_record(
                exchange.url,
                "response",
                payload=io.BytesIO(exchange.response),
                length=len(exchange.response),
                warc_headers_dict=headers,
            )
            writer.write_request_response_pair(request, response)
            if exchange.tls_chain_pem:
                chain = b"".join(exchange.tls_chain_pem)
                record = writer.create_warc_record(
                    exchange.url,
                    "metadata",
                    payload=io.BytesIO(chain),
                    length=len(chain),
                    warc_content_type="application/pem-certificate-chain",
                    warc_headers_dict={
                        "WARC-Concurrent-To": response.rec_headers.get_header("WARC-Record-ID")
                    },
                )
                writer.write_record(record)


def write_wacz(warc: Path, out: Path, page_url: str, title: str | None) -> None:
    """Pack the WARC as WACZ with the `wacz` package (index, pages list, datapackage)."""
    try:
        from wacz.main import main as wacz_main
    except ImportError:
        raise MissingExtraError(
            "WACZ packing needs the wacz package", hint="pip install 'provenance[page]'"
        ) from None
    args = ["create", "-o", str(out), str(warc), "--url", page_url, "--title", title or page_url]
    with contextlib.redirect_stdout(io.StringIO()):  # the package reports its steps on stdout
        try:
            code = wacz_main(args)
        except (ValueError, OSError) as exc:
            raise BadInputError(f"{page_url}: the WACZ could not be made ({exc})") from None
    if code != 0:
        raise BadInputError(f"{page_url}: the WACZ could not be made (wacz exit {code})")


def validate_wacz(path: Path) -> bool:
    """`wacz validate`: the package's own check of a WACZ file."""
    from wacz.main import main as wacz_main

    with contextlib.redirect_stdout(io.StringIO()):
        return wacz_main(["validate", "-f", str(path)]) == 0


def screenshot(url: str, out: Path, opts: PageSettings) -> str | None:
    """A PNG of the page through headless Chromium; None when taken, else why not."""
    chromium = shutil.which(opts.chromium)
    if chromium is None:
        return f"no screenshot: {opts.chromium} is not installed (Debian: apt-get install chromium)"
    with tempfile.TemporaryDirectory(prefix="provenance-chromium-") as profile:
        flags = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=5000",
            "--window-size=1280,1600",
            f"--user-data-dir={profile}",
            f"--screenshot={out}",
        ]
        try:
            subprocess.run(
                [chromium, *flags, url],
                capture_output=True,
                timeout=max(30.0, 3 * opts.timeout_s),
                check=True,
            )
        except (subprocess.SubprocessError, OSError) as exc:
            return f"no screenshot: Chromium failed ({type(exc).__name__})"
    return None if out.is_file() and out.stat().st_size else "no screenshot: Chromium wrote nothing"


def tls_subjects(exchange: Exchange) -> tuple[str, ...]:
    subjects = []
    for pem in exchange.tls_chain_pem:
        try:
            subjects.append(x509.load_pem_x509_certificate(pem).subject.rfc4514_string())
        except ValueError:
            subjects.append("(unreadable certificate)")
    return tuple(subjects)


def fetched_at_now() -> datetime:
    return datetime.now(UTC)
