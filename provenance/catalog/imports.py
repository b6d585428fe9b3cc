"""Imported hash lists in the catalog: media known only by their fingerprints (schema migration 5).

An import is one transaction (`ImportSession`): the list's row, then its entries in chunks as they
are read, committed at the end or rolled back whole.  Entries are keyed by (source, external id), so
importing the same list again changes nothing and a newer list from the same source replaces the
entries that changed.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from ..models import HashlistEntry, ImportedList, ListContext, ListedAppearance, utc_iso
from .rows import FINGERPRINT_COLUMNS, fingerprint_values, parse_utc

EntryStatus = Literal["added", "updated", "unchanged"]
# SQLite's default limit on host parameters is 32766; a chunk of ids stays well below it.
_ID_CHUNK = 900


def imported_key(source: str, external_id: str) -> str:
    """The archive's key for an imported media: it cannot be the SHA-256 of any file's bytes in
    practice, and the same (source, id) always gets the same key."""
    return hashlib.sha256(f"hashlist\n{source}\n{external_id}".encode()).hexdigest()


def appearances_json(appearances: Sequence[ListedAppearance]) -> str:
    if not appearances:
        return "[]"
    return json.dumps(
        [
            {
                "url": a.url,
                "published_at": utc_iso(a.published_at.value) if a.published_at else None,
                "precision": a.published_at.precision if a.published_at else None,
            }
            for a in appearances
        ]
    )


# Columns to join to a `media m` query so that `imported_from_row` can read them.
IMPORTED_COLUMNS = (
    "i.source AS imported_source, i.external_id AS imported_external_id,"
    " i.content_sha256 AS imported_content_sha256, i.hashlist_id AS imported_hashlist_id,"
    " i.appearances AS imported_appearances, i.context AS imported_context, h.imported_at AS imported_at"
)
IMPORTED_JOIN = (
    " LEFT JOIN imported_media i ON i.sha256 = m.sha256 LEFT JOIN hashlists h ON h.id = i.hashlist_id"
)
# The fingerprints one index holds: those made at the archive's rate, and imported ones at any rate
# (their times are in milliseconds, which is all alignment needs).
MATCHABLE = "hasher = ? AND (rate_hz = ? OR sha256 IN (SELECT sha256 FROM imported_media))"


@dataclass(frozen=True, slots=True)
class _Keyed:
    key: str
    entry: HashlistEntry
    digest: str


def _by_key(item: _Keyed) -> str:
    return item.key


class ImportSession:
    """One import of a hash list, in one transaction; use as a context manager.

    ``add`` writes a chunk of entries (bounded memory: the caller decides the chunk); leaving the
    ``with`` block commits, an exception rolls everything back, the list's row included.
    """

    def __init__(self, db: sqlite3.Connection, source: str, name: str, fmt: str, imported_at: str) -> None:
        self.db = db
        self.source, self.name, self.format, self.imported_at = source, name, fmt, imported_at
        self.hashlist_id = 0
        self.changed = 0

    def __enter__(self) -> ImportSession:
        self.db.execute("BEGIN IMMEDIATE")
        cursor = self.db.execute(
            "INSERT INTO hashlists (source, name, format, file_sha256, imported_at) VALUES (?, ?, ?, '', ?)",
            (self.source, self.name, self.format, self.imported_at),
        )
        self.hashlist_id = int(cursor.lastrowid or 0)
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self.db.execute("COMMIT" if exc_type is None else "ROLLBACK")

    def set_format(self, fmt: str) -> None:
        """The format, once the first line has told it (an import asked to detect it)."""
        self.format = fmt
        self.db.execute("UPDATE hashlists SET format = ? WHERE id = ?", (fmt, self.hashlist_id))

    def finish(self, file_sha256: str) -> bool:
        """Record the list's digest; a list that changed nothing leaves no row.  True if it changed."""
        if self.changed == 0:
            self.db.execute("DELETE FROM hashlists WHERE id = ?", (self.hashlist_id,))
            return False
        self.db.execute("UPDATE hashlists SET file_sha256 = ? WHERE id = ?", (file_sha256, self.hashlist_id))
        return True

    def add(self, entries: Sequence[tuple[HashlistEntry, str]]) -> dict[EntryStatus, int]:
        """Write (entry, digest) pairs; how many were added, updated (their content changed) or were
        already there.  An entry listed twice is written once: the later one, as a newer list's
        entry replaces an older one's (the earlier copy counts as already there)."""
        latest = {}
        for e, d in entries:
            item = _Keyed(imported_key(self.source, e.external_id), e, d)
            latest[item.key] = item
        # In key order: the B-trees keyed by it (media, imported_media, fingerprints) then take the
        # chunk's rows leaf after leaf instead of at random (a million PDQ pictures: 53 s -> 41-49 s).
        keyed = sorted(latest.values(), key=_by_key)
        known = self._known([k.key for k in keyed])
        counts: dict[EntryStatus, int] = {"added": 0, "updated": 0, "unchanged": len(entries) - len(keyed)}
        new, changed = [], []
        for item in keyed:
            if known.get(item.key) == item.digest:
                counts["unchanged"] += 1
            elif item.key in known:
                changed.append(item)
                counts["updated"] += 1
            else:
                new.append(item)
                counts["added"] += 1
        if changed:
            self._remove([k.key for k in changed])
        self._insert([*new, *changed])
        self.changed += len(new) + len(changed)
        return counts

    def _known(self, keys: list[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for start in range(0, len(keys), _ID_CHUNK):
            part = keys[start : start + _ID_CHUNK]
            marks = ",".join("?" * len(part))
            rows = self.db.execute(
                f"SELECT sha256, entry_digest FROM imported_media WHERE sha256 IN ({marks})", part
            )
            found.update((r[0], r[1]) for r in rows)
        return found

    def _remove(self, keys: list[str]) -> None:
        """An entry that changed: its old fingerprints and derived matches go before it is rewritten."""
        rows = [(k,) for k in keys]
        for table, column in (
            ("matches", "query_sha256"),
            ("matches", "ref_sha256"),
            ("match_runs", "query_sha256"),
            ("fingerprints", "sha256"),
            ("imported_media", "sha256"),
            ("media", "sha256"),
        ):
            self.db.executemany(f"DELETE FROM {table} WHERE {column} = ?", rows)

    def _insert(self, items: Sequence[_Keyed]) -> None:
        self.db.executemany(
            "INSERT INTO media (sha256, kind, ext, path, size_bytes, original_name, duration_s, width,"
            " height, added_at) VALUES (?, ?, '', '', 0, '', ?, 0, 0, ?)",
            [(k.key, k.entry.kind, k.entry.duration_s, self.imported_at) for k in items],
        )
        self.db.executemany(
            "INSERT INTO imported_media (sha256, source, external_id, hashlist_id, content_sha256,"
            " entry_digest, appearances, context) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    k.key,
                    self.source,
                    k.entry.external_id,
                    self.hashlist_id,
                    k.entry.content_sha256,
                    k.digest,
                    appearances_json(k.entry.appearances),
                    _context_json(k.entry.context),
                )
                for k in items
            ],
        )
        self.db.executemany(
            f"INSERT INTO fingerprints ({FINGERPRINT_COLUMNS}) VALUES ({', '.join('?' * 10)})",
            [
                fingerprint_values(fp, k.key, None, self.imported_at)
                for k in items
                for fp in k.entry.fingerprints
            ],
        )


def _context_json(context: ListContext | None) -> str | None:
    if context is None:
        return None
    return json.dumps({"names": context.names, "uploaders": context.uploaders, "titles": context.titles})


def imported_lists(db: sqlite3.Connection) -> list[ImportedList]:
    """Every import, oldest first, with how many of its media and frame hashes are in the archive."""
    rows = db.execute(
        "SELECT h.*, COUNT(DISTINCT i.sha256) AS media, COALESCE(SUM(f.frame_count), 0) AS frames"
        " FROM hashlists h LEFT JOIN imported_media i ON i.hashlist_id = h.id"
        " LEFT JOIN fingerprints f ON f.sha256 = i.sha256 GROUP BY h.id ORDER BY h.imported_at, h.id"
    ).fetchall()
    return [
        ImportedList(
            hashlist_id=r["id"],
            source=r["source"],
            name=r["name"],
            format=r["format"],
            file_sha256=r["file_sha256"],
            imported_at=parse_utc(r["imported_at"]),
            media=r["media"],
            frames=r["frames"],
        )
        for r in rows
    ]
