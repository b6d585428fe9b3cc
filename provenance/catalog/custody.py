"""Custody queries: kept files and their checksums, pages, time-stamps, availability history.

A mixin of `Catalog` (it uses the connection and the transactions of the class it is mixed into),
so that these queries live beside the tables of schema migrations 5-8 and nowhere else.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime

from ..custody.models import AvailabilityCheck, KeptFile, PageCapture, Stamp, Verification
from ..models import Availability, Capture, utc_iso
from .rows import capture_from_row, parse_utc

# Statuses of a post that is not (or no longer) what was archived.
GONE = ("removed", "private", "geo_blocked", "account_gone", "changed")


class CustodyQueries:
    db: sqlite3.Connection

    def _transaction(self) -> AbstractContextManager[None]:  # provided by Catalog
        raise NotImplementedError

    # -- what check hashes -----------------------------------------------------------------------

    def kept_files(self) -> list[KeptFile]:
        """Every file the catalog accounts for: media, capture files, pages and tokens, keyframes."""
        found = [
            KeptFile(row[0], "media", row[1], row[2], row[1])
            for row in self.db.execute("SELECT path, sha256, size_bytes FROM media ORDER BY path")
        ]
        for folder, files in self.db.execute("SELECT folder, files FROM captures ORDER BY folder"):
            found += [
                KeptFile(f"{folder}/{name}", "capture", sha, None, folder) for name, sha in json.loads(files)
            ]
        found += [
            KeptFile(row[0], row[3], row[1], row[2], row[4])
            for row in self.db.execute(
                "SELECT path, sha256, size_bytes, role, capture_folder FROM custody_files ORDER BY path"
            )
        ]
        found += [
            KeptFile(row[0], "keyframe", row[1], None, row[2])
            for row in self.db.execute("SELECT path, file_sha256, sha256 FROM keyframes ORDER BY path")
        ]
        return found

    def custody_files_of(self, capture_folder: str, role: str) -> list[KeptFile]:
        """The page or time-stamp files of one capture."""
        rows = self.db.execute(
            "SELECT path, sha256, size_bytes, role, capture_folder FROM custody_files"
            " WHERE capture_folder = ? AND role = ? ORDER BY path",
            (capture_folder, role),
        )
        return [KeptFile(row[0], row[3], row[1], row[2], row[4]) for row in rows]

    def integrity_problems(self) -> list[str]:
        """SQLite's quick_check of the catalog file: [] when it is sound."""
        rows = [row[0] for row in self.db.execute("PRAGMA quick_check").fetchall()]
        return [] if rows == ["ok"] else rows

    def all_captures(self) -> list[Capture]:
        rows = self.db.execute("SELECT * FROM captures ORDER BY captured_at, id").fetchall()
        return [capture_from_row(row) for row in rows]

    def drop_matches_of(self, sha256s: Iterable[str]) -> int:
        """Forget the cached matches of these media (derived data): they are made again when asked."""
        wanted = sorted(set(sha256s))
        if not wanted:
            return 0
        marks = ",".join("?" * len(wanted))
        with self._transaction():
            count = self.db.execute(
                f"DELETE FROM matches WHERE query_sha256 IN ({marks}) OR ref_sha256 IN ({marks})",
                (*wanted, *wanted),
            ).rowcount
            count += self.db.execute(
                f"DELETE FROM match_runs WHERE query_sha256 IN ({marks})", wanted
            ).rowcount
        return count

    def _record_files(self, folder: str, role: str, files: Sequence[tuple[str, str, int]]) -> None:
        self.db.executemany(
            "INSERT OR REPLACE INTO custody_files (path, sha256, size_bytes, role, capture_folder,"
            " recorded_at) VALUES (?, ?, ?, ?, ?, ?)",
            [(path, sha, size, role, folder, utc_iso(datetime.now(UTC))) for path, sha, size in files],
        )

    # -- pages -----------------------------------------------------------------------------------

    def record_page(self, page: PageCapture, files: Sequence[tuple[str, str, int]]) -> None:
        """The page of a capture and the checksums of its files, in one transaction."""
        with self._transaction():
            self._record_files(page.capture_folder, "page", files)
            self.db.execute(
                "INSERT OR REPLACE INTO pages (capture_folder, capture_id, url, final_url, http_status,"
                " fetched_at, warc_path, wacz_path, screenshot_path, resources, tls_chain, notes)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    page.capture_folder,
                    page.capture_id,
                    page.url,
                    page.final_url,
                    page.http_status,
                    utc_iso(page.fetched_at),
                    page.warc_path,
                    page.wacz_path,
                    page.screenshot_path,
                    page.resources,
                    json.dumps(list(page.tls_chain)),
                    json.dumps(list(page.notes)),
                ),
            )

    def page_of(self, capture_folder: str) -> PageCapture | None:
        row = self.db.execute("SELECT * FROM pages WHERE capture_folder = ?", (capture_folder,)).fetchone()
        if row is None:
            return None
        return PageCapture(
            capture_folder=row["capture_folder"],
            capture_id=row["capture_id"],
            url=row["url"],
            final_url=row["final_url"],
            http_status=row["http_status"],
            fetched_at=parse_utc(row["fetched_at"]),
            warc_path=row["warc_path"],
            wacz_path=row["wacz_path"],
            screenshot_path=row["screenshot_path"],
            resources=row["resources"],
            tls_chain=tuple(json.loads(row["tls_chain"])),
            notes=tuple(json.loads(row["notes"])),
        )

    # -- time-stamps -----------------------------------------------------------------------------

    def record_stamp(self, stamp: Stamp, files: Sequence[tuple[str, str, int]]) -> None:
        with self._transaction():
            self._record_files(stamp.capture_folder, "timestamp", files)
            self.db.execute(
                "INSERT INTO timestamps (capture_folder, capture_id, tsa_url, state, attempted_at,"
                " manifest_path, manifest_sha256, token_path, chain_path, verification_path, verification,"
                " error)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    stamp.capture_folder,
                    stamp.capture_id,
                    stamp.tsa_url,
                    stamp.state,
                    utc_iso(stamp.attempted_at),
                    stamp.manifest_path,
                    stamp.manifest_sha256,
                    stamp.token_path,
                    stamp.chain_path,
                    stamp.verification_path,
                    json.dumps(verification_json(stamp.verification)) if stamp.verification else None,
                    stamp.error,
                ),
            )

    def stamps(self, capture_folder: str | None = None, *, stamped_only: bool = False) -> list[Stamp]:
        where, values = ("WHERE capture_folder = ?", (capture_folder,)) if capture_folder else ("", ())
        if stamped_only:
            where += (" AND" if where else "WHERE") + " state = 'stamped'"
        rows = self.db.execute(f"SELECT * FROM timestamps {where} ORDER BY id", values).fetchall()
        return [_stamp_from_row(row) for row in rows]

    def stamped_tsas(self) -> set[tuple[str, str]]:
        """{(capture folder, TSA URL)} of every capture already stamped by that TSA."""
        rows = self.db.execute(
            "SELECT DISTINCT capture_folder, tsa_url FROM timestamps WHERE state = 'stamped'"
        )
        return {(row[0], row[1]) for row in rows}

    # -- availability ----------------------------------------------------------------------------

    def record_availability(self, checks: Iterable[AvailabilityCheck]) -> None:
        with self._transaction():
            self.db.executemany(
                "INSERT INTO availability (capture_id, url, checked_at, status, http_status, words,"
                " duration_s, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        c.capture_id,
                        c.url,
                        utc_iso(c.checked_at),
                        c.status,
                        c.http_status,
                        c.words,
                        c.duration_s,
                        c.detail,
                    )
                    for c in checks
                ],
            )

    def availability_history(self, capture_id: str) -> list[AvailabilityCheck]:
        rows = self.db.execute(
            "SELECT * FROM availability WHERE capture_id = ? ORDER BY checked_at, id", (capture_id,)
        ).fetchall()
        return [
            AvailabilityCheck(
                capture_id=row["capture_id"],
                url=row["url"],
                checked_at=parse_utc(row["checked_at"]),
                status=row["status"],
                http_status=row["http_status"],
                words=row["words"],
                duration_s=row["duration_s"],
                detail=row["detail"],
            )
            for row in rows
        ]

    def availability_of(self, capture_id: str, captured_at: datetime) -> Availability | None:
        """The latest status of a post and, when it is gone, between which two times it went:
        the last time it was seen (a recheck that found it, else the capture itself) and the first
        check after that which did not find it.  None when it was never rechecked."""
        history = self.availability_history(capture_id)
        if not history:
            return None
        latest = history[-1]
        last_seen: datetime = captured_at
        for check in history:
            if check.status == "available":
                last_seen = max(last_seen, check.checked_at)
        first_gone = None
        if latest.status in GONE:
            first_gone = next(
                (c.checked_at for c in history if c.status in GONE and c.checked_at >= last_seen), None
            )
        return Availability(
            status=latest.status,
            checked_at=latest.checked_at,
            last_seen_available=last_seen,
            first_seen_gone=first_gone,
            http_status=latest.http_status,
            words=latest.words,
            checks=len(history),
        )


