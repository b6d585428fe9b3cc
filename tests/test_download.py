"""download.py against a real HTTP server on 127.0.0.1 (tests/fakesite.py): yt-dlp downloads for real.

What yt-dlp 2026.10 makes of each fake page (extractor, id):
  /watch/ld, /watch/hostile  JSON-LD VideoObject -> Generic, id from the page name; contentUrl downloaded
  /watch/html5, /watch/hls   <video> -> HTML5MediaEmbed, "<page>-1"; HLS master split in video + audio
  /watch/og                  og:video -> Generic, id from the media file name
  /files/direct.mp4          direct file -> Generic, id "direct"; timestamp from Last-Modified
  /watch/two, /feed.rss      playlists: inline <video> entries, RSS items with <link>
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import av
import pytest
from fakesite import (
    DIRECT_LAST_MODIFIED,
    HOSTILE_TITLE,
    LD_AUTHOR,
    LD_TITLE,
    FakeSite,
    json_ld_page,
)
from fakesite import fake_site as fake_site  # the fixture, used by name

from provenance.download import (
    DownloadProgress,
    capture_id_for,
    expand,
    fetch,
    normalise_url,
)
from provenance.errors import DownloadError, UsageError
from provenance.models import Timestamp
from provenance.settings import DownloadSettings

# Short timeout so the slow page (3 s) fails fast; no retries so error tests take one request.
OPTS_KW = {"retries": 0, "fragment_retries": 1, "socket_timeout_s": 1.0}


@pytest.fixture
def opts() -> DownloadSettings:
    return DownloadSettings(**OPTS_KW)


def _decodes(path: Path) -> tuple[int, int]:
    """(video streams, audio streams) of a file whose first video frame decodes."""
    with av.open(str(path)) as container:
        next(container.decode(video=0))
        return len(container.streams.video), len(container.streams.audio)


def test_json_ld_page_gives_platform_metadata(
    fake_site: FakeSite,
    opts: DownloadSettings,
    tmp_path: Path,
) -> None:
    url = fake_site.url("/watch/ld")
    events: list[DownloadProgress] = []
    got = fetch(url, tmp_path / "w", opts, on_event=events.append)
    cap = got.capture
    assert cap.published_at == Timestamp(
        datetime(2015, 9, 30, 8, 15, tzinfo=UTC), "second", "platform", utc_offset_min=0
    )
    assert (cap.uploader, cap.title, cap.description) == (LD_AUTHOR, LD_TITLE, "Water rising.")
    assert (cap.extractor, cap.platform_id, cap.url, cap.webpage_url) == ("Generic", "ld", url, url)
    assert cap.duration_s == 2.0 and cap.sha256 is None and cap.files == ()
    assert (cap.final_url, cap.http_status) == (fake_site.url("/media/clip.mp4"), 200)
    assert [name for name, _ in cap.tool_versions] == ["provenance", "yt-dlp", "ffmpeg", "av"]
    assert got.media_path == (tmp_path / "w" / "media.mp4").resolve()
    assert sorted(p.name for p in got.files) == ["description.txt", "info.json", "thumbnail.jpg"]
    assert json.loads((tmp_path / "w" / "info.json").read_text("utf-8")) == got.info
    assert events and events[-1].status == "finished" and events[-1].downloaded_bytes > 0
    assert capture_id_for(url, opts) == cap.capture_id
    assert _decodes(got.media_path) == (1, 1)


def test_date_without_time_stays_a_day(fake_site: FakeSite, opts: DownloadSettings, tmp_path: Path) -> None:
    page = json_ld_page(fake_site, "Dated", "/media/clip.mp4", uploaded="2015-09-30")
    cap = fetch(fake_site.add_page("/watch/dated", page), tmp_path, opts).capture
    assert cap.published_at == Timestamp(datetime(2015, 9, 30, tzinfo=UTC), "day", "platform")


def test_video_tag_page(fake_site: FakeSite, opts: DownloadSettings, tmp_path: Path) -> None:
    cap = fetch(fake_site.url("/watch/html5"), tmp_path, opts).capture
    assert (cap.extractor, cap.platform_id, cap.title) == ("HTML5MediaEmbed", "html5-1", "Plain video (1)")
    assert cap.published_at is None  # the page states no time; nothing is invented
    assert cap.capture_id.startswith("url:")


def test_open_graph_page(fake_site: FakeSite, opts: DownloadSettings, tmp_path: Path) -> None:
    got = fetch(fake_site.url("/watch/og"), tmp_path, opts)
    assert (got.capture.extractor, got.capture.title) == ("Generic", "Open Graph clip")
    assert _decodes(got.media_path) == (1, 1)


def test_hls_renditions_are_merged_with_bundled_ffmpeg(
    fake_site: FakeSite,
    opts: DownloadSettings,
    tmp_path: Path,
) -> None:
    got = fetch(fake_site.url("/watch/hls"), tmp_path, opts)
    assert "+" in got.info["format_id"]  # a video-only and an audio-only rendition, merged
    assert got.media_path.suffix == ".mp4"
    assert _decodes(got.media_path) == (1, 1)
    assert got.capture.http_status == 200


def test_direct_file_capture_id_is_the_url_and_stable(
    fake_site: FakeSite,
    opts: DownloadSettings,
    tmp_path: Path,
) -> None:
    url = fake_site.url("/files/direct.mp4")
    first = fetch(url, tmp_path / "a", opts).capture
    again = fetch(url, tmp_path / "b", opts).capture
    expected = "url:" + hashlib.sha256(url.encode()).hexdigest()
    assert first.capture_id == again.capture_id == capture_id_for(url, opts) == expected
    assert first.published_at == Timestamp(DIRECT_LAST_MODIFIED, "second", "platform", utc_offset_min=0)


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/watch/missing", "not_found"),
        ("/status/410", "not_found"),
        ("/status/403", "private"),
        ("/status/429", "rate_limited"),
        ("/status/500", "network"),
        ("/watch/empty", "no_video"),
        ("/watch/slow", "network"),
        ("/watch/truncated", "bad_media"),
        ("/feed.rss", "unsupported"),  # a playlist is expanded, not fetched
    ],
)
def test_failures_have_a_kind(
    fake_site: FakeSite,
    opts: DownloadSettings,
    tmp_path: Path,
    path: str,
    kind: str,
) -> None:
    url = fake_site.url(path)
    with pytest.raises(DownloadError) as caught:
        fetch(url, tmp_path, opts)
    assert caught.value.kind == kind
    assert url in caught.value.message and "\n" not in caught.value.one_line()


def test_expand_lists_entries(fake_site: FakeSite, opts: DownloadSettings) -> None:
    feed = expand(fake_site.url("/feed.rss"), opts)
    assert feed == [fake_site.url("/watch/ld"), fake_site.url("/watch/og")]
    assert expand(fake_site.url("/watch/two"), opts) == [
        fake_site.url("/media/clip.mp4"),
        fake_site.url("/media/other.mp4"),
    ]
    assert expand(fake_site.url("/watch/ld"), opts) == [fake_site.url("/watch/ld")]
    assert capture_id_for(fake_site.url("/feed.rss"), opts) is None


def test_hostile_title_never_reaches_a_path(
    fake_site: FakeSite,
    opts: DownloadSettings,
    tmp_path: Path,
) -> None:
    got = fetch(fake_site.url("/watch/hostile"), tmp_path / "w", opts)
    assert got.capture.title == HOSTILE_TITLE
    names = {p.name for p in tmp_path.rglob("*")}
    assert names == {"w", "media.mp4", "info.json", "thumbnail.jpg", "description.txt"}
    assert all(p.resolve().is_relative_to(tmp_path / "w") for p in (got.media_path, *got.files))


def test_pages_on_different_paths_get_different_ids(fake_site: FakeSite, opts: DownloadSettings) -> None:
    # Generic ids are the last URL segment; two sites' /clip must not look archived already.
    fake_site.add_page("/a/clip", fake_site.routes["/watch/html5"].body.decode())
    fake_site.add_page("/b/clip", fake_site.routes["/watch/html5"].body.decode())
    assert capture_id_for(fake_site.url("/a/clip"), opts) != capture_id_for(fake_site.url("/b/clip"), opts)


def test_normalise_url() -> None:
    assert normalise_url("HTTP://Example.COM:80/a/b?x=1#t=3") == "http://example.com/a/b?x=1"
    assert normalise_url("https://example.com:8443") == "https://example.com:8443/"


def test_bad_rate_limit_is_a_usage_error(fake_site: FakeSite) -> None:
    with pytest.raises(UsageError):
        expand(fake_site.url("/watch/ld"), DownloadSettings(rate_limit="fast"))
