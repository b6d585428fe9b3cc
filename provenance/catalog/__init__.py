"""The SQLite catalog: a connection and every query.  Only this package writes SQL.

The schema and its migrations are in `schema.py`; turning rows back into models in `rows.py`.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ArchiveError
from ..models import (
    ArchivedMedia,
    Capture,
    Fingerprint,
    ImportedList,
    Keyframe,
    Match,
    MediaFile,
    MediaInfo,
    Timestamp,
    XmpInfo,
    to_jsonable,
    utc_iso,
)
from .custody import CustodyQueries
from .imports import IMPORTED_COLUMNS, IMPORTED_JOIN, MATCHABLE, ImportSession, imported_lists
from .rows import (
    FINGERPRINT_COLUMNS,
    capture_from_row,
    fingerprint_from_row,
    fingerprint_values,
    match_from_row,
    media_from_row,
    timestamp_from_json,
    xmp_from_json,
)
from .schema import MIGRATIONS

if TYPE_CHECKING:
    from ..pipeline.ingest import Ingested


def now_utc() -> datetime:
    return datetime.now(UTC)


class Catalog(CustodyQueries):
    """A connection to ``catalog.sqlite``.  Use from one thread; workers hand results to it.

    Custody queries (kept files, pages, time-stamps, availability) are in `custody.py`."""

    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        """``read_only``: the archive is on a read-only disk or folder (a case handed over on a
        mounted copy); it is read as it is (SQLite's immutable mode: nobody can be writing it) and
        every write raises ArchiveError."""
        self.path = path
        self.read_only = read_only
        try:
            if read_only:
                uri = f"{path.resolve().as_uri()}?mode=ro&immutable=1"
                self.db = sqlite3.connect(uri, uri=True, timeout=30.0, isolation_level=None)
                self.db.row_factory = sqlite3.Row
                self._check_version()
                return
            self.db = sqlite3.connect(path, timeout=30.0, isolation_level=None)
            self.db.row_factory = sqlite3.Row
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self.db.execute("PRAGMA synchronous=FULL")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise ArchiveError(f"{path}: the catalog cannot be opened ({exc})") from None

    def _check_version(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version != len(MIGRATIONS):
            raise ArchiveError(
                f"{self.path}: a read-only catalog of schema {version}; this version of provenance reads"
                f" schema {len(MIGRATIONS)}",
                hint="open it once where it can be written, or use the provenance version that made it",
            )

    @staticmethod
    def is_complete(path: Path, sha256: str, hashers: Iterable[str], rate_hz: float) -> bool:
        """From any thread: is the media archived with all these fingerprints? (own connection)"""
        return Catalog.complete_media_path(path, sha256, hashers, rate_hz) is not None

    @staticmethod
    def complete_media_path(path: Path, sha256: str, hashers: Iterable[str], rate_hz: float) -> Path | None:
        """From any thread: the stored path (relative to the archive) of a media archived with all
        these fingerprints, else None.  Opens its own connection."""
        if not path.exists():
            return None
        db = sqlite3.connect(path, timeout=30.0)
        try:
            names = list(hashers)
            marks = ",".join("?" * len(names))
            row = db.execute(
                "SELECT (SELECT path FROM media WHERE sha256 = ?),"
                " (SELECT COUNT(*) FROM fingerprints"
                f"  WHERE sha256 = ? AND rate_hz = ? AND hasher IN ({marks}))",
                (sha256, sha256, rate_hz, *names),
            ).fetchone()
        finally:
            db.close()
        return Path(row[0]) if row[0] is not None and row[1] == len(names) else None

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
        *,
        replace: bool = False,
    ) -> None:
        """Write a media file, its info, its fingerprints and its source in one transaction.

        ``replace``: the media is known and was described again (a reader that was missing is there
        now, or `add --refresh`): its kind, size facts, info and fingerprints are replaced and its
        derived keyframes dropped; when it was added and where from are kept.
        """
        with self._transaction():
            if replace:
                self.db.execute(
                    "UPDATE media SET kind = ?, duration_s = ?, width = ?, height = ? WHERE sha256 = ?",
                    (media.kind, info.duration_s, info.width, info.height, media.sha256),
                )
                self.db.execute("DELETE FROM fingerprints WHERE sha256 = ?", (media.sha256,))
                self.db.execute("DELETE FROM keyframes WHERE sha256 = ?", (media.sha256,))
            self._record_media(media, info, fingerprints, source_path)

    def _record_media(
        self, media: MediaFile, info: MediaInfo, fingerprints: Iterable[Fingerprint], source_path: str
    ) -> None:
        added_at = utc_iso(now_utc())
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
            f"INSERT OR REPLACE INTO fingerprints ({FINGERPRINT_COLUMNS}) VALUES ({', '.join('?' * 10)})",
            fingerprint_values(fp, fp.sha256, box, created_at),
        )

    def record_capture(self, capture: Capture, folder: str, ingested: Ingested | None) -> None:
        """A capture and, when its media is new, the media too: one transaction."""
        with self._transaction():
            if ingested is not None:
                self._record_media(ingested.media, ingested.info, ingested.fingerprints, capture.url)
            published = capture.published_at
            self.db.execute(
                "INSERT INTO captures (capture_id, url, webpage_url, extractor, platform_id, uploader,"
                " uploader_id, channel, title, description, duration_s, view_count, like_count, published_at,"
                " published_precision, published_source, captured_at, tool_versions, final_url, http_status,"
                " sha256, folder, files) VALUES (" + ", ".join("?" * 23) + ")",
                (
                    capture.capture_id,
                    capture.url,
                    capture.webpage_url,
                    capture.extractor,
                    capture.platform_id,
                    capture.uploader,
                    capture.uploader_id,
                    capture.channel,
                    capture.title,
                    capture.description,
                    capture.duration_s,
                    capture.view_count,
                    capture.like_count,
                    utc_iso(published.value) if published else None,
                    published.precision if published else None,
                    published.source if published else None,
                    utc_iso(capture.captured_at),
                    json.dumps(capture.tool_versions),
                    capture.final_url,
                    capture.http_status,
                    capture.sha256,
                    folder,
                    json.dumps(capture.files),
                ),
            )
            self.add_source(capture.sha256 or "", capture.url)

    def captures(
        self, *, capture_id: str | None = None, sha256: str | None = None, url: str | None = None
    ) -> list[Capture]:
        """Captures by capture id, by media, or by the URL given or the page URL; oldest first."""
        if capture_id is not None:
            where, values = "capture_id = ?", (capture_id,)
        elif sha256 is not None:
            where, values = "sha256 = ?", (sha256,)
        else:
            where, values = "url = ? OR webpage_url = ?", (url, url)
        rows = self.db.execute(
            f"SELECT * FROM captures WHERE {where} ORDER BY captured_at, id", values
        ).fetchall()
        return [capture_from_row(row) for row in rows]

    @staticmethod
    def has_capture(path: Path, capture_id: str) -> bool:
        """From any thread: has this post been captured before? (own connection)"""
        if not path.exists():
            return False
        db = sqlite3.connect(path, timeout=30.0)
        try:
            row = db.execute("SELECT 1 FROM captures WHERE capture_id = ? LIMIT 1", (capture_id,)).fetchone()
        except sqlite3.OperationalError:  # a catalog from before captures existed
            return False
        finally:
            db.close()
        return row is not None

    @staticmethod
    def is_recorded(path: Path, target: Path) -> bool:
        """From any thread: does a media row or a capture row own this archive path? (own connection)"""
        if not path.exists():
            return False
        db = sqlite3.connect(path, timeout=30.0)
        try:
            text = target.as_posix()
            row = db.execute(
                "SELECT EXISTS(SELECT 1 FROM media WHERE path = ?)"
                " OR EXISTS(SELECT 1 FROM captures WHERE folder = ?)",
                (text, text),
            ).fetchone()
        finally:
            db.close()
        return bool(row[0])

    # -- batches ---------------------------------------------------------------------------------

    def open_batch(self, batch_id: str, urls: list[str]) -> dict[int, tuple[str, str | None]]:
        """Create the batch, or resume it: jobs left `running` by a killed run go back to `queued`.

        Returns {position: (state, capture_id)} for every job.
        """
        now = utc_iso(now_utc())
        with self._transaction():
            self.db.execute(
                "INSERT OR IGNORE INTO batches (batch_id, started_at, size) VALUES (?, ?, ?)",
                (batch_id, now, len(urls)),
            )
            self.db.executemany(
                "INSERT OR IGNORE INTO jobs (batch_id, position, url, state, updated_at)"
                " VALUES (?, ?, ?, 'queued', ?)",
                [(batch_id, position, url, now) for position, url in enumerate(urls)],
            )
            self.db.execute(
                "UPDATE jobs SET state = 'queued', updated_at = ? WHERE batch_id = ? AND state = 'running'",
                (now, batch_id),
            )
        rows = self.db.execute(
            "SELECT position, state, capture_id FROM jobs WHERE batch_id = ?", (batch_id,)
        ).fetchall()
        return {row[0]: (row[1], row[2]) for row in rows}

    def set_job(
        self,
        batch_id: str,
        position: int,
        state: str,
        *,
        capture_id: str | None = None,
        error_kind: str | None = None,
        error_message: str | None = None,
        attempts: int = 0,
    ) -> None:
        """Set a job's state; ``attempts`` (requests tried for it, retries included) add to its count."""
        self.db.execute(
            "UPDATE jobs SET state = ?, capture_id = COALESCE(?, capture_id), error_kind = ?,"
            " error_message = ?, updated_at = ?, attempts = attempts + ? WHERE batch_id = ? AND position = ?",
            (state, capture_id, error_kind, error_message, utc_iso(now_utc()), attempts, batch_id, position),
        )

    # -- keyframes -------------------------------------------------------------------------------

    def keyframes(self, sha256: str, settings_key: str) -> list[Keyframe]:
        """Keyframes stored for a media with these keyframe settings, in time order."""
        rows = self.db.execute(
            "SELECT t_ms, shot_index, sharpness, path FROM keyframes WHERE sha256 = ? AND settings_key = ?"
            " ORDER BY t_ms",
            (sha256, settings_key),
        ).fetchall()
        return [Keyframe(row[0], row[1], row[2], Path(row[3])) for row in rows]

    def record_keyframes(
        self,
        sha256: str,
        settings_key: str,
        keyframes: Iterable[Keyframe],
        file_sha256s: Mapping[str, str] | None = None,
    ) -> None:
        """Replace a media's keyframes (paths relative to the archive root) in one transaction;
        ``file_sha256s`` gives each file's checksum by path, for `check`."""
        sums = file_sha256s or {}
        with self._transaction():
            self.db.execute("DELETE FROM keyframes WHERE sha256 = ?", (sha256,))
            self.db.executemany(
                "INSERT INTO keyframes (sha256, t_ms, shot_index, sharpness, path, settings_key, file_sha256)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        sha256,
                        k.t_ms,
                        k.shot_index,
                        k.sharpness,
                        str(k.path),
                        settings_key,
                        sums.get(str(k.path)),
                    )
                    for k in keyframes
                ],
            )

    _MEDIA = (
        "SELECT m.*, (SELECT group_concat(hasher) FROM fingerprints f WHERE f.sha256 = m.sha256) AS hs, "
        + IMPORTED_COLUMNS
        + " FROM media m"
        + IMPORTED_JOIN
    )

    def list_media(self) -> list[ArchivedMedia]:
        rows = self.db.execute(self._MEDIA + " ORDER BY m.added_at, m.sha256").fetchall()
        return [media_from_row(row) for row in rows]

    def get_media(self, sha256: str) -> ArchivedMedia | None:
        row = self.db.execute(self._MEDIA + " WHERE m.sha256 = ?", (sha256,)).fetchone()
        return media_from_row(row) if row else None

    def find_sha256_prefix(self, prefix: str) -> list[str]:
        rows = self.db.execute(
            "SELECT sha256 FROM media WHERE sha256 LIKE ? ORDER BY sha256 LIMIT 2", (prefix.lower() + "%",)
        ).fetchall()
        return [r[0] for r in rows]

    def media_info_json(self, sha256: str) -> str | None:
        row = self.db.execute("SELECT info_json FROM media_info WHERE sha256 = ?", (sha256,)).fetchone()
        return row[0] if row else None

    def media_created_at(self, sha256: str) -> Timestamp | None:
        """The creation time the file states (container tag or EXIF), as stored with its info."""
        text = self.media_info_json(sha256)
        return timestamp_from_json(json.loads(text).get("created_at")) if text else None

    def media_xmp(self, sha256: str) -> XmpInfo | None:
        """The XMP ids and history the file states, as stored with its info (None before they were read)."""
        text = self.media_info_json(sha256)
        return xmp_from_json(json.loads(text).get("xmp")) if text else None

    def sources(self, sha256: str) -> list[str]:
        rows = self.db.execute(
            "SELECT source_path FROM sources WHERE sha256 = ? ORDER BY added_at", (sha256,)
        ).fetchall()
        return [r[0] for r in rows]

    # -- fingerprints ----------------------------------------------------------------------------

    # An index holds the fingerprints of one hasher made at the archive's sampling rate, and those
    # of that hasher imported from hash lists at any rate (catalog/imports.py MATCHABLE).

    def iter_fingerprints(self, hasher: str, rate_hz: float) -> Iterator[Fingerprint]:
        rows = self.db.execute(f"SELECT * FROM fingerprints WHERE {MATCHABLE} ORDER BY id", (hasher, rate_hz))
        for row in rows:
            yield fingerprint_from_row(row)

    def fingerprints_by_id(
        self, hasher: str, rate_hz: float, ids: list[int]
    ) -> Iterator[tuple[int, Fingerprint]]:
        """(id, fingerprint) of the given fingerprint ids of this hasher (as iter_fingerprints would
        give them), in id order; streamed, a few hundred rows at a time."""
        wanted = sorted(ids)
        for start in range(0, len(wanted), 500):
            part = wanted[start : start + 500]
            marks = ",".join("?" * len(part))
            rows = self.db.execute(
                f"SELECT * FROM fingerprints WHERE id IN ({marks}) AND {MATCHABLE} ORDER BY id",
                (*part, hasher, rate_hz),
            )
            for row in rows:
                yield int(row["id"]), fingerprint_from_row(row)

    def fingerprint_checkpoint(self, hasher: str, rate_hz: float) -> tuple[int, int]:
        """(max id, count) of the stored fingerprints: the index is current when both are unchanged."""
        row = self.db.execute(
            f"SELECT COALESCE(MAX(id), 0), COUNT(*) FROM fingerprints WHERE {MATCHABLE}", (hasher, rate_hz)
        ).fetchone()
        return int(row[0]), int(row[1])

    def fingerprint_ids(self, hasher: str, rate_hz: float) -> dict[str, int]:
        """{sha256: fingerprint id} of every media fingerprinted with this hasher at this rate."""
        rows = self.db.execute(
            f"SELECT sha256, id FROM fingerprints WHERE {MATCHABLE}", (hasher, rate_hz)
        ).fetchall()
        return {row[0]: int(row[1]) for row in rows}

    def fingerprints_of(self, sha256: str) -> list[Fingerprint]:
        """Every stored fingerprint of one media, by hasher name."""
        rows = self.db.execute("SELECT * FROM fingerprints WHERE sha256 = ? ORDER BY hasher", (sha256,))
        return [fingerprint_from_row(row) for row in rows]

    # -- imported hash lists (catalog/imports.py) --------------------------------------------------

    def import_session(self, source: str, name: str, fmt: str) -> ImportSession:
        """One import of a hash list in one transaction: ``with catalog.import_session(...) as s``."""
        return ImportSession(self.db, source, name, fmt, utc_iso(now_utc()))

    def imported_lists(self) -> list[ImportedList]:
        return imported_lists(self.db)

    # -- matches between archived media (derived, see schema migration 3) --------------------------

    def match_runs(self, settings_key: str) -> dict[str, tuple[int, int]]:
        """{query sha256: (its fingerprint id, the index checkpoint it was matched against)}."""
        rows = self.db.execute(
            "SELECT query_sha256, query_fingerprint_id, checkpoint_id FROM match_runs WHERE settings_key = ?",
            (settings_key,),
        ).fetchall()
        return {row[0]: (int(row[1]), int(row[2])) for row in rows}

    def record_matches(
        self,
        query_sha256: str,
        settings_key: str,
        fingerprint_id: int,
        checkpoint_id: int,
        matches: list[Match],
    ) -> None:
        """Replace the stored matches of one query media, in one transaction."""
        with self._transaction():
            self.db.execute(
                "DELETE FROM matches WHERE query_sha256 = ? AND settings_key = ?",
                (query_sha256, settings_key),
            )
            self.db.executemany(
                "INSERT INTO matches (query_sha256, ref_sha256, settings_key, hasher, query_coverage,"
                " ref_coverage, score, segments) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        query_sha256,
                        m.ref_sha256,
                        settings_key,
                        m.hasher,
                        m.query_coverage,
                        m.ref_coverage,
                        m.score,
                        json.dumps([to_jsonable(s, top=False) for s in m.segments]),
                    )
                    for m in matches
                ],
            )
            self.db.execute(
                "INSERT OR REPLACE INTO match_runs (query_sha256, settings_key, query_fingerprint_id,"
                " checkpoint_id, computed_at) VALUES (?, ?, ?, ?, ?)",
                (query_sha256, settings_key, fingerprint_id, checkpoint_id, utc_iso(now_utc())),
            )

    def stored_matches(self, settings_key: str) -> list[Match]:
        rows = self.db.execute(
            "SELECT x.*, m.path FROM matches x JOIN media m ON m.sha256 = x.ref_sha256"
            " WHERE x.settings_key = ? ORDER BY x.query_sha256, x.score DESC, x.ref_sha256",
            (settings_key,),
        ).fetchall()
        return [match_from_row(row) for row in rows]

    # -- plumbing --------------------------------------------------------------------------------

    def _transaction(self) -> _Transaction:
        if self.read_only:
            raise ArchiveError(
                f"{self.path.parent}: the archive is read-only", hint="copy it somewhere writable"
            )
        return _Transaction(self.db)


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self.db.execute("COMMIT" if exc_type is None else "ROLLBACK")
