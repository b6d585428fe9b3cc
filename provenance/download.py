"""yt-dlp through its Python API: a URL becomes a media file, its side files and a Capture.

This is the only module that imports yt_dlp and the only one that reads its info dict.  One
`YoutubeDL` per call, built from `DownloadSettings` alone; file names in the work folder are fixed
(`media.<ext>`, `info.json`, `thumbnail.<ext>`, `description.txt`) so a hostile title never reaches
a path.  Every failure leaves as a `provenance.errors.DownloadError` with a stable `kind`.
"""

from __future__ import annotations

import email.utils
import functools
import hashlib
import json
import logging
import re
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import av
import imageio_ffmpeg
import yt_dlp
import yt_dlp.version
from yt_dlp.networking.exceptions import HTTPError, NoSupportingHandlers, TransportError, UnsupportedRequest
from yt_dlp.utils import (
    ContentTooShortError,
    GeoRestrictedError,
    PagedList,
    PostProcessingError,
    UnsupportedError,
    YoutubeDLError,
    parse_bytes,
    unsmuggle_url,
)

from .errors import DownloadError, UsageError
from .models import Capture, Timestamp
from .settings import DownloadSettings
from .timestamps import from_epoch_s, from_yyyymmdd

logger = logging.getLogger(__name__)

MEDIA_STEM = "media"
INFO_NAME = "info.json"
DESCRIPTION_NAME = "description.txt"
_PLAYLIST_TYPES = ("playlist", "multi_video")
# Extractors whose "id" is only the last segment of a URL (a page or file name), not a platform id:
# two sites' /watch/clip would collide, so their captures are identified by the URL instead.
URL_IDENTIFIED_EXTRACTORS = frozenset({"Generic", "HTML5MediaEmbed", "QuotedHTML"})
# yt-dlp warnings that describe normal operation on generic sites; anything else is a WARNING.
_ROUTINE_WARNINGS = ("Falling back on generic information extractor", "URL could be a direct video link")

_HINTS = {
    "not_found": "the post was removed or the address is wrong",
    "private": "the post needs a login: set download.cookies_file",
    "geo_blocked": "the post is not available from here: set download.proxy",
    "rate_limited": "the site is throttling requests: wait, or archive fewer URLs at once",
    "no_video": "if the page plays a video in a browser, save the file and add it",
    "network": "the site failed or did not answer in time: retry later",
    "unsupported": "yt-dlp cannot archive this address",
    "bad_media": "retry, or archive another copy of the video",
}
_HTTP_KINDS = {
    404: "not_found",
    410: "not_found",
    401: "private",
    403: "private",
    429: "rate_limited",
    451: "geo_blocked",
}
# Checked in this order on the text of extractor errors that carry no HTTP status.
_MESSAGE_KINDS = (
    ("rate_limited", re.compile(r"too many requests|rate[- ]?limit")),
    # yt-dlp's downloader reports a body cut short only in words ("Downloaded 40000 bytes, expected
    # 200386 bytes. Giving up after 3 retries"), without the ContentTooShortError it caught.
    (
        "network",
        re.compile(
            r"downloaded \d+ bytes, expected \d+|\d+ bytes read, \d+ more expected|giving up after \d+"
            r" (fragment )?retries|incompleteread"
            r"|connection (was )?(reset|refused|aborted)|timed? ?out"
        ),
    ),
    ("geo_blocked", re.compile(r"geo[- ]?restrict|not available (in|from) your (country|region|location)")),
    ("private", re.compile(r"private|sign in|log ?in|members[- ]only|authenticat|confirm your age")),
    ("not_found", re.compile(r"not found|does not exist|removed|deleted|no longer available|unavailable")),
    ("no_video", re.compile(r"no video|unsupported url")),
)


@dataclass(frozen=True, slots=True)
class DownloadProgress:
    """One progress report of yt-dlp; `status` is "downloading", "finished" or "error"."""

    url: str
    downloaded_bytes: int
    total_bytes: int | None
    status: str


