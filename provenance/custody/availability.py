"""Is each archived post still up?  `recheck`: the site asked again, the answer kept as history.

Each post's address is asked again through yt-dlp without downloading media (`download.look_up`);
the answer is one of `available`, `removed` (404/410, "not found"), `private` (401/403, a login),
`geo_blocked` (451, "not available in your country"), `account_gone` (the site says the account
was suspended, terminated or deleted), `changed` (the address now serves other media: another post,
another duration, or for a file served as it is, another size; with `--fingerprint`, the media
served now is downloaded into staging and its footage compared with the archived fingerprint
instead), or `unknown` (the site did not answer: a network error or throttling).  Each answer is
appended to the post's history with the time, the HTTP status and the site's own words; nothing
earlier is rewritten.

Requests run on `recheck.jobs` threads with at most one request per host every
`recheck.per_host_delay_s`, so that a recheck of thousands of URLs on one platform does not hammer it.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import TYPE_CHECKING

from .. import download, store
from ..errors import BadInputError, DownloadError, ProvenanceError
from ..frames import detect_kind, sample_frames
from ..hashing import HASHERS
from ..index import HashIndex
from ..match import match_frames, query_sampling
from ..models import ArchivedMedia, Capture, Progress
from ..settings import RecheckSettings
from .models import AvailabilityCheck, AvailabilityStatus

if TYPE_CHECKING:
    from ..pipeline.archive import Archive, OnEvent

# The site's words that say the account, not only the post, is gone.
ACCOUNT_GONE = re.compile(
    r"account (has been |was |is )?(suspended|terminated|deleted|closed|removed|deactivated)"
    r"|(channel|user|profile) (does not exist|has been (terminated|suspended|removed))"
    r"|no longer has an account|user not found",
    re.IGNORECASE,
)
_KIND_STATUS: dict[str, AvailabilityStatus] = {
    "not_found": "removed",
    "private": "private",
    "geo_blocked": "geo_blocked",
}
_MANIFEST_PROTOCOLS = ("m3u8", "m3u8_native", "http_dash_segments", "f4m", "ism")
MAX_WORDS_BYTES = 256 << 10  # enough of a page to read its title and heading


class HostPacer:
    """At most one request per host every ``delay_s`` seconds, across threads.  ``clock`` and
    ``sleep`` are the monotonic clock and the pause (given in tests to follow the schedule)."""

    def __init__(
        self,
        delay_s: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.delay_s = delay_s
        self._clock, self._sleep = clock, sleep
        self._next: dict[str, float] = {}
        self._lock = threading.Lock()

    def wait(self, url: str) -> float:
        """Pause until this URL's host may be asked again; the seconds paused."""
        host = (urllib.parse.urlsplit(url).hostname or "").lower()
        with self._lock:
            now = self._clock()
            start = max(now, self._next.get(host, 0.0))
            self._next[host] = start + self.delay_s
        if start > now:
            self._sleep(start - now)
        return start - now


class _Words(HTMLParser):
    """What a page says to a visitor: its title, headings and first paragraphs, in order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._tag: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._tag = tag if tag in ("title", "h1", "h2", "h3", "p") else None

    def handle_endtag(self, tag: str) -> None:
        self._tag = None

    def handle_data(self, data: str) -> None:
        if self._tag and data.strip() and len(self.parts) < 8:
            self.parts.append(" ".join(data.split())[:200])


def page_words(url: str, timeout_s: float, user_agent: str) -> str | None:
    """What the page itself says (title, headings), also when it answers with an error status."""
    request = urllib.request.Request(url, headers={"User-Agent": user_agent})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            body = response.read(MAX_WORDS_BYTES)
    except urllib.error.HTTPError as exc:
        body = exc.read(MAX_WORDS_BYTES) if exc.fp else b""
    except (urllib.error.URLError, OSError, ValueError):
        return None
    parser = _Words()
    with contextlib.suppress(Exception):  # a broken page: what was read before the break
        parser.feed(body.decode("utf-8", errors="replace"))
    return " / ".join(dict.fromkeys(parser.parts))[:400] or None


def _served_size(url: str, timeout_s: float, user_agent: str) -> int | None:
    """The size the server states for a file (HEAD: no byte of it is downloaded)."""
    request = urllib.request.Request(url, method="HEAD", headers={"User-Agent": user_agent})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            length = response.headers.get("Content-Length")
    except (urllib.error.URLError, OSError, ValueError):
        return None
    return int(length) if length and length.isdigit() else None


def _changed(
    capture: Capture,
    media: ArchivedMedia | None,
    state: download.PostState,
    opts: RecheckSettings,
    agent: str,
    *,
    sizes: bool = True,
) -> str | None:
    """Why the post now serves other media than was archived; None when nothing says so.  Without
    ``sizes`` the served file's size is not compared (its footage will be)."""
    if state.capture_id != capture.capture_id:
        return f"the address now shows another post ({state.capture_id})"
    before, now = capture.duration_s, state.duration_s
    if before is not None and now is not None and abs(now - before) > opts.duration_tolerance_s:
        return f"the platform now gives {now:g} s, {before:g} s when archived"
    direct = state.media_url and (state.media_protocol or "http") not in _MANIFEST_PROTOCOLS
    archived_direct = capture.http_status in (200, 206) and media is not None
    if sizes and direct and archived_direct:
        size = _served_size(state.media_url or "", 10.0, agent)
        if size is not None and size != media.size_bytes:  # type: ignore[union-attr]
            return f"the media served now has {size} bytes, the archived file {media.size_bytes}"  # type: ignore[union-attr]
    return None


