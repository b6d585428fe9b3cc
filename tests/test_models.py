"""Timestamps as intervals, and to_jsonable: the JSON contract of the CLI and the reports."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

from provenance.models import (
    AddResult,
    ArchivedMedia,
    ErrorInfo,
    GeoPoint,
    Match,
    MediaInfo,
    Precision,
    Segment,
    Timestamp,
    to_jsonable,
    utc_iso,
)

US = timedelta(microseconds=1)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("value", "precision", "earliest", "next_start"),
    [
        (utc(2020, 5, 3, 14, 15, 16), "second", utc(2020, 5, 3, 14, 15, 16), utc(2020, 5, 3, 14, 15, 17)),
        (utc(2020, 5, 3, 14, 15), "minute", utc(2020, 5, 3, 14, 15), utc(2020, 5, 3, 14, 16)),
        (utc(2020, 5, 3, 14), "hour", utc(2020, 5, 3, 14), utc(2020, 5, 3, 15)),
        (utc(2020, 5, 3), "day", utc(2020, 5, 3), utc(2020, 5, 4)),
        (utc(2020, 12, 31), "day", utc(2020, 12, 31), utc(2021, 1, 1)),
        (utc(2020, 2, 1), "month", utc(2020, 2, 1), utc(2020, 3, 1)),  # leap February
        (utc(2021, 2, 1), "month", utc(2021, 2, 1), utc(2021, 3, 1)),
        (utc(2020, 11, 1), "month", utc(2020, 11, 1), utc(2020, 12, 1)),
        (utc(2020, 12, 1), "month", utc(2020, 12, 1), utc(2021, 1, 1)),
        (utc(2020, 1, 1), "year", utc(2020, 1, 1), utc(2021, 1, 1)),
    ],
)
def test_timestamp_is_the_whole_interval_of_its_precision(
    value: datetime, precision: Precision, earliest: datetime, next_start: datetime
) -> None:
    stamp = Timestamp(value, precision, "platform")
    assert stamp.earliest() == earliest
    assert stamp.latest() == next_start - US
    assert stamp.earliest() <= stamp.latest()


def test_day_precision_is_not_midnight() -> None:
    # An upload "on 3 May" may be later than a second-precision time at noon on 3 May.
    day = Timestamp(utc(2020, 5, 3), "day", "platform")
    noon = Timestamp(utc(2020, 5, 3, 12), "second", "container")
    assert day.earliest() <= noon.earliest() <= day.latest()
    assert day.latest() == utc(2020, 5, 3, 23, 59, 59, 999_999)
    assert day.latest() < utc(2020, 5, 4)


def test_utc_iso_uses_z() -> None:
    assert utc_iso(utc(2020, 5, 3, 14, 15, 16)) == "2020-05-03T14:15:16Z"
    assert utc_iso(datetime(2020, 5, 3, 14, 15, 16)) == "2020-05-03T14:15:16Z"  # naive is UTC
    plus_three = timezone(timedelta(hours=3))
    assert utc_iso(datetime(2020, 5, 3, 14, 15, 16, tzinfo=plus_three)) == "2020-05-03T11:15:16Z"


def test_to_jsonable_top_level_type_and_nested_dataclasses() -> None:
    created = Timestamp(
        datetime(2019, 7, 24, 11, 25, 40, tzinfo=timezone(timedelta(hours=3))),
        "second",
        "container",
        utc_offset_min=180,
    )
    info = MediaInfo(
        sha256="a" * 64,
        kind="video",
        container="mov,mp4",
        duration_s=4.0,
        width=568,
        height=320,
        created_at=created,
        location=GeoPoint(32.0929, 34.862, 28.516, "container"),
        raw_tags=(("make", "Apple"),),
    )
    out = to_jsonable(info)
    assert out["type"] == "media_info"
    assert out["created_at"] == {
        "value": "2019-07-24T08:25:40Z",
        "precision": "second",
        "source": "container",
        "utc_offset_min": 180,
        "local": False,
    }
    assert out["location"] == {"lat": 32.0929, "lon": 34.862, "alt_m": 28.516, "source": "container"}
    assert out["raw_tags"] == [["make", "Apple"]]
    json.dumps(out)  # plain JSON values only


def test_to_jsonable_paths_datetimes_and_multiword_names() -> None:
    media = ArchivedMedia(
        sha256="b" * 64,
        kind="image",
        path=Path("media/bb/bb") / ("b" * 64 + ".jpg"),
        size_bytes=10,
        original_name="IMG_1.jpg",
        duration_s=None,
        width=8,
        height=8,
        added_at=datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
        fingerprints=("pdq256", "phash64"),
    )
    out = to_jsonable(media)
    assert out["type"] == "archived_media"
    assert out["path"] == f"media/bb/bb/{'b' * 64}.jpg"
    assert out["added_at"] == "2024-01-02T03:04:05Z"
    assert out["fingerprints"] == ["pdq256", "phash64"]
    assert out["duration_s"] is None
    assert json.loads(json.dumps(out)) == out

    failed = to_jsonable(AddResult(path="x.mp4", status="failed", error=ErrorInfo("not_media", "x.mp4: ...")))
    assert failed["type"] == "add_result"
    assert failed["error"] == {"kind": "not_media", "message": "x.mp4: ..."}


def test_to_jsonable_match_segments_have_no_type() -> None:
    segment = Segment(0, 5000, 24_500, 29_500, 11, 1.0)
    match = Match(None, "c" * 64, Path("/archive/media/x.mp4"), "phash64", (segment,), 1.0, 0.1, 1.0)
    out = to_jsonable(match)
    assert out["type"] == "match"
    assert out["ref_path"] == "/archive/media/x.mp4"
    assert out["segments"] == [
        {
            "query_start_ms": 0,
            "query_end_ms": 5000,
            "ref_start_ms": 24_500,
            "ref_end_ms": 29_500,
            "frames_matched": 11,
            "mean_distance": 1.0,
            "speed": 1.0,
            "variant": "none",
        }
    ]


def test_to_jsonable_numpy_and_bytes() -> None:
    out = to_jsonable(
        {"a": np.array([1, 2], np.int32), "b": np.int64(3), "c": np.float32(0.5), "d": b"\x01\xff"}
    )
    assert out == {"a": [1, 2], "b": 3, "c": 0.5, "d": "01ff"}
    assert type(out["b"]) is int
    json.dumps(out)
    assert to_jsonable([Segment(0, 0, 0, 0, 1, 0.0)])[0].get("type") is None