@dataclass(frozen=True, slots=True)
class Downloaded:
    """What `fetch` leaves in the work folder: the media, the side files, and what they say.

    `capture.sha256` and `capture.files` stay empty: the caller fills them after storing the files.
    """

    media_path: Path
    files: tuple[Path, ...]
    info: dict[str, Any]
    capture: Capture


class _YtdlpLog:
    """yt-dlp's logger interface.  Its errors come back as our exceptions, so they are DEBUG here."""

    def debug(self, message: str) -> None:
        logger.debug("yt-dlp: %s", message)

    info = error = debug

    def warning(self, message: str) -> None:
        routine = any(text in message for text in _ROUTINE_WARNINGS)
        logger.log(logging.DEBUG if routine else logging.WARNING, "yt-dlp: %s", message)


class _RecordingYoutubeDL(yt_dlp.YoutubeDL):
    """Remembers where each answered request ended up, because yt-dlp keeps no status in its info."""

    def __init__(self, params: dict[str, Any]) -> None:
        super().__init__(params)
        self.answers: dict[str, tuple[str, int]] = {}

    def urlopen(self, req: Any) -> Any:
        response = super().urlopen(req)
        asked = req if isinstance(req, str) else getattr(req, "url", None) or req.full_url
        self.answers[_defrag(asked)] = (response.url, response.status)
        return response


def fetch(
    url: str,
    workdir: Path,
    opts: DownloadSettings,
    *,
    on_event: Callable[[DownloadProgress], None] | None = None,
) -> Downloaded:
    """Download one video post into `workdir`; partial files stay there for the caller to delete."""
    workdir.mkdir(parents=True, exist_ok=True)
    captured_at = datetime.now(UTC)
    params = {**_base_params(opts), **_file_params(workdir, url, on_event)}
    with _RecordingYoutubeDL(params) as ydl:
        raw = _call(url, ydl.extract_info, url, download=False, process=False)
        _refuse_playlist(url, raw)
        info = _call(url, ydl.process_ie_result, raw, download=True)
        _refuse_playlist(url, info)
        answers = ydl.answers
    media_path = _media_path(url, info, workdir)
    _check_decodes(url, media_path)
    clean = yt_dlp.YoutubeDL.sanitize_info(info, remove_private_keys=True)
    info_path = workdir / INFO_NAME
    info_path.write_text(json.dumps(clean, ensure_ascii=False), encoding="utf-8")
    final_url, http_status = _media_answer(info, answers)
    capture = _capture(url, clean, captured_at, final_url=final_url, http_status=http_status)
    return Downloaded(media_path, (info_path, *_side_files(workdir)), clean, capture)


def expand(url: str, opts: DownloadSettings) -> list[str]:
    """The entry URLs of a playlist or feed (one extraction, no download); a single post gives [url].

    Entries that a page shows inline without an address of their own (several `<video>` tags) are
    given by their media URL.
    """
    with yt_dlp.YoutubeDL(_base_params(opts)) as ydl:
        raw = _call(url, ydl.extract_info, url, download=False, process=False)
    if raw.get("_type") not in _PLAYLIST_TYPES:
        return [url]
    entries = raw.get("entries") or []
    if isinstance(entries, PagedList):
        entries = entries.getslice()
    urls = [u for u in (_entry_url(entry) for entry in entries) if u]
    if not urls:
        raise DownloadError(f"{url}: the playlist has no entries", hint=_HINTS["no_video"], kind="no_video")
    return list(dict.fromkeys(urls))


def capture_id_for(url: str, opts: DownloadSettings) -> str | None:
    """The capture id `fetch` would give, found without downloading media; None for a playlist."""
    params = {**_base_params(opts), "extract_flat": "in_playlist"}
    with yt_dlp.YoutubeDL(params) as ydl:
        info = _call(url, ydl.extract_info, url, download=False)
    if info.get("_type") in _PLAYLIST_TYPES:
        return None
    return capture_id(info)


def capture_id(info: dict[str, Any]) -> str:
    """`<extractor_key>:<id>`, or `url:<sha256 of the normalised page URL>` for URL-derived ids."""
    key, video_id = info.get("extractor_key"), info.get("id")
    if key and video_id and key not in URL_IDENTIFIED_EXTRACTORS:
        return f"{key}:{video_id}"
    page = info.get("webpage_url") or info.get("original_url") or info.get("url") or ""
    return "url:" + hashlib.sha256(normalise_url(page).encode("utf-8")).hexdigest()


