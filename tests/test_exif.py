"""read_exif on real photos from ../shared/media (ground truth in its README) and on bad input."""

from __future__ import annotations

import struct
import zlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import SHARED_MEDIA, shared_media
from exifbytes import exif_block, gps_entries, jpeg_with_exif, rational
from PIL import Image

from provenance.errors import BadInputError, CorruptMediaError, NotMediaError
from provenance.exif import read_exif
from provenance.models import MediaInfo

PHOTOS = sorted(p.name for p in (SHARED_MEDIA / "photos").glob("*")) if SHARED_MEDIA.is_dir() else []


def read(name: str) -> MediaInfo:
    return read_exif(shared_media(f"photos/{name}"), "0" * 64)


@pytest.mark.parametrize("name", PHOTOS)
def test_every_shared_photo_reads(name: str) -> None:
    info = read(name)
    assert info.kind == "image" and info.duration_s is None
    assert info.width > 0 and info.height > 0
    assert info.make is not None and info.model is not None  # every photo there names its camera
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in info.raw_tags)


@pytest.mark.parametrize(
    ("name", "lat", "lon", "alt_m"),
    [
        ("exifsamples_HMD_Nokia_8.3_5G.jpg", 60.1467, 24.9068, None),
        ("exifsamples_iPhone11ProMax_IMG_5195.heic", 39.0513, -94.2888, 261),
        ("exifsamples_iphone_hdr_NO.jpg", 40.4470, -3.7248, 640),
        ("exifsamples_nikon_DSCN0010_gps.jpg", 43.4674, 11.8851, None),
        ("exiftool_GoPro_stub.jpg", 40.6584, -73.9934, -4),
        ("exiv2_FurnaceCreekInn_gps.jpg", 36.4483, -116.8550, -14),
        ("exiv2_iphoneXR_gps.heic", 30.5804, -88.0739, 3),
        ("exiv2_nikon_d5300_gps.webp", 51.1783, -1.8266, 97),
        ("mei_Apple_iPhone_4.jpg", 41.8530, 12.4888, None),
        ("mei_Oppo_R7_Plus.jpg", 60.2675, 8.7711, 0),
    ],
)
def test_gps(name: str, lat: float, lon: float, alt_m: float | None) -> None:
    point = read(name).location
    assert point is not None and point.source == "exif"
    assert (point.lat, point.lon) == pytest.approx((lat, lon), abs=5e-5)
    if alt_m is None:
        assert point.alt_m is None
    else:
        assert point.alt_m == pytest.approx(alt_m, abs=0.5)


def test_no_gps() -> None:
    assert read("mei_Canon_EOS_450D.jpg").location is None


@pytest.mark.parametrize(
    ("name", "utc", "offset_min"),
    [
        ("exifsamples_HMD_Nokia_8.3_5G.jpg", datetime(2022, 8, 14, 11, 12, 31, tzinfo=UTC), 180),
        ("exifsamples_iPhone11ProMax_IMG_5195.heic", datetime(2021, 4, 11, 20, 47, 53, tzinfo=UTC), -300),
        ("exiv2_iphoneXR_gps.heic", datetime(2021, 2, 13, 17, 3, 31, tzinfo=UTC), -360),
    ],
)
def test_capture_time_with_offset(name: str, utc: datetime, offset_min: int) -> None:
    stamp = read(name).created_at
    assert stamp is not None
    assert (stamp.value, stamp.utc_offset_min, stamp.local) == (utc, offset_min, False)
    assert (stamp.precision, stamp.source) == ("second", "exif")


def test_capture_time_without_offset_is_local() -> None:
    # No OffsetTimeOriginal, no GPS time, no maker-note zone: the camera's wall clock, marked local.
    stamp = read("exiv2_sony_xperia_DSC_3079.jpg").created_at
    assert stamp is not None
    assert stamp.value == datetime(2018, 1, 4, 11, 42, 41, tzinfo=UTC)
    assert stamp.local and stamp.utc_offset_min is None


def test_no_datetimeoriginal_means_no_capture_time() -> None:
    info = read("exiv2_motorola_xt912.jpg")
    assert info.created_at is None  # ModifyDate is not when the photo was taken
    assert (info.make, info.model) == ("Motorola", "XT912")


def test_camera_software_and_lens() -> None:
    info = read("mei_Apple_iPhone_6.jpg")
    assert (info.make, info.model, info.software) == ("Apple", "iPhone 6", "8.0")
    tags = dict(info.raw_tags)
    assert tags["EXIF LensModel"] == "iPhone 6 back camera 4.15mm f/2.2"
    assert tags["GPS GPSTimeStamp"] == "[13, 5, 241/20]"  # GPS time stays raw
    assert "GPS GPSDate" in tags
    assert tags["Image DateTime"] == "2014:09:16 14:05:12"
    casio = read("piexif_casio_large.jpg")
    assert (casio.make, casio.model) == ("CASIO COMPUTER CO.,LTD", "QV-R51")  # padding stripped


def test_heic_orientation_and_stored_size() -> None:
    info = read("exiv2_iphoneXR_gps.heic")
    assert info.container == "heic"
    assert (info.width, info.height, info.rotation_deg) == (4032, 3024, 90)
    assert dict(info.raw_tags)["Image Orientation"] == "Rotated 90 CW"
    assert (info.make, info.model) == ("Apple", "iPhone XR")
    upright = read("exifsamples_iPhone11ProMax_IMG_5195.heic")
    assert (upright.width, upright.height, upright.rotation_deg) == (2566, 3313, 0)


