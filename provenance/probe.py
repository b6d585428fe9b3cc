"""What a video file says about itself, read by PyAV from the container without decoding a frame.

``probe_media`` returns a MediaInfo: stream facts (duration, size, rate, codecs, rotation), every tag of
the container and its streams in ``raw_tags`` as ``("format:<key>", value)`` and
``("stream<index>:<key>", value)``, and the tags normalised into fields: ``created_at`` (Apple's
``creationdate`` with its offset, else ``creation_time``), ``location`` (ISO 6709 strings) and the
device (Apple and Android keys, ``software``, ``firmware``, ``encoder``).  Raw tags are kept even
when normalising rejects them (the 1970 placeholder date stays in ``raw_tags``, ``created_at`` is None).

Photos are read by ``exif.read_exif``; a still image given here is refused.
"""

from __future__ import annotations

import math
import re
import struct
from collections.abc import Mapping
from pathlib import Path
from typing import BinaryIO

import av
from av.container import InputContainer
from av.stream import Stream

from .errors import BadInputError, CorruptMediaError, NotMediaError
from .metadata import describe_video
from .metadata.boxes import ISO_BMFF_BOXES, boxes, looks_iso_bmff
from .models import GeoPoint, MediaInfo, Timestamp
from .store import require_file
from .timestamps import parse_container_time

# Tags in order of preference.  Apple's creationdate is the capture time with its UTC offset;
# creation_time is when the file was written (often the end of recording, or of an export).
_CREATED_KEYS = ("com.apple.quicktime.creationdate", "creation_time")
_LOCATION_KEYS = ("com.apple.quicktime.location.iso6709", "location", "location-eng", "©xyz")
_MAKE_KEYS = ("com.apple.quicktime.make", "com.android.manufacturer", "make")
_MODEL_KEYS = ("com.apple.quicktime.model", "com.android.model", "model")
# The device's own software first, then what wrote the file (GoPro firmware, AVI software, Lavf...).
_SOFTWARE_KEYS = ("com.apple.quicktime.software", "com.android.version", "software", "firmware", "encoder")

# First bytes of the containers FFmpeg reads: a file that starts like one of these but does not open
# is damaged media, anything else is not media at all.
_MEDIA_MAGIC = (b"RIFF", b"\x1a\x45\xdf\xa3", b"FLV", b"OggS", b"\x00\x00\x01\xba", b"\x30\x26\xb2\x75")
_TS_PACKET = 188
# Demuxers of still images: FFmpeg opens a JPEG as a one-frame "video", which it is not.
IMAGE_DEMUXER = re.compile(r"^(image2|.*_pipe)$")

# ISO 6709: latitude, longitude, optional altitude, each signed; degrees may be DD, DDMM or DDMMSS.
_ISO6709_RE = re.compile(r"^(?P<lat>[+-][\d.]+)(?P<lon>[+-][\d.]+)(?P<alt>[+-][\d.]+)?(?:CRS[^/]*)?/?$")


def probe_media(path: Path, sha256: str) -> MediaInfo:
    """Describe a video file from its container; raise a BadInputError kind when it cannot be read.

    ``width``/``height`` are the stored picture size; ``rotation_deg`` is the clockwise rotation a
    player applies (90 for a phone held upright).
    """
    size = require_file(path)
    try:
        container = av.open(str(path), metadata_errors="replace")
    except av.FFmpegError as exc:
        raise open_error(path, exc) from None
    except OSError as exc:
        raise BadInputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        with container:
            return _describe(container, path, sha256, size)
    except av.FFmpegError as exc:
        raise CorruptMediaError(f"{path}: damaged media ({_reason(exc)})") from None
    except OSError as exc:
        raise BadInputError(f"{path}: cannot read ({exc.strerror or exc})") from None


def _reason(exc: av.FFmpegError) -> str:
    return exc.strerror or str(exc)


def open_error(path: Path, exc: av.FFmpegError) -> BadInputError:
    """Damaged media when the file starts like a container FFmpeg knows, not media otherwise."""
    try:
        with path.open("rb") as f:
            head = f.read(_TS_PACKET + 1)
    except OSError as err:
        return BadInputError(f"{path}: cannot read ({err.strerror or err})")
    mpeg_ts = len(head) > _TS_PACKET and head[0] == head[_TS_PACKET] == 0x47  # two packet sync bytes
    if head[4:8] in ISO_BMFF_BOXES or head.startswith(_MEDIA_MAGIC) or mpeg_ts:
        return CorruptMediaError(f"{path}: damaged or truncated media ({_reason(exc)})")
    return NotMediaError(f"{path}: not a media file FFmpeg can read ({_reason(exc)})")