def normalise_url(url: str) -> str:
    """Scheme and host in lower case; default port, credentials and fragment dropped; path and query kept."""
    parts = urllib.parse.urlsplit(unsmuggle_url(url, {})[0].strip())
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    netloc = f"[{host}]" if ":" in host else host
    if parts.port and (scheme, parts.port) not in (("http", 80), ("https", 443)):
        netloc += f":{parts.port}"
    return urllib.parse.urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))


def _base_params(opts: DownloadSettings) -> dict[str, Any]:
    params: dict[str, Any] = {
        "format": opts.format,
        "retries": opts.retries,
        "fragment_retries": opts.fragment_retries,
        "extractor_retries": opts.retries,
        "socket_timeout": opts.socket_timeout_s,
        "noplaylist": True,
        "quiet": True,
        "no_warnings": True,
        "noprogress": True,
        "color": "no_color",
        "logger": _YtdlpLog(),
        "cachedir": False,  # nothing of ours outside the archive
        "ffmpeg_location": imageio_ffmpeg.get_ffmpeg_exe(),
    }
    if opts.rate_limit:
        rate = parse_bytes(opts.rate_limit)
        if rate is None:
            raise UsageError(f"setting download.rate_limit: {opts.rate_limit!r} is not a rate like 2M")
        params["ratelimit"] = rate
    if opts.cookies_file:
        params["cookiefile"] = opts.cookies_file
    if opts.proxy:
        params["proxy"] = opts.proxy
    if opts.user_agent:
        params["http_headers"] = {"User-Agent": opts.user_agent}
    return params


def _file_params(
    workdir: Path, url: str, on_event: Callable[[DownloadProgress], None] | None
) -> dict[str, Any]:
    hooks = [] if on_event is None else [lambda d: on_event(_progress(url, d))]
    return {
        "paths": {"home": str(workdir), "temp": str(workdir)},
        # Fixed names: titles and ids come from the site and may be hostile ("../", "<script>").
        "outtmpl": {
            "default": f"{MEDIA_STEM}.%(ext)s",
            "thumbnail": "thumbnail.%(ext)s",
            "description": "description.%(ext)s",
        },
        "writethumbnail": True,
        "writedescription": True,
        "overwrites": True,  # a stale media.* in a reused workdir must not pass as this download
        "updatetime": False,  # file times say when we captured, not the server's Last-Modified
        "playlistend": 1,  # should a URL resolve to a playlist after all, fetch at most one entry
        "progress_hooks": hooks,
    }


def _progress(url: str, d: dict[str, Any]) -> DownloadProgress:
    total = d.get("total_bytes") or d.get("total_bytes_estimate")
    return DownloadProgress(
        url, int(d.get("downloaded_bytes") or 0), int(total) if total else None, str(d.get("status"))
    )


def _call(url: str, func: Callable[..., Any], *args: Any, **kwargs: Any) -> dict[str, Any]:
    try:
        result = func(*args, **kwargs)
    except (YoutubeDLError, TimeoutError, ConnectionError) as exc:
        raise _download_error(url, exc) from exc
    if not isinstance(result, dict):
        raise DownloadError(f"{url}: yt-dlp returned nothing", hint=_HINTS["unsupported"], kind="unsupported")
    return result


def _refuse_playlist(url: str, info: dict[str, Any]) -> None:
    if info.get("_type") in _PLAYLIST_TYPES:
        raise DownloadError(
            f"{url}: is a playlist, not one post",
            kind="unsupported",
            hint="archive its entries one by one; download.expand lists them",
        )


def _entry_url(entry: dict[str, Any]) -> str | None:
    url = entry.get("url") or entry.get("webpage_url")
    if not url and entry.get("formats"):
        url = entry["formats"][0].get("url")  # the page's own order: its first <source>
    return unsmuggle_url(url, {})[0] if url else None


