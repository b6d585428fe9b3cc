"""`info --json` against written ground truth: capture times, XMP history, IPTC, maker notes, GoPro
telemetry, QuickTime user data, Matroska info, thumbnails and Content Credentials.

Ground truth comes from ../shared/media/README.md, from ExifTool 12.57 output read while writing
these tests (quoted beside each value), and from the files' own bytes; never from this code.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
from pathlib import Path
from typing import Any

import pytest
from conftest import shared_media
from PIL import Image

from provenance.cli import main
from provenance.errors import MetadataError
from provenance.exif import read_exif
from provenance.metadata import c2pa_read, exiv2
from provenance.metadata.telemetry import klvs
from provenance.probe import probe_media

needs_exiv2 = pytest.mark.skipif(not exiv2.available(), reason=f"needs pyexiv2: {exiv2.PIP_LINE}")
needs_c2pa = pytest.mark.skipif(not c2pa_read.available(), reason=f"needs c2pa-python: {c2pa_read.PIP_LINE}")


def info_json(capsys: pytest.CaptureFixture[str], tmp_path: Path, path: Path) -> dict[str, Any]:
    capsys.readouterr()
    try:
        main(["--archive", str(tmp_path / "none"), "info", str(path), "--json"])
    except SystemExit as exc:
        assert not exc.code, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


def video(capsys: pytest.CaptureFixture[str], tmp_path: Path, name: str) -> dict[str, Any]:
    return info_json(capsys, tmp_path, shared_media(f"videos/{name}"))


def photo(capsys: pytest.CaptureFixture[str], tmp_path: Path, name: str) -> dict[str, Any]:
    return info_json(capsys, tmp_path, shared_media(f"photos/{name}"))


# -- capture time and duration ------------------------------------------------------------------


def test_gopro_capture_time_comes_from_telemetry_and_the_local_header_clock_is_a_caveat(
    capsys, tmp_path
) -> None:
    record = video(capsys, tmp_path, "gopro_max-heromode.mp4")
    # ExifTool -ee: GPSDateTime 2019:11:18 23:45:14.000 (payload 1), 23:45:16.470 (payload 2, at
    # 1.001 s) ... 23:45:25.435; the movie header says 2019:11:18 15:45:32 (README creation_time).
    assert record["created_at"]["source"] == "telemetry"
    assert record["created_at"]["value"] == "2019-11-18T23:45:15Z"
    assert "GPMF" in record["created_at_why"]
    header = next(t for t in record["times"] if t["origin"] == "movie header creation_time")
    assert header["value"] == "2019-11-18T15:45:32Z" and header["basis"] == "header"
    assert any(c.startswith("camera clock local, off by -8 h") for c in record["caveats"])
    telemetry = record["telemetry"]
    assert telemetry["first_fix"]["utc"] == "2019-11-18T23:45:14Z"
    assert telemetry["first_fix"]["lat"] == pytest.approx(33.12677, abs=1e-5)  # ExifTool -n GPSLatitude
    assert telemetry["camera_serial"] == "C3353424500199"  # ExifTool GoPro:CameraSerialNumber
    assert telemetry["devices"] == ["GoPro Max"]
    assert record["makernotes"]["lens_serial"] == "C33632245042171"  # ExifTool UserData:LensSerialNumber


def test_karma_telemetry_track_is_longer_than_the_footage(capsys, tmp_path) -> None:
    record = video(capsys, tmp_path, "gopro_karma.mp4")
    # ExifTool: Duration 12.08 s (movie header), Track4 (GoPro MET) 13.01 s; README: 47 GPS fixes.
    assert record["container"]["duration_s"] == pytest.approx(12.08, abs=0.01)
    telemetry = record["telemetry"]
    assert telemetry["track_duration_s"] == pytest.approx(13.013, abs=0.001)
    assert telemetry["gps_fixes"] == 47
    assert telemetry["first_fix"]["utc"].startswith("2017-04-17T19:27:57.52")  # ExifTool 19:27:57.52602
    assert telemetry["last_fix"]["utc"].startswith("2017-04-17T19:28:09.11")  # ExifTool 19:28:09.11929
    assert telemetry["first_fix"]["alt_m"] == pytest.approx(15.711, abs=0.001)
    assert "GoPro Karma v1.0" in telemetry["devices"]
    # The header clock (19:27:57, README) agrees with the drone's GPS: no caveat about it.
    assert record["created_at"]["value"] == "2017-04-17T19:27:57Z"
    assert not any("camera clock" in c for c in record["caveats"])


def test_3gpp_date_with_its_zone_wins_over_the_header(capsys, tmp_path) -> None:
    record = video(capsys, tmp_path, "mei_issue515_geese.mp4")
    # The udta 'date' atom's bytes: "2020-11-20T15:04:02+0100"; the header: 2020-11-20T14:04:36Z.
    assert record["quicktime"]["date"] == "2020-11-20T15:04:02+0100"
    created = record["created_at"]
    assert (created["value"], created["utc_offset_min"]) == ("2020-11-20T14:04:02Z", 60)
    assert any("34 s later than the udta date" in c for c in record["caveats"])


def test_photo_zone_from_the_maker_note_and_from_gps(tmp_path) -> None:
    nikon = read_exif(shared_media("photos/exiv2_nikon_d5300_gps.webp"), "0" * 64)
    if exiv2.available():  # ExifTool: Nikon TimeZone +00:00, DaylightSavings Yes
        assert nikon.makernotes is not None and nikon.makernotes.time_zone_min == 60
        assert nikon.makernotes.dst is True and nikon.makernotes.body_serial == "2567806"
    # iPhone 6: DateTimeOriginal 2015:04:10 20:12:23, GPS 18:12:22.06 UTC (ExifTool): +02:00.
    iphone = read_exif(shared_media("photos/exifsamples_iphone_hdr_NO.jpg"), "0" * 64)
    assert iphone.created_at is not None
    assert iphone.created_at.value == dt.datetime(2015, 4, 10, 18, 12, 23, tzinfo=dt.UTC)
    assert iphone.created_at.utc_offset_min == 120
    assert "GPS" in (iphone.created_at_why or "")
    # Nikon P6000: GPS 2008:10:23 14:27:07 vs clock 2008:10:22 16:28:39, no zone apart: kept local.
    stale = read_exif(shared_media("photos/exifsamples_nikon_DSCN0010_gps.jpg"), "0" * 64)
    assert stale.created_at is not None and stale.created_at.local
    assert any("not a time-zone offset" in c for c in stale.caveats)


def test_duration_is_the_video_streams(capsys, tmp_path) -> None:
    # Android clip: 3 frames at 30 fps = 0.1 s of footage; the audio track runs 0.171 s (README 0.17 s
    # is the container's).  The browser WebM without a header duration is still measured (5 s).
    assert video(capsys, tmp_path, "mei_android_with-gps.mp4")["container"]["duration_s"] == pytest.approx(
        0.1, abs=0.002
    )
    info = probe_media(shared_media("videos/moviepy_webcam_black_noduration.webm"), "0" * 64)
    assert info.duration_s == pytest.approx(4.94, abs=0.05)


# -- XMP, IPTC, maker notes, QuickTime, Matroska ------------------------------------------------


@needs_exiv2
def test_after_effects_history_in_a_quicktime_xmp_packet(capsys, tmp_path) -> None:
    xmp = video(capsys, tmp_path, "mei_xmp480qt.mov")["xmp"]
    # ExifTool XMP-xmp:CreatorTool and XMP-xmpMM; the history is in the packet's bytes.
    assert xmp["creator_tool"] == "Adobe After Effects 2020 (Macintosh)"
    assert xmp["document_id"] == "xmp.did:7e43e7d4-867d-4c5b-8c8d-2c615b893b41"
    assert xmp["instance_id"] == "xmp.iid:6eca81e8-329e-4cde-84ca-365b17410149"
    assert [(e["action"], e["software_agent"]) for e in xmp["history"]] == [
        ("saved", "Adobe After Effects 2020 (Macintosh)"),
        ("saved", "Adobe Bridge 2020 (Macintosh)"),
    ]
    assert xmp["history"][0]["when"] == "2020-01-05T13:19:20+02:00"


@needs_exiv2
def test_lightroom_derivation_in_a_photo(capsys, tmp_path) -> None:
    record = photo(capsys, tmp_path, "pillow_canon_t6_xmp.jpg")
    xmp = record["xmp"]
    # ExifTool: HistoryAction "derived, saved", HistoryParameters "converted from image/x-canon-cr2 to
    # image/jpeg, saved to new location", DerivedFromDocumentID 8367D410E636EA95B7DE7EBA1C43A412.
    assert [e["action"] for e in xmp["history"]] == ["derived", "saved"]
    assert xmp["history"][0]["parameters"].startswith("converted from image/x-canon-cr2 to image/jpeg")
    assert xmp["derived_from_document_id"] == "8367D410E636EA95B7DE7EBA1C43A412"
    assert xmp["original_document_id"] == "8367D410E636EA95B7DE7EBA1C43A412"
    notes = record["makernotes"]  # ExifTool ExifIFD:SerialNumber, LensSerialNumber
    assert (notes["body_serial"], notes["lens_serial"]) == ("022070029137", "000091aa5e")


@needs_exiv2
def test_iptc_and_maker_note_serials(capsys, tmp_path) -> None:
    iptc = photo(capsys, tmp_path, "pillow_nokia_n70_iptc.jpg")["iptc"]
    # ExifTool IPTC: Keywords "HvK, 2006, summer, July, holiday, Hungary, Budapest", City, Country.
    assert iptc["keywords"] == ["HvK", "2006", "summer", "July", "holiday", "Hungary", "Budapest"]
    assert (iptc["city"], iptc["country"]) == ("Budapest", "Hungary")
    canon = photo(capsys, tmp_path, "mei_Canon_EOS_450D.jpg")["makernotes"]
    assert canon["body_serial"] == "0330103043"  # ExifTool Canon:SerialNumber (10 digits)
    assert canon["lens_model"] == "EF70-200mm f/2.8L IS USM"
    assert photo(capsys, tmp_path, "pillow_flower.jpg")["makernotes"]["owner"] == "Andreas Huggel"


def test_quicktime_user_data_and_matroska_apps(capsys, tmp_path) -> None:
    imovie = video(capsys, tmp_path, "mei_uuid540.mp4")["quicktime"]
    # ExifTool UserData: ClipFileName "My Movie", Title "My Movie", ThumbnailImage 80667 bytes.
    assert (imovie["clip_name"], imovie["title"]) == ("My Movie", "My Movie")
    flir = video(capsys, tmp_path, "mei_flir_thermal.mp4")
    assert flir["quicktime"]["author"] == "FLIR One"  # ExifTool UserData:Author
    thumb = video(capsys, tmp_path, "mei_uuid540.mp4")["thumbnails"]
    assert [(t["origin"], t["format"]) for t in thumb] == [("quicktime thmb", "jpeg")]
    webm = video(capsys, tmp_path, "imageio_webcam_handwave.webm")["matroska"]
    assert (webm["muxing_app"], webm["writing_app"]) == ("Chrome", "Chrome")  # ExifTool MuxingApp/WritingApp


def test_apple_live_photo_identifier() -> None:
    info = read_exif(shared_media("photos/exifsamples_iPhone11ProMax_IMG_5195.heic"), "0" * 64)
    # ExifTool Apple:MediaGroupUUID
    assert info.apple is not None and info.apple.media_group_uuid == "570F1469-09C7-4E50-9875-05F21D5BD166"


# -- thumbnails --------------------------------------------------------------------------------


def test_a_thumbnail_left_from_before_an_edit_is_flagged(tmp_path: Path) -> None:
    source = shared_media("photos/mei_Canon_EOS_450D.jpg")
    original = read_exif(source, "0" * 64)
    exif_thumb = [t for t in original.thumbnails if t.origin == "exif thumbnail"]
    # ExifTool: ThumbnailLength 8141 (a 160x120 picture with black bars above and below).
    assert [(t.size_bytes, t.shows_main) for t in exif_thumb] == [(8141, True)]
    # The same EXIF block (thumbnail included) over other pixels: what an editor that copies EXIF does.
    with Image.open(source) as image:
        block = image.info["exif"]
    edited = tmp_path / "edited.jpg"
    other = Image.open(shared_media("photos/pillow_flower.jpg")).convert("RGB").resize((640, 427))
    other.save(edited, exif=block)
    found = [t for t in read_exif(edited, "1" * 64).thumbnails if t.origin == "exif thumbnail"]
    assert len(found) == 1 and found[0].shows_main is False and found[0].distance_bits > 12


def test_mpo_second_image_is_listed() -> None:
    info = read_exif(shared_media("photos/pillow_3ds_frozenpond.mpo"), "0" * 64)
    second = [t for t in info.thumbnails if t.origin == "mpo image 2"]
    # ExifTool MPImage2: MPImageLength 83757.  The other eye of a stereo pair: parallax moves the near
    # trees, so its distance is given but no verdict on whether it "shows the main picture".
    assert len(second) == 1 and (second[0].width, second[0].height) == (640, 480)
    assert second[0].size_bytes == 83757 and second[0].shows_main is None
    assert second[0].distance_bits is not None


# -- hostile metadata ---------------------------------------------------------------------------


def test_gpmf_sizes_that_lie_raise_the_metadata_error() -> None:
    lying = b"DEVC\x00\x01\xff\xff" + b"\x00" * 16  # nested, declares 65535 bytes
    with pytest.raises(MetadataError):
        list(klvs(lying))


def test_a_damaged_gpmf_track_or_xmp_packet_is_a_caveat_not_a_failure(tmp_path: Path) -> None:
    data = bytearray(shared_media("videos/gopro_max-heromode.mp4").read_bytes())
    for marker in (b"DEVC", b"<?xpacket"):
        at = data.find(marker)
        while at >= 0:
            data[at + 6 : at + 8] = b"\xff\xff"  # every payload's first KLV claims 65535 repeats
            at = data.find(marker, at + 4)
    damaged = tmp_path / "damaged.mp4"
    damaged.write_bytes(bytes(data))
    info = probe_media(damaged, "0" * 64)
    assert info.width == 848 and info.telemetry is None
    assert any(c.startswith("GPMF telemetry not read") for c in info.caveats)
    assert info.created_at is not None and info.created_at.source == "container"  # the header, no GPS


def test_a_garbage_xmp_packet_in_a_video_is_a_caveat(tmp_path: Path) -> None:
    data = bytearray(shared_media("videos/mei_xmp480qt.mov").read_bytes())
    start = data.find(b"<x:xmpmeta")
    data[start : start + 200] = b"<" * 200
    damaged = tmp_path / "bad_xmp.mov"
    damaged.write_bytes(bytes(data))
    info = probe_media(damaged, "0" * 64)
    assert info.width == 640
    if exiv2.available():
        assert info.xmp is None
        assert any("XMP packet" in c for c in info.caveats)


# -- copies linked by their XMP ids -------------------------------------------------------------


def _with_xmp(source: Path, out: Path, xmp: dict[str, str], quality: int) -> Path:
    import pyexiv2

    picture = io.BytesIO()
    Image.open(source).convert("RGB").save(picture, "JPEG", quality=quality)
    image = pyexiv2.ImageData(picture.getvalue())
    image.modify_xmp(xmp)
    out.write_bytes(image.get_bytes())
    image.close()
    return out


@needs_exiv2
def test_earliest_shows_a_copy_derived_from_another_by_its_xmp_ids(capsys, tmp_path: Path) -> None:
    source = shared_media("photos/pillow_flower.jpg")
    original = _with_xmp(source, tmp_path / "original.jpg", {
        "Xmp.xmpMM.DocumentID": "xmp.did:0001", "Xmp.xmpMM.InstanceID": "xmp.iid:0001",
        "Xmp.xmpMM.OriginalDocumentID": "xmp.did:0001",
    }, quality=95)  # fmt: skip
    edited = _with_xmp(source, tmp_path / "edited.jpg", {
        "Xmp.xmpMM.DocumentID": "xmp.did:0002", "Xmp.xmpMM.InstanceID": "xmp.iid:0002",
        "Xmp.xmpMM.OriginalDocumentID": "xmp.did:0001",
        "Xmp.xmpMM.DerivedFrom/stRef:instanceID": "xmp.iid:0001",
        "Xmp.xmpMM.DerivedFrom/stRef:documentID": "xmp.did:0001",
    }, quality=70)  # fmt: skip
    archive = str(tmp_path / "archive")
    capsys.readouterr()
    assert not _run(["--archive", archive, "add", str(original), str(edited)])
    capsys.readouterr()
    assert not _run(["--archive", archive, "earliest", str(edited), "--json"])
    record = json.loads(capsys.readouterr().out)
    sha = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in (original, edited)}
    assert record["document_links"] == [{
        "from_sha256": sha["original.jpg"], "to_sha256": sha["edited.jpg"],
        "relation": "derived_from", "document_id": "xmp.iid:0001",
    }]  # fmt: skip
    report = tmp_path / "report.html"
    assert not _run(["--archive", archive, "report", str(edited), "-o", str(report)])
    html = report.read_text()
    assert 'class="document-link"' in html and "derived from" in html and "xmp.iid:0001" in html


def _run(args: list[str]) -> int:
    try:
        main(args)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


# -- Content Credentials ------------------------------------------------------------------------


def _test_signer() -> tuple[bytes, bytes]:
    """An ES256 chain made here: a test root CA and an end-entity certificate it signed."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.UTC)

    def name(common: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common),
                          x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Test Newsroom")])  # fmt: skip

    def usage(ca: bool) -> x509.KeyUsage:
        return x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                             data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=ca,
                             encipher_only=False, decipher_only=False)  # fmt: skip

    def builder(subject: str, issuer: x509.Name, key: ec.EllipticCurvePrivateKey) -> x509.CertificateBuilder:
        return (
            x509.CertificateBuilder().subject_name(name(subject)).issuer_name(issuer)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
        )  # fmt: skip

    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = (
        builder("Test Root CA", name("Test Root CA"), ca_key)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(usage(True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    leaf = (
        builder("Test Signer", ca.subject, key)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage(False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    chain = leaf.public_bytes(serialization.Encoding.PEM) + ca.public_bytes(serialization.Encoding.PEM)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())  # fmt: skip
    return chain, pem


@needs_c2pa
def test_content_credentials_validate_and_a_changed_byte_is_invalid(capsys, tmp_path: Path) -> None:
    import c2pa

    chain, key = _test_signer()
    signer = c2pa.Signer.from_info(c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, chain, key, None))
    picture = io.BytesIO()
    Image.open(shared_media("photos/pillow_flower.jpg")).save(picture, "JPEG")
    picture.seek(0)
    manifest = {
        "claim_generator_info": [{"name": "newsroom-desk", "version": "2.1"}],
        "title": "flower.jpg",
        "assertions": [{"label": "c2pa.actions", "data": {"actions": [
            {"action": "c2pa.created",
             "digitalSourceType": "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture"},
            {"action": "c2pa.color_adjustments"},
        ]}}],
    }  # fmt: skip
    signed = io.BytesIO()
    with c2pa.Builder(manifest) as builder:
        builder.sign(signer, "image/jpeg", picture, signed)
    good = tmp_path / "signed.jpg"
    good.write_bytes(signed.getvalue())
    credentials = info_json(capsys, tmp_path, good)["c2pa"]
    assert credentials["validation_state"] == "Valid"
    assert credentials["claim_generator"] == "newsroom-desk 2.1"
    assert (credentials["signer"], credentials["signer_issuer"]) == ("Test Signer", "Test Newsroom")
    assert [a["action"] for a in credentials["actions"]] == ["c2pa.created", "c2pa.color_adjustments"]
    # Our own root is on no trust list: the signature holds, the signer is not vouched for.
    assert "signingCredential.untrusted" in credentials["validation_errors"]
    tampered = bytearray(signed.getvalue())
    tampered[-100] ^= 0xFF  # a byte of the picture itself, after the manifest
    bad = tmp_path / "tampered.jpg"
    bad.write_bytes(bytes(tampered))
    broken = info_json(capsys, tmp_path, bad)["c2pa"]
    assert broken["validation_state"] == "Invalid"
    assert any("mismatch" in code for code in broken["validation_errors"])


def test_files_without_credentials_say_so(capsys, tmp_path) -> None:
    record = photo(capsys, tmp_path, "pillow_flower.jpg")
    assert record["c2pa"] is None
    assert {"xmp", "iptc", "makernotes", "telemetry", "c2pa", "thumbnails", "quicktime", "times"} <= set(
        record
    )


def test_user_data_atoms_whose_sizes_lie_are_clipped(tmp_path: Path) -> None:
    data = bytearray(shared_media("videos/mei_uuid540.mp4").read_bytes())
    for atom in (b"clfn", b"thmb", b"titl"):
        at = data.find(atom)
        data[at - 4 : at] = (0x7FFFFFF0).to_bytes(4, "big")  # each claims 2 GB
    damaged = tmp_path / "lying.mp4"
    damaged.write_bytes(bytes(data))
    info = probe_media(damaged, "0" * 64)  # the atoms are walked inside their parent, never past it
    assert info.width == 960 and info.quicktime is not None
