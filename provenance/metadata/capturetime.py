"""Which of the times a file states is its capture time, and why; and which stated times disagree.

Every time is kept as a TimeClaim with its origin and how its zone is known (``basis``).  The
chosen ``created_at`` prefers, for videos, satellite time recorded with the footage (GoPro GPMF),
then a device time that carries its zone (Apple ``creationdate``, the ``udta date`` phones write),
then the movie header, then a zone-less clock; for photos, EXIF with its offset (OffsetTimeOriginal,
or the maker note's time zone), then the camera clock with the zone its GPS time implies, then the
camera clock alone.  XMP and IPTC times are kept but never chosen: editors write them (an export
time, or a zone they did not know).

A movie header is UTC by the MP4 rule, but cameras set it from a clock nobody checked.  When it
disagrees with a zoned or satellite time by more than ``AGREE_S`` it is reported in a caveat, as a
camera clock left on local time when the gap is a whole time-zone offset ("off by -8 h").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import UTC, timedelta, timezone

from ..models import MediaInfo, TimeBasis, TimeClaim, Timestamp, utc_iso
from ..timestamps import is_plausible, parse_container_time, parse_exif_time

# A stated time within this of the chosen one agrees with it (clocks tick in whole seconds, and
# writers stamp the start or the end of a short recording).
AGREE_S = 5
# A gap this close to a whole number of quarter hours is a clock set to local time.
ZONE_SLACK_S = 120
_QUARTER_H = 900
_MAX_ZONE_S = 14 * 3600


def _claim(origin: str, stamp: Timestamp | None, text: str, meaning: str = "capture") -> TimeClaim | None:
    if stamp is None:
        return None
    basis: TimeBasis = "local" if stamp.local else "zone"
    return TimeClaim(origin, stamp, basis, text, meaning)


def video_claims(info: MediaInfo) -> list[TimeClaim]:
    """Every time a video states: device keys, user data, telemetry, headers, XMP."""
    tags = dict(info.raw_tags)
    claims: list[TimeClaim | None] = []
    if info.telemetry is not None and info.telemetry.start_utc is not None:
        start = info.telemetry.start_utc.astimezone(UTC)
        # Second precision: GPS time is exact, but a payload's first sample is placed within it.
        stamp = Timestamp(start.replace(microsecond=0), "second", "telemetry", utc_offset_min=0)
        first = info.telemetry.first_fix
        text = utc_iso(first.utc) if first and first.utc else utc_iso(start)
        claims.append(TimeClaim("GPMF GPS time at the footage's start", stamp, "satellite", text))
    apple = tags.get("format:com.apple.quicktime.creationdate")
    claims.append(_claim("Apple creationdate", parse_container_time(apple), apple or ""))
    date = info.quicktime.date if info.quicktime else None
    claims.append(_claim("udta date", parse_container_time(date), date or ""))
    header = tags.get("format:creation_time")
    stamp = parse_container_time(header)
    if stamp is not None:
        iso_bmff = info.quicktime is not None
        basis: TimeBasis = "header" if iso_bmff or not stamp.local else "local"
        origin = "movie header creation_time" if iso_bmff else "container creation_time"
        claims.append(TimeClaim(origin, stamp, basis, header or "", "capture"))
    if info.matroska is not None and info.matroska.date_utc:
        stamp = parse_container_time(info.matroska.date_utc)
        if stamp is not None:
            claims.append(
                TimeClaim("Matroska DateUTC", stamp, "header", info.matroska.date_utc, "file written")
            )
    claims.extend(_xmp_claims(info))
    return [c for c in claims if c is not None]


def photo_claims(info: MediaInfo) -> list[TimeClaim]:
    """Every time a photo states: EXIF (with its offset or the maker note's zone), GPS, IPTC, XMP."""
    tags = dict(info.raw_tags)
    taken = tags.get("EXIF DateTimeOriginal")
    offset = tags.get("EXIF OffsetTimeOriginal")
    claims: list[TimeClaim | None] = []
    stamp = parse_exif_time(taken, offset)
    if stamp is not None and not stamp.local:
        claims.append(_claim("EXIF DateTimeOriginal + OffsetTimeOriginal", stamp, f"{taken} {offset}"))
    elif stamp is not None:
        zone = info.makernotes.time_zone_min if info.makernotes else None
        if zone is not None:
            zoned = _with_offset(stamp, zone)
            claims.append(
                _claim("EXIF DateTimeOriginal + maker-note time zone", zoned, f"{taken} {_hhmm(zone)}")
            )
        claims.append(TimeClaim("EXIF DateTimeOriginal", stamp, "local", taken or ""))
    claims.append(_gps_claim(tags))
    digitized = tags.get("EXIF DateTimeDigitized")
    claims.append(
        _claim(
            "EXIF DateTimeDigitized",
            parse_exif_time(digitized, tags.get("EXIF OffsetTimeDigitized")),
            digitized or "",
            "digitized",
        )
    )
    changed = tags.get("Image DateTime")
    claims.append(
        _claim(
            "EXIF DateTime",
            parse_exif_time(changed, tags.get("EXIF OffsetTime")),
            changed or "",
            "file changed",
        )
    )
    if info.iptc is not None and info.iptc.date_created:
        text = f"{info.iptc.date_created} {info.iptc.time_created or ''}".strip()
        claims.append(
            _claim(
                "IPTC DateCreated + TimeCreated",
                parse_container_time(text),
                text,
                "capture (as an editor wrote it)",
            )
        )
    claims.extend(_xmp_claims(info))
    return [c for c in claims if c is not None]


def _xmp_claims(info: MediaInfo) -> Iterable[TimeClaim]:
    if info.xmp is None:
        return []
    found = dict(info.xmp.properties)
    fields = (
        (
            "XMP photoshop:DateCreated",
            found.get("Xmp.photoshop.DateCreated"),
            "capture (as an editor wrote it)",
        ),
        ("XMP xmp:CreateDate", info.xmp.create_date, "created (as the writing software says)"),
        ("XMP xmp:ModifyDate", info.xmp.modify_date, "edited"),
        ("XMP xmp:MetadataDate", info.xmp.metadata_date, "metadata changed"),
    )
    claims = [_claim(o, parse_container_time(t, "xmp"), t or "", m) for o, t, m in fields]
    return [c for c in claims if c is not None]


_NUMBER = re.compile(r"(\d+)(?:/(\d+))?")


def _gps_claim(tags: Mapping[str, str]) -> TimeClaim | None:
    """EXIF GPSDateStamp + GPSTimeStamp (exifread prints the time as ``[14, 38, 2794/50]``): UTC."""
    date, clock = tags.get("GPS GPSDate"), tags.get("GPS GPSTimeStamp")
    if not date or not clock:
        return None
    parts = []
    for whole, denominator in _NUMBER.findall(clock)[:3]:
        if denominator == "0":
            return None
        parts.append(int(whole) / int(denominator or 1))
    if len(parts) != 3:
        return None
    hours, minutes, seconds = parts
    stamp = parse_exif_time(
        f"{date.strip()[:10]} {int(hours):02d}:{int(minutes):02d}:{int(seconds):02d}", "+00:00"
    )
    if stamp is None:
        return None
    return TimeClaim("EXIF GPSDateStamp + GPSTimeStamp", stamp, "satellite", f"{date} {clock}", "GPS fix")


def _with_offset(local: Timestamp, offset_min: int) -> Timestamp | None:
    """A zone-less wall time placed in a known zone."""
    try:
        wall = local.value.replace(tzinfo=timezone(timedelta(minutes=offset_min)))
    except ValueError:
        return None
    value = wall.astimezone(UTC)
    return (
        replace(local, value=value, utc_offset_min=offset_min, local=False) if is_plausible(value) else None
    )


def _hhmm(minutes: int) -> str:
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _span(seconds: float) -> str:
    seconds = abs(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = (
        (f"{hours} h " if hours else "")
        + (f"{minutes} min " if minutes else "")
        + (f"{secs} s" if secs else "")
    )
    return text.strip() or "0 s"


def _gap(seconds: float) -> str:
    """``"34 s later than"``, ``"7 h 59 min 43 s earlier than"``."""
    return f"{_span(seconds)} {'earlier' if seconds < 0 else 'later'} than"


def _zone_of(gap_s: float) -> int | None:
    """The whole time-zone offset (s) a clock gap is, or None when it is not one."""
    quarters = round(gap_s / _QUARTER_H)
    if quarters == 0 or abs(quarters * _QUARTER_H) > _MAX_ZONE_S:
        return None
    return quarters * _QUARTER_H if abs(gap_s - quarters * _QUARTER_H) <= ZONE_SLACK_S else None


def _why(claim: TimeClaim) -> str:
    stamp = claim.time
    zone = f" ({_hhmm(stamp.utc_offset_min)})" if stamp.utc_offset_min not in (None, 0) else ""
    if claim.basis == "satellite":
        return f"{claim.origin}: satellite UTC recorded with the footage"
    if claim.basis == "zone":
        return f"{claim.origin}: the device's time with its UTC offset{zone}"
    if claim.basis == "header":
        return f"{claim.origin}: UTC by the format's rule, set from the device's clock (unchecked)"
    return f"{claim.origin}: the device's wall clock without a zone (local time)"


def choose(claims: list[TimeClaim], kind: str) -> tuple[TimeClaim | None, str | None, list[str]]:
    """(chosen claim, why, caveats) among a file's claims."""
    capture = [c for c in claims if c.meaning == "capture"]
    by_basis = {b: [c for c in capture if c.basis == b] for b in ("satellite", "zone", "header", "local")}
    caveats: list[str] = []
    if kind == "video":
        order = ("satellite", "zone", "header", "local")
        chosen = next((by_basis[b][0] for b in order if by_basis[b]), None)
        why = _why(chosen) if chosen else None
    else:
        chosen, why = _photo_choice(by_basis, claims, caveats)
    # A photo's EXIF clocks are one clock with or without its offset; only a movie has a header
    # clock of its own to check.
    if kind == "video" and chosen is not None and chosen.basis in ("satellite", "zone"):
        caveats.extend(_disagreements(chosen, [*by_basis["header"], *by_basis["local"]]))
    return chosen, why, caveats


def _photo_choice(
    by_basis: dict[str, list[TimeClaim]], claims: list[TimeClaim], caveats: list[str]
) -> tuple[TimeClaim | None, str | None]:
    if by_basis["zone"]:
        return by_basis["zone"][0], _why(by_basis["zone"][0])
    clock = by_basis["local"][0] if by_basis["local"] else None
    gps = next((c for c in claims if c.origin.startswith("EXIF GPS")), None)
    if clock is None:
        return None, None
    if gps is not None:
        gap = (clock.time.value - gps.time.value).total_seconds()
        zone = _zone_of(gap) if abs(gap) > AGREE_S else 0
        if zone is not None:
            zoned = _with_offset(clock.time, zone // 60)
            if zoned is not None:
                chosen = TimeClaim(f"{clock.origin}, zone from its GPS time", zoned, "zone", clock.text)
                return chosen, f"{clock.origin} with the zone its GPS time implies ({_hhmm(zone // 60)})"
        caveats.append(
            f"EXIF GPS time {utc_iso(gps.time.value)} is {_gap(-gap)} the camera clock ({clock.text}),"
            " not a time-zone offset away: a stale fix or a position added later; the camera clock is kept as"
            " local time"
        )
    return clock, _why(clock)


def _disagreements(reference: TimeClaim, others: list[TimeClaim]) -> list[str]:
    found = []
    for other in others:
        if other.origin == reference.origin:
            continue
        gap = (other.time.value - reference.time.value).total_seconds()
        if abs(gap) <= AGREE_S:
            continue
        zone = _zone_of(gap)
        said = f"{other.origin} {other.text.strip()}"
        against = f"the {reference.origin} ({utc_iso(reference.time.value)})"
        if zone is not None:
            rest = gap - zone
            extra = (
                f" ({_span(rest)} {'earlier' if rest < 0 else 'later'} beyond the whole hours)"
                if abs(rest) > AGREE_S
                else ""
            )
            found.append(
                f"camera clock local, off by {zone / 3600:+g} h: {said} is {_gap(gap)} {against}{extra};"
                " not used as UTC"
            )
        else:
            found.append(f"{said} is {_gap(gap)} {against}: not used")
    return found


def with_capture_time(info: MediaInfo) -> MediaInfo:
    """The info with every stated time kept and ``created_at`` chosen among them, with its reason."""
    claims = video_claims(info) if info.kind == "video" else photo_claims(info)
    chosen, why, caveats = choose(claims, info.kind)
    return replace(
        info,
        times=tuple(claims),
        created_at=chosen.time if chosen else info.created_at,
        created_at_why=why,
        caveats=(*info.caveats, *caveats),
    )