def _causes(exc: BaseException) -> list[BaseException]:
    """The exception and what it wraps: yt-dlp's exc_info and cause, Python's __cause__."""
    chain: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo and len(chain) < 12:
        item = todo.pop(0)
        if item is None or any(item is seen for seen in chain):
            continue
        chain.append(item)
        exc_info = getattr(item, "exc_info", None)
        if isinstance(exc_info, tuple) and len(exc_info) > 1:
            todo.append(exc_info[1])
        todo.extend([getattr(item, "cause", None), item.__cause__])
    return chain


def _kind(chain: list[BaseException]) -> str:
    for exc in chain:
        if isinstance(exc, HTTPError):
            return _HTTP_KINDS.get(exc.status, "network")
    kinds = [
        (GeoRestrictedError, "geo_blocked"),
        (UnsupportedError, "no_video"),
        ((UnsupportedRequest, NoSupportingHandlers), "unsupported"),
        ((ContentTooShortError, TransportError, TimeoutError, ConnectionError), "network"),
        (PostProcessingError, "bad_media"),
    ]
    for types, kind in kinds:
        if any(isinstance(exc, types) for exc in chain):
            return kind
    text = " ".join(str(exc) for exc in chain).lower()
    return next((kind for kind, pattern in _MESSAGE_KINDS if pattern.search(text)), "unsupported")


def _download_error(url: str, exc: BaseException) -> DownloadError:
    chain = _causes(exc)
    kind = _kind(chain)
    # yt-dlp's messages may carry progress-line control characters ("ERROR: \r[download] Got error:
    # ..."): the reason is the first line with words in it once they are gone.
    lines = [
        re.sub(r"^(ERROR:\s*)?(\[\w+\]\s*)?", "", line.strip()) for line in re.split(r"[\r\n]+", str(exc))
    ]
    reason = next((line for line in lines if line), type(exc).__name__)
    reason = re.sub(r"\s*\(caused by .*$|;?\s*please report this issue.*$", "", reason)
    if kind == "no_video" and reason.startswith("Unsupported URL"):  # yt-dlp's words for "no video here"
        reason = "no video found on the page"
    if url not in reason:
        reason = f"{url}: {reason}"
    return DownloadError(reason, hint=_HINTS[kind], kind=kind, retry_after_s=_retry_after_s(chain))


def _retry_after_s(chain: list[BaseException]) -> float | None:
    """The Retry-After of an HTTP answer in the chain: seconds, or an HTTP date (RFC 9110 10.2.3)."""
    for exc in chain:
        if not isinstance(exc, HTTPError):
            continue
        text = (exc.response.headers.get("Retry-After") or "").strip()
        if text.isdigit():
            return float(text)
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        return max(0.0, (when - datetime.now(UTC)).total_seconds()) if when.tzinfo else None
    return None


def _media_path(url: str, info: dict[str, Any], workdir: Path) -> Path:
    downloads = info.get("requested_downloads") or []
    path = Path(downloads[-1].get("filepath") or "") if downloads else None
    if path is None or not path.is_file():
        raise DownloadError(f"{url}: yt-dlp wrote no media file", hint=_HINTS["bad_media"], kind="bad_media")
    if not path.resolve().is_relative_to(workdir.resolve()):  # fixed templates prevent it; check anyway
        raise DownloadError(f"{url}: media written outside the work folder", kind="bad_media")
    return path.resolve()


def _check_decodes(url: str, path: Path) -> None:
    """Open the file and decode one frame: a truncated or corrupt download fails here, not later."""
    try:
        with av.open(str(path)) as container:
            streams = [*container.streams.video, *container.streams.audio]
            if streams:
                for _frame in container.decode(streams[0]):
                    return
    except av.FFmpegError as exc:
        why = getattr(exc, "strerror", None) or exc  # without the work folder's path
        raise DownloadError(
            f"{url}: the downloaded file does not decode ({why})", hint=_HINTS["bad_media"], kind="bad_media"
        ) from exc
    raise DownloadError(
        f"{url}: the downloaded file has no decodable frame", hint=_HINTS["bad_media"], kind="bad_media"
    )