def verification_json(v: Verification) -> dict[str, object]:
    return {
        "verified": v.verified,
        "detail": v.detail,
        "gen_time": utc_iso(v.gen_time) if v.gen_time else None,
        "serial_number": v.serial_number,
        "tsa_name": v.tsa_name,
        "policy": v.policy,
        "root_subject": v.root_subject,
        "root_trusted": v.root_trusted,
        "checked_at": utc_iso(v.checked_at) if v.checked_at else None,
        "imprint_matches": v.imprint_matches,
    }


def verification_from_json(data: dict) -> Verification:
    return Verification(
        verified=bool(data["verified"]),
        detail=data.get("detail", ""),
        gen_time=parse_utc(data["gen_time"]) if data.get("gen_time") else None,
        serial_number=data.get("serial_number"),
        tsa_name=data.get("tsa_name"),
        policy=data.get("policy"),
        root_subject=data.get("root_subject"),
        root_trusted=bool(data.get("root_trusted", False)),
        checked_at=parse_utc(data["checked_at"]) if data.get("checked_at") else None,
        imprint_matches=bool(data.get("imprint_matches", False)),
    )


def _stamp_from_row(row: sqlite3.Row) -> Stamp:
    return Stamp(
        capture_folder=row["capture_folder"],
        capture_id=row["capture_id"],
        tsa_url=row["tsa_url"],
        state=row["state"],
        attempted_at=parse_utc(row["attempted_at"]),
        manifest_path=row["manifest_path"],
        manifest_sha256=row["manifest_sha256"],
        token_path=row["token_path"],
        chain_path=row["chain_path"],
        verification_path=row["verification_path"],
        verification=verification_from_json(json.loads(row["verification"])) if row["verification"] else None,
        error=row["error"],
    )