def _describe(container: InputContainer, path: Path, sha256: str, size: int) -> MediaInfo:
    if IMAGE_DEMUXER.match(container.format.name):
        raise NotMediaError(f"{path}: a still image, not a video", hint="photos are read by exif.read_exif")
    videos = [s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic]
    if not videos:
        raise NotMediaError(f"{path}: no video stream")
    video = videos[0]
    width, height = video.codec_context.width, video.codec_context.height
    if width <= 0 or height <= 0:
        raise CorruptMediaError(f"{path}: the video stream has no picture size")
    rotation = _tag_rotation(video)
    with path.open("rb") as f:
        if _is_truncated(f, size):
            raise CorruptMediaError(f"{path}: truncated: the file is shorter than its container says")
        if rotation is None and looks_iso_bmff(f):
            rotation = _track_rotations(f, size).get(video.id)
    audio = container.streams.audio[0] if container.streams.audio else None
    tags = _raw_tags(container)
    found = _lookup(container.metadata, video.metadata)
    # The software is the file's (a stream's "encoder" is the codec's name: Apple writes "H.264").
    software = _software(_lookup(container.metadata))
    caveats: list[str] = []
    created_at, location = _created_at(found, caveats), _location(found, caveats)
    info = MediaInfo(
        sha256=sha256,
        kind="video",
        container=container.format.name.split(",")[0],
        duration_s=_duration_s(container, video),
        width=width,
        height=height,
        fps=_fps(video),
        video_codec=video.codec_context.name,
        audio_codec=audio.codec_context.name if audio is not None else None,
        bit_rate=container.bit_rate or None,
        rotation_deg=rotation or 0,
        created_at=created_at,
        location=location,
        make=_first(found, _MAKE_KEYS),
        model=_first(found, _MODEL_KEYS),
        software=software,
        raw_tags=tags,
        caveats=tuple(caveats),
    )
    return describe_video(info, path)


def _raw_tags(container: InputContainer) -> tuple[tuple[str, str], ...]:
    tags = [(f"format:{key}", str(value)) for key, value in container.metadata.items()]
    for stream in container.streams:
        tags.extend((f"stream{stream.index}:{key}", str(value)) for key, value in stream.metadata.items())
    return tuple(tags)


def _lookup(*dicts: Mapping[str, str]) -> dict[str, str]:
    """Tags by lower-cased key, container first then stream, blank values dropped."""
    found: dict[str, str] = {}
    for tags in dicts:
        for key, value in tags.items():
            text = str(value).strip()
            if text:
                found.setdefault(key.lower(), text)
    return found


def _first(found: Mapping[str, str], keys: tuple[str, ...]) -> str | None:
    return next((found[k] for k in keys if k in found), None)


def _software(found: Mapping[str, str]) -> str | None:
    for key in _SOFTWARE_KEYS:
        if key in found:
            # Android writes only its version number ("6.0.1"); alone it would read as an app version.
            return f"Android {found[key]}" if key == "com.android.version" else found[key]
    return None


def _created_at(found: Mapping[str, str], caveats: list[str]) -> Timestamp | None:
    for key in _CREATED_KEYS:
        text = found.get(key)
        stamp = parse_container_time(text, "container")
        if stamp is not None:
            return stamp
        if text:
            caveats.append(
                f"tag {key} = {text[:60]!r} is not a plausible time (a placeholder, impossible"
                " or in the future): not used"
            )
    return None


def _location(found: Mapping[str, str], caveats: list[str]) -> GeoPoint | None:
    for key in _LOCATION_KEYS:
        text = found.get(key)
        point = parse_iso6709(text)
        if point is not None:
            return point
        if text:
            caveats.append(
                f"tag {key} = {text[:60]!r} is not a usable location (malformed, out of range, or"
                " 0,0 as written without a fix): not used"
            )
    return None


def parse_iso6709(text: str | None) -> GeoPoint | None:
    """An ISO 6709 point (``"+32.0929+034.8620+028.516/"``) as decimal degrees and metres.

    None when absent, malformed, out of range, or exactly 0,0 (what devices write without a fix).
    """
    match = _ISO6709_RE.match((text or "").strip())
    if match is None:
        return None
    try:
        lat = _iso6709_degrees(match["lat"], 2)
        lon = _iso6709_degrees(match["lon"], 3)
        alt = float(match["alt"]) if match["alt"] else None
    except ValueError:
        return None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180) or (lat == 0 and lon == 0):
        return None
    return GeoPoint(lat, lon, alt, "container")


def _iso6709_degrees(signed: str, degree_digits: int) -> float:
    """``±DD.D``, ``±DDMM.M`` or ``±DDMMSS.S`` (three degree digits for longitude) as degrees."""
    sign = -1.0 if signed[0] == "-" else 1.0
    whole, _, frac = signed[1:].partition(".")
    extra = len(whole) - degree_digits
    if extra not in (0, 2, 4):
        raise ValueError(signed)
    number = float(f"{whole}.{frac}" if frac else whole)
    if extra == 0:
        return sign * number
    degrees, rest = divmod(number, 10**extra)
    minutes, seconds = divmod(rest, 100) if extra == 4 else (rest, 0.0)
    return sign * (degrees + minutes / 60 + seconds / 3600)


