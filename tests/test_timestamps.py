"""Timestamp parsing: container and EXIF strings, offsets, placeholders, precision."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from provenance.timestamps import (
    from_epoch_s,
    from_yyyymmdd,
    is_plausible,
    parse_container_time,
    parse_exif_time,
    parse_utc_offset,
)


@pytest.mark.parametrize(
    ("text", "minutes"),
    [("+02:00", 120), ("+0300", 180), ("-05:00", -300), ("+05:30", 330), ("-06", -360), ("Z", 0)],
)
def test_utc_offsets(text: str, minutes: int) -> None:
    assert parse_utc_offset(text) == minutes


@pytest.mark.parametrize("text", [None, "", "   :  ", "+25:00", "+02:75", "02:00", "junk"])
def test_unreadable_offsets_are_none(text: str | None) -> None:
    assert parse_utc_offset(text) is None


def test_mp4_creation_time_is_utc() -> None:
    stamp = parse_container_time("2019-07-24T08:25:57.000000Z")
    assert stamp is not None
    assert stamp.value == datetime(2019, 7, 24, 8, 25, 57, tzinfo=UTC)
    assert (stamp.precision, stamp.source) == ("second", "container")
    assert (stamp.utc_offset_min, stamp.local) == (0, False)


def test_apple_creationdate_keeps_its_offset() -> None:
    stamp = parse_container_time("2019-07-24T11:25:40+0300")
    assert stamp is not None
    assert stamp.value == datetime(2019, 7, 24, 8, 25, 40, tzinfo=UTC)
    assert stamp.utc_offset_min == 180
    assert not stamp.local


def test_time_without_zone_is_local() -> None:
    stamp = parse_container_time("2012-09-10 20:52:00")
    assert stamp is not None
    assert stamp.value == datetime(2012, 9, 10, 20, 52, tzinfo=UTC)
    assert stamp.local and stamp.utc_offset_min is None


def test_precision_follows_the_text() -> None:
    day = parse_container_time("2019-07-24")
    minute = parse_container_time("2019-07-24T11:25+03:00")
    assert day is not None and day.precision == "day"
    assert minute is not None and minute.precision == "minute"
    assert minute.value == datetime(2019, 7, 24, 8, 25, tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    [
        "1970-01-01T00:00:00.000000Z",  # what old muxers write when they know nothing
        "1904-01-01T00:00:00.000000Z",  # QuickTime's epoch, a zero in the header
        "2019-02-30T10:00:00Z",
        "2019-13-01T10:00:00Z",
        "2019-07-24T10:00:00+99:00",
        "yesterday",
        "",
        None,
    ],
)
def test_placeholders_and_impossible_container_times_are_none(text: str | None) -> None:
    assert parse_container_time(text) is None


def test_future_container_time_is_none() -> None:
    future = datetime.now(UTC) + timedelta(days=800)
    assert parse_container_time(future.strftime("%Y-%m-%dT%H:%M:%SZ")) is None


def test_exif_time_with_offset() -> None:
    stamp = parse_exif_time("2015:04:10 20:12:23", "+02:00")
    assert stamp is not None
    assert stamp.value == datetime(2015, 4, 10, 18, 12, 23, tzinfo=UTC)
    assert (stamp.precision, stamp.source) == ("second", "exif")
    assert (stamp.utc_offset_min, stamp.local) == (120, False)


def test_exif_time_without_offset_is_the_wall_clock() -> None:
    stamp = parse_exif_time("2015:04:10 20:12:23")
    assert stamp is not None
    assert stamp.value == datetime(2015, 4, 10, 20, 12, 23, tzinfo=UTC)
    assert stamp.local and stamp.utc_offset_min is None


def test_exif_time_with_blank_offset_is_local() -> None:
    stamp = parse_exif_time("2015:04:10 20:12:23\x00", "   :  ")
    assert stamp is not None and stamp.local


@pytest.mark.parametrize("text", ["0000:00:00 00:00:00", "    :  :     :  :  ", "1970:01:01 00:00:00", ""])
def test_blank_and_placeholder_exif_times_are_none(text: str) -> None:
    assert parse_exif_time(text, "+01:00") is None


def test_earlier_helpers_unchanged() -> None:
    epoch = from_epoch_s(1_563_956_757)
    assert epoch is not None and epoch.value == datetime(2019, 7, 24, 8, 25, 57, tzinfo=UTC)
    assert from_epoch_s(0) is None
    day = from_yyyymmdd("20190724")
    assert day is not None and day.precision == "day" and day.latest().day == 24


def test_plausibility_on_29_february() -> None:
    leap_day = datetime(2028, 2, 29, tzinfo=UTC)
    assert is_plausible(leap_day, now=leap_day)


@pytest.mark.parametrize(
    "text", ["9999-12-31T23:59:59-1200", "0001-01-01T00:00:00+1400", "9999-12-31T23:59:59"]
)
def test_times_past_the_ends_of_the_calendar_are_absent(text: str) -> None:
    assert parse_container_time(text) is None