def footage_served(
    url: str, media: ArchivedMedia, index: HashIndex, archive: Archive
) -> tuple[AvailabilityStatus, str]:
    """Download the media served now into staging (never kept), and compare it with the archived
    media: the same bytes, the same footage in other bytes (a re-encode), or other footage."""
    work = store.staging_path(archive.root)
    try:
        got = download.fetch(url, work, archive.settings.download)
        sha = store.sha256_file(got.media_path)
        if sha == media.sha256:
            return "available", "the same bytes as archived"
        sampling = query_sampling(archive.settings.sampling, archive.settings.match)
        frames = sample_frames(got.media_path, detect_kind(got.media_path), sampling)
        found = match_frames(
            None, frames, index, {media.sha256: archive.root / media.path}, archive.settings.match
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    best = next((m for m in found if m.ref_sha256 == media.sha256 and m.segments), None)
    if best is None:
        return "changed", f"the media served now ({sha[:12]}) shows none of the archived footage"
    return (
        "available",
        f"the same footage in other bytes ({sha[:12]}, {best.ref_coverage:.0%} of the archived media)",
    )


def recheck_one(
    capture: Capture,
    media: ArchivedMedia | None,
    archive: Archive,
    pacer: HostPacer,
    index: HashIndex | None = None,
) -> AvailabilityCheck:
    """Ask the site about one archived post again (worker thread: no catalog writes).  With the
    archived media's ``index``, the media served now is downloaded and its footage compared."""
    opts = archive.settings.download
    agent = opts.user_agent or "Mozilla/5.0 (compatible; provenance recheck)"
    url = capture.url
    pacer.wait(url)
    checked_at = datetime.now(UTC)
    try:
        state = download.look_up(url, opts)
    except DownloadError as exc:
        http = download.http_status_of(exc)
        status = _KIND_STATUS.get(exc.kind, "unknown")
        words = None
        if http is not None:
            pacer.wait(url)
            words = page_words(url, opts.socket_timeout_s, agent)
        said = f"{exc.message} {words or ''}"
        if status != "unknown" and ACCOUNT_GONE.search(said):
            status = "account_gone"
        said_by_site = words or exc.message.removeprefix(f"{url}: ")
        return AvailabilityCheck(
            capture.capture_id, url, checked_at, status, http, said_by_site, None, exc.kind
        )
    why = _changed(capture, media, state, archive.settings.recheck, agent, sizes=index is None)
    status: AvailabilityStatus = "changed" if why else "available"
    if why is None and index is not None and media is not None:
        pacer.wait(url)
        try:
            status, why = footage_served(url, media, index, archive)
        except (DownloadError, ProvenanceError, OSError) as exc:
            kind = getattr(exc, "kind", "network")
            why = f"the page answers, its media does not: {getattr(exc, 'message', exc)}"
            status = _KIND_STATUS.get(kind, "unknown")
    return AvailabilityCheck(
        capture.capture_id, url, checked_at, status, 200, None, state.duration_s, why or ""
    )


def posts_to_recheck(archive: Archive, urls: Sequence[str] | None) -> list[Capture]:
    """The latest capture of each archived post; of the URLs given, or of every post."""
    if urls is None:
        latest = {c.capture_id: c for c in archive.catalog.all_captures()}
        return list(latest.values())
    chosen: dict[str, Capture] = {}
    for url in urls:
        found = archive.catalog.captures(url=url)
        if not found:
            raise BadInputError(
                f"{url}: not an archived URL", hint="archive it first, or see `provenance list`"
            )
        chosen[found[-1].capture_id] = found[-1]
    return list(chosen.values())


def _indexes(archive: Archive, shas: set[str]) -> dict[str, HashIndex]:
    """A one-media index of each archived media's stored fingerprint (read here, on the main
    thread: workers never touch the catalog)."""
    hasher = HASHERS[archive.settings.match.hasher]
    wanted = {
        fp.sha256: fp
        for fp in archive.catalog.iter_fingerprints(hasher.name, archive.settings.sampling.rate_hz)
        if fp.sha256 in shas
    }
    return {sha: HashIndex(hasher, [fp]) for sha, fp in wanted.items()}


def recheck_urls(
    archive: Archive,
    urls: Sequence[str] | None = None,
    *,
    fingerprint: bool = False,
    on_event: OnEvent | None = None,
) -> Iterator[AvailabilityCheck]:
    """Recheck the posts (of ``urls``, else all); yield each answer once it is in the history.

    With ``fingerprint``, the media each post serves now is downloaded into staging (and deleted)
    and its footage compared with the archived media's fingerprint: a re-encode is still the post,
    other footage is `changed`.  Without it no media is downloaded.
    """
    captures = posts_to_recheck(archive, urls)
    settings = archive.settings.recheck
    pacer = HostPacer(settings.per_host_delay_s)
    media = {c.capture_id: archive.catalog.get_media(c.sha256 or "") for c in captures}
    indexes = _indexes(archive, {c.sha256 or "" for c in captures}) if fingerprint else {}
    with ThreadPoolExecutor(max_workers=settings.jobs, thread_name_prefix="recheck") as pool:
        futures = [
            pool.submit(recheck_one, c, media[c.capture_id], archive, pacer, indexes.get(c.sha256 or ""))
            for c in captures
        ]
        try:
            for done, future in enumerate(futures, start=1):
                check = future.result()
                archive.catalog.record_availability([check])
                if on_event:
                    on_event(Progress("recheck", done, len(futures), check.url))
                yield check
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