def _duration_s(container: InputContainer, video: Stream) -> float | None:
    """The footage's duration: the video stream's own span.  The container's is the longest stream's
    from the earliest start, so a telemetry track or audio starting first would lengthen it."""
    if video.duration and video.duration > 0 and video.time_base:
        return float(video.duration * video.time_base)
    if container.duration and container.duration > 0:
        return container.duration / av.time_base
    return _duration_from_packets(container, video)


def _duration_from_packets(container: InputContainer, video: Stream) -> float | None:
    """The span of the video packets' presentation times, for files whose header states no duration
    (browser MediaRecorder WebM).  Packets are read, never decoded."""
    if not video.time_base:
        return None
    first, last = None, None
    for packet in container.demux(video):
        if packet.pts is None:
            continue
        end = packet.pts + (packet.duration or 0)
        first = packet.pts if first is None else min(first, packet.pts)
        last = end if last is None else max(last, end)
    if first is None or last is None or last <= first:
        return None
    return float((last - first) * video.time_base)


def _fps(video: Stream) -> float | None:
    # The average rate is frames over duration (29.988 for an iPhone clip); the guessed rate is the
    # nominal one and serves when the container gives no frame count.
    for rate in (video.average_rate, video.guessed_rate):
        if rate:
            return float(rate)
    return None


def _tag_rotation(video: Stream) -> int | None:
    """The ``rotate`` tag older FFmpeg builds derive from the display matrix (clockwise degrees)."""
    try:
        return int(float(video.metadata["rotate"])) % 360
    except (KeyError, ValueError):
        return None


def _is_truncated(f: BinaryIO, size: int) -> bool:
    """True when the container's own sizes run past the end of the file (an interrupted download).

    FFmpeg opens an MP4 cut inside ``mdat`` or an AVI cut anywhere without complaint; only decoding
    would notice, so the sizes the container declares are checked here instead.
    """
    f.seek(0)
    head = f.read(12)
    if head.startswith(b"RIFF"):
        declared = struct.unpack("<I", head[4:8])[0]
        # 0 and 0xFFFFFFFF are what writers leave when they could not seek back: size unknown.
        return declared not in (0, 0xFFFFFFFF) and declared + 8 > size
    if not looks_iso_bmff(f):
        return False
    # Only boxes a file is made of count: bytes appended after the last one (an HTML page glued to a
    # video, a polyglot) can read as a "box" of any size, and a video with a tail is not truncated.
    return any(end > size for kind, _, end in boxes(f, 0, size, clip=False) if kind in _TOP_LEVEL_BOXES)


# Top-level ISO BMFF / QuickTime boxes (ISO/IEC 14496-12 and Apple's QuickTime File Format).
_TOP_LEVEL_BOXES = ISO_BMFF_BOXES | {
    b"uuid",
    b"meta",
    b"sidx",
    b"moof",
    b"mfra",
    b"pdin",
    b"prft",
    b"emsg",
    b"ssix",
}


def _track_rotations(f: BinaryIO, size: int) -> dict[int, int]:
    """Track id -> clockwise rotation from each ``moov/trak/tkhd`` display matrix.

    PyAV 18 exposes the display matrix only on decoded frames; reading the 36-byte matrix from the
    track header avoids decoding.  The angle is FFmpeg's: atan2(b, a) of the matrix [a b u; c d v].
    """
    rotations: dict[int, int] = {}
    for kind, moov_start, moov_end in boxes(f, 0, size):
        if kind != b"moov":
            continue
        for trak_kind, trak_start, trak_end in boxes(f, moov_start, moov_end):
            if trak_kind != b"trak":
                continue
            for tkhd_kind, tkhd_start, tkhd_end in boxes(f, trak_start, trak_end):
                if tkhd_kind == b"tkhd":
                    f.seek(tkhd_start)
                    parsed = _tkhd_rotation(f.read(tkhd_end - tkhd_start))
                    if parsed is not None:
                        rotations[parsed[0]] = parsed[1]
    return rotations


def _tkhd_rotation(payload: bytes) -> tuple[int, int] | None:
    """(track id, clockwise degrees) of a ``tkhd`` payload, None when it is too short."""
    if not payload:
        return None
    # Version 1 widens the two times and the duration to 64 bits.
    track_id_at, matrix_at = (20, 52) if payload[0] == 1 else (12, 40)
    if len(payload) < matrix_at + 36:
        return None
    track_id = struct.unpack(">I", payload[track_id_at : track_id_at + 4])[0]
    a, b = struct.unpack(">ii", payload[matrix_at : matrix_at + 8])
    if a == 0 and b == 0:
        return None
    return track_id, round(math.degrees(math.atan2(b, a))) % 360
