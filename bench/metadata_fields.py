"""Which `info` field is compared with which ExifTool tag, and how (bench/metadata.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Record = dict[str, Any]


def first(et: Record, *names: str) -> Any:
    """The first of these tags ExifTool gave (``"Group:Tag"``, or ``"*:Tag"`` for any group)."""
    for name in names:
        group, _, tag = name.partition(":")
        for key, value in et.items():
            if (key == name or (group == "*" and key.split(":")[-1] == tag)) and value not in ("", None):
                return value
    return None


def video_track_duration(et: Record) -> float | None:
    for key, value in et.items():
        if key.endswith(":HandlerType") and value == "vide":
            return et.get(key.replace("HandlerType", "TrackDuration"))
    return first(et, "Matroska:Duration", "RIFF:Duration", "*:Duration")


def _date(value: Any) -> str:
    text = str(value).replace("-", ":").replace("T", " ")
    return text[:19]


def _number(value: Any) -> float:
    """A number, or ``HH:MM:SS.fff`` (ExifTool's Matroska durations) in seconds."""
    text = str(value)
    if text.count(":") == 2:
        hours, minutes, seconds = text.split(":")
        return int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    return float(text)


def _near(tolerance: float) -> Callable[[Any, Any], bool]:
    return lambda a, b: abs(_number(a) - _number(b)) <= tolerance


def _same_text(a: Any, b: Any) -> bool:
    return str(a).strip() == str(b).strip()


def _serial(a: Any, b: Any) -> bool:
    return str(a).strip().lstrip("0") == str(b).strip().lstrip("0")


def _same_date(a: Any, b: Any) -> bool:
    return _date(a) == _date(b)


def _claim(record: Record, origin: str) -> str | None:
    return next((t["text"] for t in record["times"] if t["origin"] == origin), None)


def _thumb(record: Record, origin: str) -> int | None:
    return next((t["size_bytes"] for t in record["thumbnails"] if t["origin"] == origin), None)


def _raw(record: Record, tag: str) -> Any:
    return (
        record["raw_tags"].get(tag)
        if isinstance(record["raw_tags"], dict)
        else dict(record["raw_tags"]).get(tag)
    )


def _get(record: Record, *path: str) -> Any:
    for key in path:
        record = record.get(key) if isinstance(record, dict) else None  # type: ignore[assignment]
    return record


# (field, our value, ExifTool's value, comparison)
FIELDS: list[tuple[str, Callable[[Record], Any], Callable[[Record], Any], Callable[[Any, Any], bool]]] = [
    # Stored picture size: ExifTool's track ImageWidth is the display size (tkhd), SourceImageWidth the
    # coded one (stsd), which is what provenance reports.
    (
        "width",
        lambda r: r["width"],
        lambda e: first(e, "File:ImageWidth", "*:SourceImageWidth", "*:ImageWidth"),
        _near(0),
    ),
    (
        "height",
        lambda r: r["height"],
        lambda e: first(e, "File:ImageHeight", "*:SourceImageHeight", "*:ImageHeight"),
        _near(0),
    ),
    ("duration_s", lambda r: r["duration_s"], video_track_duration, _near(0.05)),
    ("make", lambda r: r["make"], lambda e: first(e, "IFD0:Make", "Keys:Make", "*:Make"), _same_text),
    (
        "model",
        lambda r: r["model"],
        lambda e: first(e, "IFD0:Model", "Keys:Model", "GoPro:Model", "*:Model"),
        _same_text,
    ),
    (
        "lat",
        lambda r: r["location"] and r["location"]["lat"],
        lambda e: first(e, "Composite:GPSLatitude"),
        _near(1e-4),
    ),
    (
        "lon",
        lambda r: r["location"] and r["location"]["lon"],
        lambda e: first(e, "Composite:GPSLongitude"),
        _near(1e-4),
    ),
    (
        "DateTimeOriginal",
        lambda r: _raw(r, "EXIF DateTimeOriginal"),
        lambda e: first(e, "ExifIFD:DateTimeOriginal"),
        _same_date,
    ),
    (
        "OffsetTimeOriginal",
        lambda r: (
            _get(r, "created_at", "utc_offset_min")
            if _get(r, "created_at", "source") == "exif"
            and "OffsetTimeOriginal" in (r["created_at_why"] or "")
            else None
        ),
        lambda e: _offset_min(first(e, "ExifIFD:OffsetTimeOriginal")),
        _near(0),
    ),
    (
        "movie header CreateDate",
        lambda r: _unset_1970(_get(r, "quicktime", "movie_created")),
        lambda e: _unset_0000(first(e, "QuickTime:CreateDate")),
        _same_date,
    ),
    (
        "Apple CreationDate",
        lambda r: _claim(r, "Apple creationdate"),
        lambda e: first(e, "Keys:CreationDate"),
        _same_date,
    ),
    (
        "udta date",
        lambda r: _get(r, "quicktime", "date"),
        lambda e: first(e, "UserData:DateTimeOriginal"),
        _same_date,
    ),
    (
        "GPS first fix time",
        lambda r: _get(r, "telemetry", "first_fix", "utc"),
        lambda e: e.get("first GPSDateTime"),
        _same_date,
    ),
    (
        "XMP CreatorTool",
        lambda r: _get(r, "xmp", "creator_tool"),
        lambda e: first(e, "XMP-xmp:CreatorTool"),
        _same_text,
    ),
    (
        "XMP DocumentID",
        lambda r: _get(r, "xmp", "document_id"),
        lambda e: first(e, "XMP-xmpMM:DocumentID"),
        _same_text,
    ),
    (
        "XMP InstanceID",
        lambda r: _get(r, "xmp", "instance_id"),
        lambda e: first(e, "XMP-xmpMM:InstanceID"),
        _same_text,
    ),
    (
        "XMP OriginalDocumentID",
        lambda r: _get(r, "xmp", "original_document_id"),
        lambda e: first(e, "XMP-xmpMM:OriginalDocumentID"),
        _same_text,
    ),
    (
        "XMP DerivedFromDocumentID",
        lambda r: _get(r, "xmp", "derived_from_document_id"),
        lambda e: first(e, "XMP-xmpMM:DerivedFromDocumentID"),
        _same_text,
    ),
    (
        "XMP history actions",
        lambda r: _history(r),
        lambda e: _list(first(e, "XMP-xmpMM:HistoryAction")),
        _same_text,
    ),
    (
        "IPTC Keywords",
        lambda r: ", ".join(_get(r, "iptc", "keywords") or []) or None,
        lambda e: _list(first(e, "IPTC:Keywords")),
        _same_text,
    ),
    ("IPTC City", lambda r: _get(r, "iptc", "city"), lambda e: first(e, "IPTC:City"), _same_text),
    (
        "IPTC Country",
        lambda r: _get(r, "iptc", "country"),
        lambda e: first(e, "IPTC:Country-PrimaryLocationName"),
        _same_text,
    ),
    (
        "body serial",
        lambda r: _get(r, "makernotes", "body_serial"),
        lambda e: first(
            e, "ExifIFD:SerialNumber", "Canon:SerialNumber", "Nikon:SerialNumber", "GoPro:CameraSerialNumber"
        ),
        _serial,
    ),
    (
        "lens serial",
        lambda r: _get(r, "makernotes", "lens_serial"),
        lambda e: first(e, "ExifIFD:LensSerialNumber", "UserData:LensSerialNumber"),
        _serial,
    ),
    (
        "owner",
        lambda r: _get(r, "makernotes", "owner"),
        lambda e: first(e, "Canon:OwnerName", "ExifIFD:OwnerName"),
        _same_text,
    ),
    (
        "Apple MediaGroupUUID",
        lambda r: _get(r, "apple", "media_group_uuid"),
        lambda e: first(e, "Apple:MediaGroupUUID"),
        _same_text,
    ),
    (
        "EXIF thumbnail bytes",
        lambda r: _thumb(r, "exif thumbnail"),
        lambda e: first(e, "IFD1:ThumbnailLength"),
        _near(0),
    ),
    (
        "MPO image 2 bytes",
        lambda r: _thumb(r, "mpo image 2"),
        lambda e: first(e, "MPImage2:MPImageLength"),
        _near(0),
    ),
    (
        "QuickTime title",
        lambda r: _get(r, "quicktime", "title"),
        lambda e: first(e, "UserData:Title"),
        _same_text,
    ),
    (
        "QuickTime author",
        lambda r: _get(r, "quicktime", "author"),
        lambda e: first(e, "UserData:Author"),
        _same_text,
    ),
    (
        "iMovie clip name",
        lambda r: _get(r, "quicktime", "clip_name"),
        lambda e: first(e, "UserData:ClipFileName"),
        _same_text,
    ),
    (
        "Matroska MuxingApp",
        lambda r: _get(r, "matroska", "muxing_app"),
        lambda e: first(e, "Matroska:MuxingApp"),
        _same_text,
    ),
    (
        "Matroska WritingApp",
        lambda r: _get(r, "matroska", "writing_app"),
        lambda e: first(e, "Matroska:WritingApp"),
        _same_text,
    ),
]


def _unset_1970(text: Any) -> Any:
    """A movie header of 1970-01-01 (0 s after the Unix epoch) is the placeholder old muxers write."""
    return None if text and str(text).startswith("1970-01-01") else text


def _unset_0000(text: Any) -> Any:
    """ExifTool prints a movie header time of 0, and the 1970 placeholder, as 0000:00:00."""
    return None if text and str(text).startswith("0000") else text


def _offset_min(text: Any) -> int | None:
    if not text or len(str(text)) < 6:
        return None
    s = str(text)
    return (-1 if s[0] == "-" else 1) * (int(s[1:3]) * 60 + int(s[4:6]))


def _list(value: Any) -> str | None:
    if value in (None, ""):
        return None
    return ", ".join(map(str, value)) if isinstance(value, list) else str(value)


def _history(record: Record) -> str | None:
    events = _get(record, "xmp", "history") or []
    return ", ".join(e["action"] or "" for e in events) or None
