"""Hash list formats: lossless native lines, vPDQ feature lists and PDQ CSV, read back and refused."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
import pytest

from provenance import hashlists
from provenance.hashlists import MalformedLine, detect_format, entry_digest, native_line, parse_line
from provenance.models import Fingerprint, HashlistEntry, ListContext, ListedAppearance, Timestamp

RNG = np.random.default_rng(3)


def fingerprint(hasher: str, bits: int, frames: int, rate: float = 2.0) -> Fingerprint:
    return Fingerprint(
        sha256="",
        hasher=hasher,
        rate_hz=rate,
        times_ms=np.arange(frames, dtype=np.int32) * int(1000 / rate),
        hashes=RNG.integers(0, 256, (frames, bits // 8), dtype=np.uint8),
        quality=RNG.integers(0, 101, frames, dtype=np.uint8),
    )


def entry(**changes: object) -> HashlistEntry:
    base = {
        "external_id": "a" * 64,
        "content_sha256": "a" * 64,
        "kind": "video",
        "duration_s": 5.5,
        "fingerprints": (fingerprint("phash64", 64, 11), fingerprint("pdq256", 256, 11)),
        "appearances": (
            ListedAppearance(
                "https://example.org/watch/1", Timestamp(datetime(2021, 3, 4, tzinfo=UTC), "day", "imported")
            ),
            ListedAppearance("https://example.org/watch/2", None),
        ),
        "context": None,
    }
    return HashlistEntry(**{**base, **changes})  # type: ignore[arg-type]


def same_prints(a: Fingerprint, b: Fingerprint) -> bool:
    return (
        a.hasher == b.hasher
        and a.rate_hz == b.rate_hz
        and np.array_equal(a.times_ms, b.times_ms)
        and np.array_equal(a.hashes, b.hashes)
        and np.array_equal(a.quality, b.quality)
    )


def test_native_line_reads_back_every_fingerprint_time_and_appearance() -> None:
    original = entry(context=ListContext(names=("clip.mp4",), uploaders=("someone",), titles=("a title",)))
    back = parse_line(native_line(original), "provenance")
    assert back is not None
    assert (back.external_id, back.content_sha256, back.kind, back.duration_s) == (
        "a" * 64,
        "a" * 64,
        "video",
        5.5,
    )
    assert all(same_prints(a, b) for a, b in zip(original.fingerprints, back.fingerprints, strict=True))
    assert back.appearances == original.appearances
    assert back.context == original.context
    assert entry_digest(back) == entry_digest(original)


def test_native_line_without_context_holds_no_name() -> None:
    record = json.loads(native_line(entry()))
    assert "context" not in record
    assert set(record) == {
        "type",
        "version",
        "id",
        "sha256",
        "kind",
        "duration_s",
        "fingerprints",
        "appearances",
    }


def test_digest_changes_with_any_part_of_an_entry() -> None:
    base = entry()
    moved = base.fingerprints[0]
    other_times = Fingerprint(
        "", moved.hasher, moved.rate_hz, moved.times_ms + 1, moved.hashes, moved.quality
    )
    variants = [
        entry(duration_s=6.0),
        entry(appearances=()),
        entry(fingerprints=(other_times, base.fingerprints[1])),
        entry(context=ListContext(names=("x",))),
    ]
    assert len({entry_digest(base), *(entry_digest(v) for v in variants)}) == 5


def test_vpdq_line_is_the_feature_list_threatexchange_writes() -> None:
    fp = fingerprint("pdq256-frame", 256, 3)
    line = hashlists.vpdq_line(fp)
    features = json.loads(line)
    assert line == json.dumps(features)  # threatexchange's json.dumps separators
    hex0, quality0, seconds0 = features[0].split(",")
    assert hex0 == fp.hashes[0].tobytes().hex() and int(quality0) == fp.quality[0] and float(seconds0) == 0.0
    assert float(features[2].split(",")[2]) == 1.0
    back = parse_line(line, "vpdq")
    assert back is not None and same_prints(back.fingerprints[0], fp) and back.kind == "video"


def test_vpdq_reader_takes_threatexchange_output_as_printed() -> None:
    # `threatexchange hash video` prints "vpdq <signal>"; its writer keeps 3 significant digits of
    # the timestamp, so 123.5 s is written 1.24e+02.
    pdq = "f" * 64
    line = "vpdq " + json.dumps([f"{pdq},100,0.0", f"{pdq},80,1.0", f"{pdq},49,1.24e+02"])
    back = parse_line(line + "\n", detect_format(line))
    assert back is not None
    fp = back.fingerprints[0]
    assert fp.hasher == "pdq256-frame" and fp.times_ms.tolist() == [0, 1000, 124000]
    assert fp.quality.tolist() == [100, 80, 49] and fp.rate_hz == 1.0
    assert back.external_id == parse_line(line, "vpdq").external_id  # type: ignore[union-attr]


def test_pdq_csv_lines_and_the_forms_it_reads() -> None:
    fp = fingerprint("pdq256-frame", 256, 4)
    fp.quality[:] = [90, 10, 50, 100]
    lines = list(hashlists.pdq_csv_lines(fp, 50))
    assert lines == [f"{fp.hashes[i].tobytes().hex()},{q}" for i, q in ((0, 90), (2, 50), (3, 100))]
    pdq = "0123456789abcdef" * 4
    for text, quality in (
        (f"{pdq},77", 77),
        (pdq, 100),
        (f"hash={pdq},norm=128,delta=0,quality=63,filename=x.jpg", 63),
    ):
        got = parse_line(text, "pdq-csv")
        assert got is not None and got.kind == "image" and got.external_id == pdq
        assert got.fingerprints[0].quality.tolist() == [quality]
    assert parse_line("hash,quality", "pdq-csv") is None  # a header
    assert parse_line("   ", "pdq-csv") is None


def test_vpdq_and_pdq_lists_carry_only_whole_frame_pdq() -> None:
    with pytest.raises(ValueError, match="pdq256-frame"):
        hashlists.vpdq_line(fingerprint("pdq256", 256, 2))


def test_detect_format() -> None:
    assert detect_format('{"type": "media_fingerprints"}') == "provenance"
    assert detect_format('\ufeff["ab,1,0"]') == "vpdq"
    assert detect_format("vpdq [...]") == "vpdq"
    assert detect_format("0" * 64 + ",100") == "pdq-csv"


def native_with(**changes: object) -> str:
    record = json.loads(native_line(entry()))
    record.update(changes)
    return json.dumps(record)


def fingerprint_with(**changes: object) -> str:
    record = json.loads(native_line(entry()))
    record["fingerprints"][0].update(changes)
    return json.dumps(record)


@pytest.mark.parametrize(
    ("line", "fmt", "says"),
    [
        ("{not json", "provenance", "not JSON"),
        ("[" * 100_000, "provenance", "JSON"),
        (native_with(type="other"), "provenance", '"type"'),
        (native_with(version=2), "provenance", "version"),
        (native_with(id=None, sha256=None), "provenance", '"id" or a "sha256"'),
        (native_with(sha256="xyz"), "provenance", "64 hex digits"),
        (native_with(kind="audio"), "provenance", "kind"),
        (native_with(fingerprints=[]), "provenance", "fingerprints"),
        (
            native_with(
                appearances=[{"url": "u", "published_at": "2021-03-04T10:00:00", "precision": "second"}]
            ),
            "provenance",
            "no UTC offset",
        ),
        (
            native_with(appearances=[{"url": "u", "published_at": "yesterday", "precision": "day"}]),
            "provenance",
            "ISO 8601",
        ),
        (fingerprint_with(hasher="md5"), "provenance", "unknown hasher"),
        (fingerprint_with(bits=128), "provenance", "64 bits"),
        (fingerprint_with(rate_hz=0), "provenance", "rate_hz"),
        (fingerprint_with(quality=[101] * 11), "provenance", "0..100"),
        (fingerprint_with(times_ms=[-1] * 11), "provenance", "times_ms"),
        (fingerprint_with(times_ms=[0.5] * 11), "provenance", "whole numbers"),
        (fingerprint_with(times_ms=[0]), "provenance", "one value per frame"),
        (fingerprint_with(hashes=["zz" * 8] * 11), "provenance", "not hexadecimal"),
        (fingerprint_with(hashes=["ab"] * 11), "provenance", "16 hex digits"),
        ('["' + "f" * 64 + ',100"]', "vpdq", "feature 1"),
        ('["' + "f" * 64 + ',101,0.0"]', "vpdq", "quality"),
        ('["' + "f" * 64 + ',100,-1"]', "vpdq", "timestamp"),
        ('["' + "f" * 64 + ',100,nan"]', "vpdq", "timestamp"),
        ('["' + "f" * 60 + ',100,0"]', "vpdq", "64 hex digits"),
        ("[]", "vpdq", "JSON list"),
        ("g" * 64 + ",100", "pdq-csv", "not a PDQ hash"),
        ("f" * 64 + ",high", "pdq-csv", "not a number"),
    ],
)
def test_malformed_lines_say_what_is_wrong(line: str, fmt: str, says: str) -> None:
    with pytest.raises(MalformedLine, match=says):
        parse_line(line, fmt)


def test_a_line_past_the_bound_is_refused_unread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("provenance.hashlists.MAX_LINE_CHARS", 1000)
    with pytest.raises(MalformedLine, match="longer than 1000"):
        parse_line("x" * 1001, "pdq-csv")
