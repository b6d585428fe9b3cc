"""Timestamps from platforms, containers and EXIF, each with its precision and source.

Placeholder dates that encoders write when they know nothing (1970-01-01, 1904-01-01) and other
impossible dates become None: a missing time is better evidence than a wrong one.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

from .models import Precision, TimeSource, Timestamp

# Earliest plausible date for a digital recording; anything before it is a placeholder or garbage.
EARLIEST_PLAUSIBLE = datetime(1990, 1, 1, tzinfo=UTC)


def is_plausible(value: datetime, *, now: datetime | None = None) -> bool:
    """False for placeholder epochs (1970, 1904), dates before 1990 and dates in the future."""
    now = now or datetime.now(UTC)
    # A year of slack for clocks set wrong; timedelta, not replace(year=...), which fails on 29 February.
    return EARLIEST_PLAUSIBLE <= value <= now + timedelta(days=366)


def from_epoch_s(seconds: float | int | None, source: TimeSource = "platform") -> Timestamp | None:
    """A Unix time in seconds, as platforms give it (yt-dlp `timestamp`): second precision."""
    if seconds is None:
        return None
    try:
        value = datetime.fromtimestamp(float(seconds), tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None
    return Timestamp(value, "second", source, utc_offset_min=0) if is_plausible(value) else None


def from_yyyymmdd(text: str | None, source: TimeSource = "platform") -> Timestamp | None:
    """A date as ``YYYYMMDD`` (yt-dlp `upload_date`): day precision, the whole UTC day."""
    if not text:
        return None
    try:
        value = datetime.strptime(str(text), "%Y%m%d").replace(tzinfo=UTC)
    except ValueError:
        return None
    return Timestamp(value, "day", source) if is_plausible(value) else None


# Date, optional time (seconds and fraction optional), optional zone.  Dates may use "-" (ISO 8601,
# FFmpeg) or ":" (EXIF); the zone may be "Z", "+03:00", "+0300" (Apple) or "+03".
_TIME_RE = re.compile(
    r"""^(?P<y>\d{4})[-:](?P<mo>\d{2})[-:](?P<d>\d{2})
    (?:[T\x20]+(?P<h>\d{2}):(?P<mi>\d{2})(?::(?P<s>\d{2})(?:[.,](?P<frac>\d+))?)?)?
    \s*(?P<zone>Z|[+-]\d{2}(?::?\d{2})?)?$""",
    re.VERBOSE,
)
_OFFSET_RE = re.compile(r"^(?P<sign>[+-])(?P<h>\d{2})(?::?(?P<m>\d{2}))?$")
# Real zones run from UTC-12:00 to UTC+14:00; anything wider is a broken tag, not a zone.
_MAX_OFFSET_MIN = 14 * 60


def parse_utc_offset(text: str | None) -> int | None:
    """A UTC offset (``"+02:00"``, ``"+0200"``, ``"-05"``, ``"Z"``) in minutes east of UTC.

    None when absent or malformed (EXIF writers leave ``"   :  "`` when they do not know).
    """
    if text is None:
        return None
    text = text.strip().strip("\x00").strip()
    if text.upper() == "Z":
        return 0
    match = _OFFSET_RE.match(text)
    if match is None:
        return None
    minutes = int(match["h"]) * 60 + int(match["m"] or 0)
    if int(match["m"] or 0) >= 60 or minutes > _MAX_OFFSET_MIN:
        return None
    return -minutes if match["sign"] == "-" else minutes


def _parse_wall_time(text: str) -> tuple[datetime, Precision, str | None] | None:
    """The naive wall time, its precision and the zone text of a date-time string, or None."""
    match = _TIME_RE.match(text.strip().strip("\x00").strip())
    if match is None:
        return None
    precision: Precision = "day" if match["h"] is None else "minute" if match["s"] is None else "second"
    micro = int((match["frac"] or "0")[:6].ljust(6, "0"))
    try:
        value = datetime(
            int(match["y"]),
            int(match["mo"]),
            int(match["d"]),
            int(match["h"] or 0),
            int(match["mi"] or 0),
            int(match["s"] or 0),
            micro,
        )
    except ValueError:  # "0000:00:00 00:00:00", month 13, February 30: impossible dates
        return None
    return value, precision, match["zone"]


def _stamp(
    wall: datetime, precision: Precision, offset_min: int | None, source: TimeSource
) -> Timestamp | None:
    """A Timestamp from a wall time and its offset; a time without offset stays local (see Timestamp)."""
    try:
        if offset_min is None:
            stamp = Timestamp(wall.replace(tzinfo=UTC), precision, source, local=True)
        else:
            zone = timezone(timedelta(minutes=offset_min))
            value = wall.replace(tzinfo=zone).astimezone(UTC)
            stamp = Timestamp(value, precision, source, utc_offset_min=offset_min)
    except OverflowError:  # 9999-12-31 at -12:00, 0001-01-01 at +14:00: past the ends of datetime
        return None
    return stamp if is_plausible(stamp.value) else None


def parse_container_time(text: str | None, source: TimeSource = "container") -> Timestamp | None:
    """A container time string as FFmpeg reports it.

    ``"2019-07-24T08:25:57.000000Z"`` (MP4 ``creation_time``: UTC), ``"2019-07-24T11:25:40+0300"``
    (Apple ``creationdate``: local time with its offset) and ``"2012-09-10 20:52:00"`` (AVI: the
    camera's local time, no zone, so ``local=True``).  Placeholders (1970, 1904), impossible and
    future dates give None.
    """
    if not text:
        return None
    parsed = _parse_wall_time(text)
    if parsed is None:
        return None
    wall, precision, zone = parsed
    offset = parse_utc_offset(zone) if zone else None
    if zone and offset is None:
        return None  # a zone we cannot read would make any value a guess
    return _stamp(wall, precision, offset, source)


def parse_exif_time(
    text: str | None, offset: str | None = None, source: TimeSource = "exif"
) -> Timestamp | None:
    """An EXIF date-time (``"2015:04:10 20:12:23"``) with its ``OffsetTime*`` tag (``"+02:00"``).

    EXIF times are the camera's wall clock: with a readable offset the result is UTC with
    ``utc_offset_min``; without one it is the wall time marked UTC with ``local=True``.  Blank
    (``"    :  :     :  :  "``), zero and implausible dates give None.
    """
    if not text:
        return None
    parsed = _parse_wall_time(text)
    if parsed is None:
        return None
    wall, precision, zone = parsed
    offset_min = parse_utc_offset(zone) if zone else parse_utc_offset(offset)
    return _stamp(wall, precision, offset_min, source)
