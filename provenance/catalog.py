"""The SQLite catalog: schema, migrations and every query.  Only this module writes SQL.

Fingerprints are one row per (media, hasher, rate) with the frame data packed in BLOBs (layout 1):
``times_ms`` little-endian int32, ``hashes`` the packed bits (``bits // 8`` bytes per frame, frame
after frame), ``quality`` one uint8 per frame.  The search index is built by concatenating them.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from .errors import ArchiveError
from .models import ArchivedMedia, Box, Fingerprint, MediaFile, MediaInfo, to_jsonable, utc_iso

FINGERPRINT_LAYOUT = 1

MIGRATIONS: tuple[str, ...] = (
    # 1: media, where each file came from, what it says about itself, fingerprints.
    """
    CREATE TABLE media (
        sha256 TEXT PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('video', 'image')),
        ext TEXT NOT NULL,
        path TEXT NOT NULL,
        size_bytes INTEGER NOT NULL,
        original_name TEXT NOT NULL,
        duration_s REAL,
        width INTEGER NOT NULL,
        height INTEGER NOT NULL,
        added_at TEXT NOT NULL
    );
    CREATE TABLE sources (
        sha256 TEXT NOT NULL REFERENCES media(sha256),
        source_path TEXT NOT NULL,
        added_at TEXT NOT NULL,
        PRIMARY KEY (sha256, source_path)
    );
    CREATE TABLE media_info (
        sha256 TEXT PRIMARY KEY REFERENCES media(sha256),
        info_json TEXT NOT NULL
    );
    CREATE TABLE fingerprints (
        id INTEGER PRIMARY KEY,
        sha256 TEXT NOT NULL REFERENCES media(sha256),
        hasher TEXT NOT NULL,
        rate_hz REAL NOT NULL,
        layout INTEGER NOT NULL,
        frame_count INTEGER NOT NULL,
        times_ms BLOB NOT NULL,
        hashes BLOB NOT NULL,
        quality BLOB NOT NULL,
        content_box TEXT,
        created_at TEXT NOT NULL,
        UNIQUE (sha256, hasher, rate_hz)
    );
    """,
)


def now_utc() -> datetime:
    return datetime.now(UTC)


class Catalog:
    """A connection to ``catalog.sqlite``.  Use from one thread; workers hand results to it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.db = sqlite3.connect(path, timeout=30.0, isolation_level=None)
            self.db.row_factory = sqlite3.Row
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self.db.execute("PRAGMA synchronous=FULL")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise ArchiveError(f"{path}: the catalog cannot be opened ({exc})") from None

    @staticmethod
    def is_complete(path: Path, sha256: str, hashers: Iterable[str], rate_hz: float) -> bool:
        """From any thread: is the media archived with all these fingerprints? (own connection)"""
        if not path.exists():
            return False
        db = sqlite3.connect(path, timeout=30.0)
        try:
            names = list(hashers)
            marks = ",".join("?" * len(names))
            row = db.execute(
                "SELECT (SELECT COUNT(*) FROM media WHERE sha256 = ?),"
                " (SELECT COUNT(*) FROM fingerprints"
                f"  WHERE sha256 = ? AND rate_hz = ? AND hasher IN ({marks}))",
                (sha256, sha256, rate_hz, *names),
            ).fetchone()
        finally:
            db.close()
        return row[0] == 1 and row[1] == len(names)

    def close(self) -> None:
        self.db.close()

    def _migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise ArchiveError(
                f"{self.path}: catalog schema {version} is newer than this version of provenance knows",
                hint="upgrade provenance",
            )
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            self.db.execute("BEGIN IMMEDIATE")
            try:
                for statement in script.split(";"):
                    if statement.strip():
                        self.db.execute(statement)
                self.db.execute(f"PRAGMA user_version = {number}")
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise

    # -- media -----------------------------------------------------------------------------------

    def record_media(
        self,
        media: MediaFile,
        info: MediaInfo,
        fingerprints: Iterable[Fingerprint],
        source_path: str,
    ) -> None:
        """Write a media file, its info, its fingerprints and its source in one transaction."""
        added_at = utc_iso(now_utc())
        with self._transaction():
            self.db.execute(
                "INSERT OR IGNORE INTO media (sha256, kind, ext, path, size_bytes, original_name, duration_s,"
                " width, height, added_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    media.sha256,
                    media.kind,
                    media.ext,
                    str(media.path),
                    media.size_bytes,
                    Path(source_path).name,
                    info.duration_s,
                    info.width,
                    info.height,
                    added_at,
                ),
            )
            self.db.execute(
                "INSERT OR REPLACE INTO media_info (sha256, info_json) VALUES (?, ?)",
                (media.sha256, json.dumps(to_jsonable(info), sort_keys=True)),
            )
            for fp in fingerprints:
                self._insert_fingerprint(fp, added_at)
            self.add_source(media.sha256, source_path, added_at)

    def add_source(self, sha256: str, source_path: str, added_at: str | None = None) -> None:
        self.db.execute(
            "INSERT OR IGNORE INTO sources (sha256, source_path, added_at) VALUES (?, ?, ?)",
            (sha256, source_path, added_at or utc_iso(now_utc())),
        )

    def _insert_fingerprint(self, fp: Fingerprint, created_at: str) -> None:
        box = json.dumps(to_jsonable(fp.content_box, top=False)) if fp.content_box else None
        self.db.execute(
            "INSERT OR REPLACE INTO fingerprints (sha256, hasher, rate_hz, layout, frame_count, times_ms,"
            " hashes, quality, content_box, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                fp.sha256,
                fp.hasher,
                fp.rate_hz,
                FINGERPRINT_LAYOUT,
                fp.frame_count,
                fp.times_ms.astype("<i4").tobytes(),
                np.ascontiguousarray(fp.hashes, np.uint8).tobytes(),
                fp.quality.astype(np.uint8).tobytes(),
                box,
                created_at,
            ),
        )

    def list_media(self) -> list[ArchivedMedia]:
        rows = self.db.execute(
            "SELECT m.*, (SELECT group_concat(hasher) FROM fingerprints f WHERE f.sha256 = m.sha256) AS hs"
            " FROM media m ORDER BY m.added_at, m.sha256"
        ).fetchall()
        return [_archived_media(row) for row in rows]

    def get_media(self, sha256: str) -> ArchivedMedia | None:
        row = self.db.execute(
            "SELECT m.*, (SELECT group_concat(hasher) FROM fingerprints f WHERE f.sha256 = m.sha256) AS hs"
            " FROM media m WHERE m.sha256 = ?",
            (sha256,),
        ).fetchone()
        return _archived_media(row) if row else None

    def find_sha256_prefix(self, prefix: str) -> list[str]:
        rows = self.db.execute(
            "SELECT sha256 FROM media WHERE sha256 LIKE ? ORDER BY sha256 LIMIT 2", (prefix.lower() + "%",)
        ).fetchall()
        return [r[0] for r in rows]

    def media_info_json(self, sha256: str) -> str | None:
        row = self.db.execute("SELECT info_json FROM media_info WHERE sha256 = ?", (sha256,)).fetchone()
        return row[0] if row else None

    def sources(self, sha256: str) -> list[str]:
        rows = self.db.execute(
            "SELECT source_path FROM sources WHERE sha256 = ? ORDER BY added_at", (sha256,)
        ).fetchall()
        return [r[0] for r in rows]

    # -- fingerprints ----------------------------------------------------------------------------

    def iter_fingerprints(self, hasher: str, rate_hz: float) -> Iterator[Fingerprint]:
        rows = self.db.execute(
            "SELECT * FROM fingerprints WHERE hasher = ? AND rate_hz = ? ORDER BY id", (hasher, rate_hz)
        )
        for row in rows:
            yield _fingerprint(row)

    def fingerprint_checkpoint(self, hasher: str, rate_hz: float) -> tuple[int, int]:
        """(max id, count) of the stored fingerprints: the index is current when both are unchanged."""
        row = self.db.execute(
            "SELECT COALESCE(MAX(id), 0), COUNT(*) FROM fingerprints WHERE hasher = ? AND rate_hz = ?",
            (hasher, rate_hz),
        ).fetchone()
        return int(row[0]), int(row[1])

    # -- plumbing --------------------------------------------------------------------------------

    def _transaction(self) -> _Transaction:
        return _Transaction(self.db)


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self.db.execute("COMMIT" if exc_type is None else "ROLLBACK")


