"""Batch verification: for each URL of a table, archive it, find its cluster, name the earliest appearance.

Archiving goes through `archive_urls`, so a batch killed half way resumes from the catalog's jobs
when run again with the same table; matching goes through the cached matches of `clusters`.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import BadInputError
from ..models import ArchiveResult, Cluster, ErrorInfo, Progress, VerifyRow
from ..timeline import connected_groups
from .archive import Archive, OnEvent
from .clusters import archive_matches, archived_media, cluster_of
from .web import archive_urls


@dataclass(frozen=True, slots=True)
class VerifyTable:
    """The input table: its column names, and each row as (column, value) pairs in that order."""

    columns: tuple[str, ...]
    url_column: str
    rows: tuple[tuple[tuple[str, str], ...], ...]

    def url(self, row: tuple[tuple[str, str], ...]) -> str:
        return dict(row).get(self.url_column, "").strip()


def read_verify_table(path: Path) -> VerifyTable:
    """A CSV file with a `url` column (any case; other columns are passed through), or a text file
    with one URL per line (blank lines and # comments skipped)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInputError(f"{path}: cannot read the URL table ({exc})") from None
    if path.suffix.lower() != ".csv":
        urls = [
            line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")
        ]
        table = VerifyTable(("url",), "url", tuple((("url", u),) for u in urls))
    else:
        reader = csv.DictReader(text.splitlines())
        columns = tuple(reader.fieldnames or ())
        url_column = next((c for c in columns if c.strip().lower() == "url"), None)
        if url_column is None:
            raise BadInputError(f"{path}: the CSV has no `url` column")
        rows = tuple(tuple((c, row.get(c) or "") for c in columns) for row in reader)
        table = VerifyTable(columns, url_column, rows)
    if not any(table.url(row) for row in table.rows):
        raise BadInputError(f"{path}: no URLs in the table")
    return table


def read_url_list(path: Path) -> list[str]:
    """The URLs of a list file, as `archive -i` takes it: the same formats as `verify`."""
    table = read_verify_table(path)
    return [url for row in table.rows if (url := table.url(row))]


def _archive_all(
    archive: Archive, urls: Sequence[str], jobs: int | None, on_event: OnEvent | None
) -> dict[str, list[ArchiveResult]]:
    """{input URL: its results}: `archive_urls` yields a URL's results (one per post; a playlist has
    several) and then reports that URL done, which is where one URL's results end."""
    by_url: dict[str, list[ArchiveResult]] = {}
    pending: list[ArchiveResult] = []

    def track(event: Progress) -> None:
        if event.stage == "archive":
            by_url[event.item] = by_url.get(event.item, []) + pending
            pending.clear()
        if on_event:
            on_event(event)

    for result in archive_urls(archive, urls, jobs=jobs, on_event=track):
        pending.append(result)
    return by_url


def verify_urls(
    archive: Archive, table: VerifyTable, *, jobs: int | None = None, on_event: OnEvent | None = None
) -> list[VerifyRow]:
    """One row per input row (per post for a playlist URL), in input order.

    1. archive every URL (resumable); 2. match the whole archive (cached); 3. per URL, its cluster's
    earliest appearance and number of appearances.  A failed URL is a row with its error.
    """
    urls = [u for u in dict.fromkeys(table.url(row) for row in table.rows) if u]
    results = _archive_all(archive, urls, jobs, on_event)
    matches = archive_matches(archive, on_event=on_event)
    group_of = {sha: g for g in connected_groups(archived_media(archive), matches.values()) for sha in g}
    clusters: dict[frozenset[str], Cluster] = {}
    out: list[VerifyRow] = []
    for row in table.rows:
        url = table.url(row)
        if not url:
            error = ErrorInfo("bad_input", "the row has no URL")
            out.append(VerifyRow(columns=row, url="", status="failed", error=error))
            continue
        for result in results.get(url) or [_missing(url)]:
            sha = result.capture.sha256 if result.capture else None
            group = group_of.get(sha or "", frozenset({sha}) if sha else None)
            cluster = None
            if group is not None:
                if group not in clusters:
                    clusters[group] = cluster_of(archive, group, matches)
                cluster = clusters[group]
            out.append(_row(row, result, sha, cluster))
    return out


def _missing(url: str) -> ArchiveResult:
    """A URL that gave no post at all (an empty playlist or feed)."""
    error = ErrorInfo("no_video", f"{url}: no video found (an empty playlist or feed?)")
    return ArchiveResult(url=url, status="failed", error=error)


def _row(
    columns: tuple[tuple[str, str], ...], result: ArchiveResult, sha: str | None, cluster: Cluster | None
) -> VerifyRow:
    earliest = cluster.earliest if cluster else None
    return VerifyRow(
        columns=columns,
        url=result.url,
        status=result.status,
        capture_id=result.capture_id,
        sha256=sha,
        cluster_id=cluster.cluster_id if cluster else None,
        earliest_url=earliest.url if earliest else None,
        earliest_published_at=earliest.published_at if earliest else None,
        copies=len(cluster.appearances) if cluster else 0,
        error=result.error,
    )