def _side_files(workdir: Path) -> list[Path]:
    files = sorted(p for p in workdir.glob("thumbnail.*") if p.suffix not in (".part", ".ytdl"))
    written = workdir / "description.description"  # yt-dlp's fixed suffix; renamed to say what it is
    if written.is_file():
        files.append(written.replace(workdir / DESCRIPTION_NAME))
    return files


def _media_answer(info: dict[str, Any], answers: dict[str, tuple[str, int]]) -> tuple[str | None, int | None]:
    """Final URL and status of the (first) media request; None when it went through no request of ours."""
    formats = info.get("requested_formats") or [info]
    for fmt in formats:
        if fmt.get("url") and _defrag(fmt["url"]) in answers:
            return answers[_defrag(fmt["url"])]
    return None, None


def _defrag(url: str) -> str:
    return urllib.parse.urldefrag(unsmuggle_url(url, {})[0])[0]


def _published_at(info: dict[str, Any]) -> Timestamp | None:
    """`timestamp`, else `release_timestamp` (second precision), else `upload_date` (day precision).

    yt-dlp turns a date without a time (JSON-LD "uploadDate": "2015-09-30") into midnight UTC; a post
    at exactly 00:00:00 UTC is far rarer, so a midnight timestamp is read as the whole day.
    """
    stamp = from_epoch_s(info.get("timestamp")) or from_epoch_s(info.get("release_timestamp"))
    if stamp is not None and stamp.value.time() == datetime.min.time():
        return from_yyyymmdd(f"{stamp.value:%Y%m%d}")
    return stamp or from_yyyymmdd(info.get("upload_date"))


def _capture(
    url: str, info: dict[str, Any], captured_at: datetime, *, final_url: str | None, http_status: int | None
) -> Capture:
    def get(key: str, kind: type = str) -> Any:
        value = info.get(key)
        return None if value is None else kind(value)

    return Capture(
        capture_id=capture_id(info),
        url=url,
        webpage_url=get("webpage_url"),
        extractor=get("extractor_key"),
        platform_id=get("id"),
        uploader=get("uploader"),
        uploader_id=get("uploader_id"),
        channel=get("channel"),
        title=get("title"),
        description=get("description"),
        duration_s=get("duration", float),
        view_count=get("view_count", int),
        like_count=get("like_count", int),
        published_at=_published_at(info),
        captured_at=captured_at,
        tool_versions=tool_versions(),
        final_url=final_url,
        http_status=http_status,
    )


@functools.cache
def _ffmpeg_version() -> str:
    return imageio_ffmpeg.get_ffmpeg_version()


def tool_versions() -> tuple[tuple[str, str], ...]:
    from . import __version__  # at call time: the package may import this module while it initialises

    return (
        ("provenance", __version__),
        ("yt-dlp", yt_dlp.version.__version__),
        ("ffmpeg", _ffmpeg_version()),
        ("av", av.__version__),
    )


# -- asking about a post again, without its media (recheck) ---------------------------------------


@dataclass(frozen=True, slots=True)
class PostState:
    """What the site says of a post now, asked without downloading its media."""

    capture_id: str
    duration_s: float | None
    media_url: str | None  # the URL of the media yt-dlp would download (the first format's)
    media_protocol: str | None  # "https", "m3u8_native", ...: whether media_url is the file itself


def look_up(url: str, opts: DownloadSettings) -> PostState:
    """Extract a post's info again with ``download=False``: the media is not downloaded (yt-dlp may
    still look at a media URL's first bytes to tell what it is).  A post that is gone raises
    DownloadError as `fetch` would; `http_status_of` gives the site's HTTP status."""
    with yt_dlp.YoutubeDL({**_base_params(opts), "extract_flat": "in_playlist"}) as ydl:
        info = _call(url, ydl.extract_info, url, download=False)
    formats = info.get("requested_formats") or [info]
    duration = info.get("duration")
    return PostState(
        capture_id=capture_id(info),
        duration_s=float(duration) if duration is not None else None,
        media_url=formats[0].get("url"),
        media_protocol=formats[0].get("protocol"),
    )


def http_status_of(error: DownloadError) -> int | None:
    """The HTTP status behind a download error, when the site answered with one."""
    for exc in _causes(error):
        if isinstance(exc, HTTPError):
            return int(exc.status)
    return None
