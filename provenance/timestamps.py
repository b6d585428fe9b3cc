"""Timestamps from platforms, containers and EXIF, each with its precision and source.

Placeholder dates that encoders write when they know nothing (1970-01-01, 1904-01-01) and other
impossible dates become None: a missing time is better evidence than a wrong one.
"""

from __future__ import annotations

from datetime import datetime, timezone

from .models import Timestamp, TimeSource

# Earliest plausible date for a digital recording; anything before it is a placeholder or garbage.
EARLIEST_PLAUSIBLE = datetime(1990, 1, 1, tzinfo=timezone.utc)


def is_plausible(value: datetime, *, now: datetime | None = None) -> bool:
    """False for placeholder epochs (1970, 1904), dates before 1990 and dates in the future."""
    now = now or datetime.now(timezone.utc)
    return EARLIEST_PLAUSIBLE <= value <= now.replace(year=now.year + 1)


def from_epoch_s(seconds: float | int | None, source: TimeSource = "platform") -> Timestamp | None:
    """A Unix time in seconds, as platforms give it (yt-dlp `timestamp`): second precision."""
    if seconds is None:
        return None
    try:
        value = datetime.fromtimestamp(float(seconds), tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None
    return Timestamp(value, "second", source, utc_offset_min=0) if is_plausible(value) else None


def from_yyyymmdd(text: str | None, source: TimeSource = "platform") -> Timestamp | None:
    """A date as ``YYYYMMDD`` (yt-dlp `upload_date`): day precision, the whole UTC day."""
    if not text:
        return None
    try:
        value = datetime.strptime(str(text), "%Y%m%d").replace(tzinfo=timezone.utc)
    except ValueError:
        return None
    return Timestamp(value, "day", source) if is_plausible(value) else None
