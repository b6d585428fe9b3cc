"""The SQLite catalog: migrations, media and fingerprint round-trips, checkpoints, damaged files."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from provenance.catalog import MIGRATIONS, Catalog
from provenance.errors import ArchiveError, ExitCode
from provenance.models import Box, Fingerprint, MediaFile, MediaInfo

SHA_A = "a" * 64
SHA_B = "b" * 64


@pytest.fixture
def catalog_path(tmp_path: Path) -> Path:
    return tmp_path / "catalog.sqlite"


@pytest.fixture
def catalog(catalog_path: Path) -> Iterator[Catalog]:
    cat = Catalog(catalog_path)
    yield cat
    cat.close()


def user_version(path: Path) -> int:
    db = sqlite3.connect(path)
    try:
        return int(db.execute("PRAGMA user_version").fetchone()[0])
    finally:
        db.close()


def media(sha: str = SHA_A, kind: str = "video", ext: str = "mp4") -> MediaFile:
    return MediaFile(
        sha256=sha,
        path=Path("media") / sha[:2] / sha[2:4] / f"{sha}.{ext}",
        size_bytes=123_456,
        kind=kind,  # type: ignore[arg-type]
        ext=ext,
    )


def info(sha: str = SHA_A) -> MediaInfo:
    return MediaInfo(
        sha256=sha, kind="video", container="mov,mp4", duration_s=5.25, width=1280, height=720, fps=25.0
    )


def fingerprint(
    sha: str = SHA_A, hasher: str = "phash64", n: int = 6, seed: int = 0, rate_hz: float = 2.0
) -> Fingerprint:
    rng = np.random.default_rng(seed)
    nbytes = {"phash64": 8, "pdq256": 32}[hasher]
    return Fingerprint(
        sha256=sha,
        hasher=hasher,
        rate_hz=rate_hz,
        times_ms=(np.arange(n, dtype=np.int32) * 500 + 7).astype(np.int32),
        hashes=rng.integers(0, 256, (n, nbytes), dtype=np.uint8),
        quality=rng.integers(0, 101, n, dtype=np.uint8),
        content_box=Box(x=0, y=10, width=128, height=52) if hasher == "phash64" else None,
    )


def assert_same_fingerprint(got: Fingerprint, want: Fingerprint) -> None:
    assert (got.sha256, got.hasher, got.rate_hz) == (want.sha256, want.hasher, want.rate_hz)
    assert got.times_ms.dtype == np.int32
    assert got.hashes.dtype == np.uint8
    assert got.quality.dtype == np.uint8
    assert got.hashes.shape == want.hashes.shape
    np.testing.assert_array_equal(got.times_ms, want.times_ms)
    np.testing.assert_array_equal(got.hashes, want.hashes)
    np.testing.assert_array_equal(got.quality, want.quality)
    assert got.content_box == want.content_box
    assert got.frame_count == want.frame_count


def test_migrations_set_user_version(catalog: Catalog, catalog_path: Path) -> None:
    assert user_version(catalog_path) == len(MIGRATIONS)
    tables = {r[0] for r in catalog.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"media", "sources", "media_info", "fingerprints"} <= tables


def test_reopening_is_a_no_op(catalog_path: Path) -> None:
    first = Catalog(catalog_path)
    first.record_media(media(), info(), [fingerprint()], "/footage/clip.mp4")
    first.close()
    second = Catalog(catalog_path)
    try:
        assert user_version(catalog_path) == len(MIGRATIONS)
        assert [m.sha256 for m in second.list_media()] == [SHA_A]
        assert len(list(second.iter_fingerprints("phash64", 2.0))) == 1
    finally:
        second.close()


def test_newer_schema_is_refused(catalog_path: Path) -> None:
    db = sqlite3.connect(catalog_path)
    db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    db.commit()
    db.close()
    with pytest.raises(ArchiveError) as caught:
        Catalog(catalog_path)
    assert caught.value.exit_code == ExitCode.ARCHIVE
    assert user_version(catalog_path) == len(MIGRATIONS) + 1  # left as it was


def test_corrupt_catalog_is_an_archive_error(catalog_path: Path) -> None:
    catalog_path.write_bytes(np.random.default_rng(0).integers(0, 256, 8192, dtype=np.uint8).tobytes())
    with pytest.raises(ArchiveError, match="catalog"):
        Catalog(catalog_path)


def test_catalog_in_a_missing_folder_is_an_archive_error(tmp_path: Path) -> None:
    with pytest.raises(ArchiveError):
        Catalog(tmp_path / "no" / "such" / "catalog.sqlite")


def test_record_media_round_trip(catalog: Catalog) -> None:
    before = datetime.now(UTC)
    fps = [fingerprint(hasher="phash64", seed=1), fingerprint(hasher="pdq256", seed=2)]
    catalog.record_media(media(), info(), fps, "/footage/Clip One.mp4")
    after = datetime.now(UTC)

    listed = catalog.list_media()
    assert len(listed) == 1
    row = listed[0]
    assert row == catalog.get_media(SHA_A)
    assert row.sha256 == SHA_A
    assert row.kind == "video"
    assert row.path == media().path
    assert row.size_bytes == 123_456
    assert row.original_name == "Clip One.mp4"
    assert row.duration_s == pytest.approx(5.25)
    assert (row.width, row.height) == (1280, 720)
    assert row.added_at.tzinfo is not None
    assert before - timedelta(seconds=1) <= row.added_at <= after + timedelta(seconds=1)
    assert row.fingerprints == ("pdq256", "phash64")
    assert catalog.get_media(SHA_B) is None
    assert catalog.sources(SHA_A) == ["/footage/Clip One.mp4"]

    stored = json.loads(catalog.media_info_json(SHA_A) or "null")
    assert stored["width"] == 1280 and stored["fps"] == 25.0

    (phash,) = catalog.iter_fingerprints("phash64", 2.0)
    assert_same_fingerprint(phash, fps[0])
    (pdq,) = catalog.iter_fingerprints("pdq256", 2.0)
    assert_same_fingerprint(pdq, fps[1])
    assert list(catalog.iter_fingerprints("phash64", 1.0)) == []
    assert list(catalog.iter_fingerprints("nohash", 2.0)) == []


def test_same_media_from_a_second_source_is_one_row(catalog: Catalog) -> None:
    catalog.record_media(media(), info(), [fingerprint()], "/a/clip.mp4")
    catalog.record_media(media(), info(), [fingerprint()], "/b/copy.mp4")
    assert [m.sha256 for m in catalog.list_media()] == [SHA_A]
    assert catalog.get_media(SHA_A).original_name == "clip.mp4"  # type: ignore[union-attr]
    assert sorted(catalog.sources(SHA_A)) == ["/a/clip.mp4", "/b/copy.mp4"]
    assert len(list(catalog.iter_fingerprints("phash64", 2.0))) == 1


def test_fingerprints_come_back_in_insertion_order(catalog: Catalog) -> None:
    for k, sha in enumerate((SHA_B, SHA_A, "c" * 64)):
        catalog.record_media(media(sha), info(sha), [fingerprint(sha, seed=k, n=3 + k)], f"/f/{k}.mp4")
    assert [fp.sha256 for fp in catalog.iter_fingerprints("phash64", 2.0)] == [SHA_B, SHA_A, "c" * 64]
    assert [fp.frame_count for fp in catalog.iter_fingerprints("phash64", 2.0)] == [3, 4, 5]


@pytest.mark.parametrize("hasher", ["phash64", "pdq256"])
def test_fingerprint_without_frames_round_trips(catalog: Catalog, hasher: str) -> None:
    empty = fingerprint(hasher=hasher, n=0)
    catalog.record_media(media(), info(), [empty], "/f/empty.mp4")
    (got,) = catalog.iter_fingerprints(hasher, 2.0)
    assert_same_fingerprint(got, empty)


def test_fingerprint_checkpoint_changes_with_new_fingerprints(catalog: Catalog) -> None:
    assert catalog.fingerprint_checkpoint("phash64", 2.0) == (0, 0)
    catalog.record_media(media(SHA_A), info(SHA_A), [fingerprint(SHA_A)], "/f/a.mp4")
    first = catalog.fingerprint_checkpoint("phash64", 2.0)
    assert first[1] == 1
    catalog.record_media(media(SHA_B), info(SHA_B), [fingerprint(SHA_B)], "/f/b.mp4")
    second = catalog.fingerprint_checkpoint("phash64", 2.0)
    assert second != first
    assert second[1] == 2
    # Re-fingerprinting a media replaces its row: the count stays, the checkpoint must still move.
    catalog.record_media(media(SHA_A), info(SHA_A), [fingerprint(SHA_A, seed=9)], "/f/a.mp4")
    third = catalog.fingerprint_checkpoint("phash64", 2.0)
    assert third != second
    assert third[1] == 2
    # Other hashers and rates have their own checkpoints.
    assert catalog.fingerprint_checkpoint("pdq256", 2.0) == (0, 0)
    assert catalog.fingerprint_checkpoint("phash64", 1.0) == (0, 0)


def test_is_complete(catalog: Catalog, catalog_path: Path, tmp_path: Path) -> None:
    assert not Catalog.is_complete(tmp_path / "absent.sqlite", SHA_A, ["phash64"], 2.0)
    assert not Catalog.is_complete(catalog_path, SHA_A, ["phash64"], 2.0)
    catalog.record_media(media(), info(), [fingerprint(hasher="phash64")], "/f/a.mp4")
    assert Catalog.is_complete(catalog_path, SHA_A, ["phash64"], 2.0)
    assert not Catalog.is_complete(catalog_path, SHA_A, ["phash64", "pdq256"], 2.0)
    assert not Catalog.is_complete(catalog_path, SHA_A, ["phash64"], 1.0)
    assert not Catalog.is_complete(catalog_path, SHA_B, ["phash64"], 2.0)
    catalog.record_media(media(), info(), [fingerprint(hasher="pdq256")], "/f/a.mp4")
    assert Catalog.is_complete(catalog_path, SHA_A, ["phash64", "pdq256"], 2.0)


def test_failed_record_leaves_nothing(catalog: Catalog) -> None:
    # A fingerprint for a media that is not the one recorded breaks the foreign key: all or nothing.
    with pytest.raises(sqlite3.IntegrityError):
        catalog.record_media(media(SHA_A), info(SHA_A), [fingerprint(SHA_B)], "/f/a.mp4")
    assert catalog.list_media() == []
    assert catalog.fingerprint_checkpoint("phash64", 2.0) == (0, 0)