def test_webp() -> None:
    # exifread 3.5 alone finds no EXIF in this file; the Pillow fallback must.
    info = read("exiv2_nikon_d5300_gps.webp")
    assert (info.container, info.width, info.height) == ("webp", 1200, 800)
    assert (info.make, info.model) == ("NIKON CORPORATION", "NIKON D5300")
    assert info.created_at is not None
    # DateTimeOriginal 15:38:54 has no OffsetTime; the Nikon maker note (ExifTool: TimeZone +00:00,
    # DaylightSavings Yes) puts the clock at +01:00, and the GPS time (14:38:55.88 UTC) agrees.
    assert info.created_at.value == datetime(2015, 7, 16, 14, 38, 54, tzinfo=UTC)
    assert info.created_at.utc_offset_min == 60


def test_mpo() -> None:
    info = read("pillow_3ds_frozenpond.mpo")
    assert (info.container, info.width, info.height) == ("mpo", 640, 480)
    assert (info.make, info.model) == ("Nintendo", "Nintendo 3DS")
    assert dict(info.raw_tags)["image:frames"] == "2"
    assert info.created_at is not None and info.created_at.value == datetime(2014, 3, 2, 13, 30, tzinfo=UTC)


def test_png_and_tiff_carry_exif(tmp_path: Path) -> None:
    exif = Image.open(shared_media("photos/pillow_flower.jpg")).getexif()
    for name in ("copy.png", "copy.tif"):
        Image.new("RGB", (4, 3)).save(tmp_path / name, exif=exif)
        info = read_exif(tmp_path / name, "0" * 64)
        assert (info.width, info.height, info.model) == (4, 3, "Canon PowerShot S40")
        assert info.created_at is not None and info.created_at.value.year == 2003
    plain = tmp_path / "plain.png"
    Image.new("RGB", (4, 3)).save(plain)
    info = read_exif(plain, "0" * 64)
    assert (info.container, info.created_at, info.make, info.raw_tags) == ("png", None, None, ())


def test_decompression_bomb_png(tmp_path: Path) -> None:
    path = tmp_path / "bomb.png"
    Image.new("RGB", (1, 1)).save(path)
    data = bytearray(path.read_bytes())
    # IHDR follows the 8-byte signature: length, "IHDR", width, height, ..., CRC over type and data.
    data[16:24] = struct.pack(">II", 100_000, 100_000)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    path.write_bytes(bytes(data))
    with pytest.raises(BadInputError, match=r"bomb\.png"):
        read_exif(path, "0" * 64)


def test_pillow_pixel_limit_applies(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(BadInputError, match="too large"):
        read("pillow_flower.jpg")


def test_text_file_named_jpg(tmp_path: Path) -> None:
    path = tmp_path / "notes.jpg"
    path.write_text("not a photo")
    with pytest.raises(NotMediaError, match=r"notes\.jpg"):
        read_exif(path, "0" * 64)


def test_empty_and_missing(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    with pytest.raises(NotMediaError, match=r"empty\.jpg"):
        read_exif(empty, "0" * 64)
    with pytest.raises(BadInputError, match=r"gone\.jpg"):
        read_exif(tmp_path / "gone.jpg", "0" * 64)


def test_truncated_header(tmp_path: Path) -> None:
    path = tmp_path / "cut.jpg"
    path.write_bytes(shared_media("photos/pillow_flower.jpg").read_bytes()[:300])
    with pytest.raises(CorruptMediaError, match=r"cut\.jpg"):
        read_exif(path, "0" * 64)


def test_truncated_pixels_still_read(tmp_path: Path) -> None:
    # The header and EXIF are intact; missing pixel data is for the decoder to find.
    data = shared_media("photos/mei_HTC_Desire.jpg").read_bytes()
    path = tmp_path / "half.jpg"
    path.write_bytes(data[: len(data) // 2])
    info = read_exif(path, "0" * 64)
    assert (info.width, info.height, info.model) == (776, 909, "HTC Desire")


@pytest.mark.parametrize(
    ("altitude", "count"), [(b"", 0), (rational((0, 0)), 1)], ids=["empty", "zero-over-zero"]
)
def test_a_malformed_gps_altitude_is_dropped_with_a_note(tmp_path: Path, altitude: bytes, count: int) -> None:
    photo = jpeg_with_exif(
        tmp_path / "a.jpg", exif_block(gps=gps_entries(altitude=altitude, altitude_count=count))
    )
    info = read_exif(photo, "0" * 64)
    assert info.location is not None and (info.location.lat, info.location.lon) == (10.0, 20.0)
    assert info.location.alt_m is None
    assert any("GPSAltitude" in note for note in info.caveats)


def test_a_readable_gps_altitude_has_no_note(tmp_path: Path) -> None:
    photo = jpeg_with_exif(tmp_path / "a.jpg", exif_block(gps=gps_entries(altitude=rational((1234, 10)))))
    info = read_exif(photo, "0" * 64)
    assert info.location is not None and info.location.alt_m == pytest.approx(123.4)
    assert info.caveats == ()