def _archived_media(row: sqlite3.Row) -> ArchivedMedia:
    return ArchivedMedia(
        sha256=row["sha256"],
        kind=row["kind"],
        path=Path(row["path"]),
        size_bytes=row["size_bytes"],
        original_name=row["original_name"],
        duration_s=row["duration_s"],
        width=row["width"],
        height=row["height"],
        added_at=datetime.fromisoformat(row["added_at"].replace("Z", "+00:00")),
        fingerprints=tuple(sorted((row["hs"] or "").split(","))) if row["hs"] else (),
    )


def _fingerprint(row: sqlite3.Row) -> Fingerprint:
    if row["layout"] != FINGERPRINT_LAYOUT:
        raise ArchiveError(
            f"fingerprint {row['id']} has layout {row['layout']}, which this version cannot read"
        )
    n = row["frame_count"]
    box = json.loads(row["content_box"]) if row["content_box"] else None
    return Fingerprint(
        sha256=row["sha256"],
        hasher=row["hasher"],
        rate_hz=row["rate_hz"],
        times_ms=np.frombuffer(row["times_ms"], dtype="<i4").astype(np.int32),
        hashes=np.frombuffer(row["hashes"], dtype=np.uint8).reshape(n, -1)
        if n
        else np.zeros((0, 8), np.uint8),
        quality=np.frombuffer(row["quality"], dtype=np.uint8),
        content_box=Box(**box) if box else None,
    )
