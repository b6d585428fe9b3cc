"""The `provenance` command: parse, call the library, render.  No logic of its own.

Human output goes to stdout (Rich tables), progress and errors to stderr; ``--json`` prints one
JSON object per line.  Exit codes: 0 ok, 1 some items failed or internal error, 2 usage, 3 bad
input, 4 archive unusable, 130 interrupted.
"""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from . import __version__, pipeline, report, report_timeline
from .errors import ExitCode, ProvenanceError
from .models import Progress as ProgressEvent

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def emit_json(record: dict[str, Any]) -> None:
    click.echo(json.dumps(record, ensure_ascii=False, sort_keys=False))


class _State:
    def __init__(self, archive: str | None, debug: bool) -> None:
        self.archive_dir = archive
        self.debug = debug

    def open(self) -> pipeline.Archive:
        return pipeline.open_archive(self.archive_dir)


@contextmanager
def progress_bar(label: str, enabled: bool) -> Iterator[Callable[[ProgressEvent], None]]:
    """A Rich progress bar on stderr fed by the library's on_event callback."""
    if not enabled:
        yield lambda event: None
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task(label, total=None)

        def update(event: ProgressEvent) -> None:
            bar.update(
                task, completed=event.done, total=event.total, description=f"{label} {Path(event.item).name}"
            )

        yield update


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "--archive",
    "archive",
    metavar="DIR",
    envvar="PROVENANCE_ARCHIVE",
    help="Archive folder (default: $PROVENANCE_ARCHIVE, else ./provenance-archive).",
)
@click.option("--debug", is_flag=True, help="Show the full traceback of internal errors.")
@click.version_option(__version__, prog_name="provenance")
@click.pass_context
def cli(ctx: click.Context, archive: str | None, debug: bool) -> None:
    """Keep, describe and fingerprint footage; find which files show the same footage.

    \b
    Typical session:
      provenance add ~/cases/strike/            # files and folders of videos and photos
      provenance match suspect_copy.mp4         # which archived media share footage, and where
      provenance info suspect_copy.mp4          # what the file says about itself
      provenance list                           # what the archive holds
      provenance earliest suspect_copy.mp4      # which upload came first; where each copy came from
    Every command takes --json for scripts (one JSON object per line).
    """
    ctx.obj = _State(archive, debug)


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=str))
@click.option("--jobs", "-j", type=click.IntRange(1, 64), default=None, help="Files processed at once.")
@click.option("--json", "as_json", is_flag=True, help="One JSON line per file.")
@click.pass_obj
def add(state: _State, paths: tuple[str, ...], jobs: int | None, as_json: bool) -> None:
    """Add video and photo files (or folders of them) to the archive.

    Each file is copied into the archive under its SHA-256, described, and fingerprinted.
    Adding a file that is already there reports `exists` and stores nothing twice.
    """
    counts = {"added": 0, "exists": 0, "failed": 0}
    with state.open() as opened, progress_bar("adding", not as_json and err.is_terminal) as on_event:
        for result in pipeline.add_files(opened, paths, jobs=jobs, on_event=on_event):
            counts[result.status] += 1
            if result.error:
                err.print(f"provenance: {result.error.message}", markup=False)
            if as_json:
                emit_json(report.add_record(result))
            else:
                sha = (result.sha256 or "")[:12]
                out.print(f"{result.status:<7} {sha:<12} {result.path}", markup=False)
    if not as_json and sum(counts.values()) > 1:  # a single file's outcome is its own line already
        err.print(f"{counts['added']} added, {counts['exists']} already archived, {counts['failed']} failed")
    if counts["failed"]:
        ok = counts["added"] + counts["exists"]
        raise SystemExit(ExitCode.PARTIAL if ok else ExitCode.BAD_INPUT)


@cli.command()
@click.argument("urls", nargs=-1)
@click.option(
    "--input",
    "-i",
    "input_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="A list of URLs: a .txt file (one per line) or a .csv file with a `url` column.",
)
@click.option("--jobs", "-j", type=click.IntRange(1, 32), default=None, help="Downloads at once.")
@click.option("--refresh", is_flag=True, help="Capture again posts already archived (kept beside the old).")
@click.option("--json", "as_json", is_flag=True, help="One JSON line per URL.")
@click.pass_obj
def archive(
    state: _State,
    urls: tuple[str, ...],
    input_file: Path | None,
    jobs: int | None,
    refresh: bool,
    as_json: bool,
) -> None:
    """Download posts with yt-dlp and keep them: media, platform info, thumbnails, SHA-256.

    \b
    Any site yt-dlp supports works. Each URL becomes a capture: who posted it, when the platform says
    it was published (with the precision it gives), when it was captured and with which tools.
    Archiving a post again reports `exists` without downloading; a batch that was killed resumes
    when run again with the same list.
    \b
    Examples:
      provenance archive https://example.org/watch?v=abc
      provenance archive -i urls.txt --jobs 4
      provenance archive -i urls.csv --json > results.jsonl
    """
    wanted = list(urls) + (pipeline.read_url_list(input_file) if input_file else [])
    if not wanted:
        raise click.UsageError("give URLs, or a list of them with --input FILE")
    counts = {"archived": 0, "exists": 0, "failed": 0}
    with state.open() as opened, progress_bar("archiving", not as_json and err.is_terminal) as on_event:
        for result in pipeline.archive_urls(opened, wanted, jobs=jobs, refresh=refresh, on_event=on_event):
            counts[result.status] += 1
            if result.error:
                err.print(f"provenance: {result.error.message}", markup=False)
            if as_json:
                emit_json(report.archive_record(result))
            else:
                record = report.archive_record(result)
                when = record["published_at"] or "-"
                out.print(
                    f"{result.status:<8} {(record['sha256'] or '')[:12]:<12} {when:<20} {result.url}",
                    markup=False,
                )
    if not as_json and sum(counts.values()) > 1:
        err.print(
            f"{counts['archived']} archived, {counts['exists']} already archived, {counts['failed']} failed"
        )
    if counts["failed"]:
        ok = counts["archived"] + counts["exists"]
        raise SystemExit(ExitCode.PARTIAL if ok else ExitCode.BAD_INPUT)


@cli.command()
@click.argument("target")
@click.option("--json", "as_json", is_flag=True, help="One JSON line per matching media, best first.")
@click.pass_obj
def match(state: _State, target: str, as_json: bool) -> None:
    """List archived media that share footage with TARGET (a file, or an archived sha256).

    Each match gives a score in [0, 1] (how much of the query or of the archived media the
    shared footage covers) and the aligned segments: query time ~ archived media time.
    """
    with state.open() as opened:
        resolved, matches = pipeline.find_matches(opened, target)
        records = [
            report.match_record(
                m, opened.catalog.get_media(m.ref_sha256), opened.catalog.sources(m.ref_sha256)
            )
            for m in matches
        ]
    if as_json:
        for record in records:
            emit_json(record)
        return
    if not records:
        out.print(f"No archived media shares footage with {resolved.label}.", markup=False)
        return
    table = Table(title=f"Footage shared with {resolved.label}", title_justify="left")
    for column in ("score", "archived media", "sha256", "segments (query ~ archived)"):
        table.add_column(column)
    for m, record in zip(matches, records, strict=True):
        table.add_row(
            f"{m.score:.2f}",
            record["name"] or "",
            m.ref_sha256[:12],
            "\n".join(report.describe_segment(s) for s in m.segments),
        )
    out.print(table)


@cli.command()
@click.argument("target")
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
@click.pass_obj
def info(state: _State, target: str, as_json: bool) -> None:
    """Show what a file, archived URL or sha256 says about itself: streams, tags, time, place, device,
    and the captures of it in the archive."""
    with state.open() as opened:
        resolved, media_info = pipeline.media_info(opened, target)
        sources = opened.catalog.sources(resolved.sha256) if resolved.archived else []
    record = report.info_record(
        media_info,
        path=resolved.path,
        archived=resolved.archived is not None,
        sources=sources,
        captures=resolved.captures,
    )
    if as_json:
        emit_json(record)
        return
    table = Table(show_header=False, title=str(resolved.label), title_justify="left")
    table.add_column("field", style="bold")
    table.add_column("value")
    created = record["created_at"]
    location = record["location"]
    rows = [
        ("sha256", record["sha256"]),
        ("kind", record["kind"]),
        ("archived", "yes" if record["archived"] else "no"),
        *((k, "" if v is None else str(v)) for k, v in record["container"].items()),
        ("created", f"{created['value']} ({created['precision']}, {created['source']})" if created else "-"),
        ("location", f"{location['lat']:.5f}, {location['lon']:.5f}" if location else "-"),
        *((k, v or "-") for k, v in record["device"].items()),
    ]
    for key, value in rows:
        table.add_row(key, value)
    out.print(table)
    if record["captures"]:
        captures = Table(
            "published", "precision", "uploader", "url", "captured", title="captures", title_justify="left"
        )
        for c in record["captures"]:
            captures.add_row(
                c["published_at"] or "-",
                c["published_precision"] or "-",
                c["uploader"] or "-",
                c["url"],
                c["captured_at"],
            )
        out.print(captures)
    if record["raw_tags"]:
        tags = Table("tag", "value", title="raw tags", title_justify="left")
        for key, value in record["raw_tags"].items():
            tags.add_row(key, value[:200])
        out.print(tags)


@cli.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="One JSON line per archived media.")
@click.pass_obj
def list_media(state: _State, as_json: bool) -> None:
    """List the media in the archive, oldest first."""
    with state.open() as opened:
        media = opened.catalog.list_media()
        if as_json:
            for item in media:
                emit_json(report.media_record(item, opened.root))
            return
    table = Table("sha256", "kind", "name", "duration", "size", "fingerprints", "added")
    for item in media:
        duration = f"{item.duration_s:.1f}s" if item.duration_s else "-"
        table.add_row(
            item.sha256[:12],
            item.kind,
            item.original_name,
            duration,
            f"{item.width}x{item.height}",
            ",".join(item.fingerprints),
            item.added_at.strftime("%Y-%m-%d %H:%M"),
        )
    out.print(table)
    err.print(f"{len(media)} media in {opened.root}")


def _items_only(on_event: Callable[[ProgressEvent], None]) -> Callable[[ProgressEvent], None]:
    """Progress in items (URLs archived, media matched), without the download bytes of each item."""
    return lambda event: None if event.stage == "download" else on_event(event)


def _print_tables(tables: list[report_timeline.TextTable]) -> None:
    for title, headers, rows in tables:
        table = Table(*headers, title=title or None, title_justify="left")
        table.columns[0].no_wrap = True  # the key column (an id, a row number): never cut
        for row in rows:
            table.add_row(*row)
        out.print(table)


@cli.command()
@click.argument("target")
@click.option("--json", "as_json", is_flag=True, help="One JSON object (the contract is in the README).")
@click.pass_obj
def earliest(state: _State, target: str, as_json: bool) -> None:
    """Which appearance of TARGET's footage came first, and where each copy came from.

    \b
    TARGET is an archived URL, a file (archived or not) or a sha256 (prefix ok). Its cluster is
    every archived media that shares footage with it; appearances are ordered by published time as
    intervals (a date is the whole day: an overlap with a precise time is reported as ambiguous).
    Matches between archived media are computed once and cached in the catalog.
    \b
    Examples:
      provenance earliest https://example.org/watch/123
      provenance earliest clip.mp4 --json
    """
    with state.open() as opened, progress_bar("matching", not as_json and err.is_terminal) as on_event:
        _, cluster = pipeline.build_timeline(opened, target, on_event=on_event)
    if as_json:
        emit_json(report_timeline.earliest_record(target, cluster))
        return
    if cluster is None:
        out.print(f"No archived media shares footage with {target}.", markup=False)
        return
    head, tables, notes = report_timeline.cluster_text(cluster)
    for line in head:
        out.print(line, markup=False)
    _print_tables(tables)
    for line in notes:
        out.print(line, markup=False)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON line per cluster.")
@click.option("--csv", "as_csv", is_flag=True, help="CSV on stdout, one row per cluster.")
@click.option("--all", "singletons", is_flag=True, help="Also list media that share footage with no other.")
@click.pass_obj
def clusters(state: _State, as_json: bool, as_csv: bool, singletons: bool) -> None:
    """List every group of archived media that share footage, biggest first.

    \b
    Examples:
      provenance clusters
      provenance clusters --csv > clusters.csv
    """
    if as_json and as_csv:
        raise click.UsageError("give --json or --csv, not both")
    show_bar = not (as_json or as_csv) and err.is_terminal
    with state.open() as opened, progress_bar("matching", show_bar) as on_event:
        found = pipeline.list_clusters(opened, singletons=singletons, on_event=on_event)
    rows = [report_timeline.cluster_row(c) for c in found]
    if as_json:
        for cluster in found:
            emit_json(report_timeline.cluster_record(cluster))
    elif as_csv:
        click.echo(report.table_text(rows, report_timeline.CLUSTER_COLUMNS, jsonl=False), nl=False)
    else:
        _print_tables([report_timeline.clusters_text(found)])
        err.print(f"{len(found)} cluster(s)")


@cli.command()
@click.argument("table_file", metavar="URLS", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the results here: CSV, or JSON lines when the name ends in .jsonl.",
)
@click.option("--jobs", "-j", type=click.IntRange(1, 32), default=None, help="Downloads at once.")
@click.option("--json", "as_json", is_flag=True, help="One JSON line per row on stdout.")
@click.pass_obj
def verify(state: _State, table_file: Path, output: Path | None, jobs: int | None, as_json: bool) -> None:
    """Archive every URL of a table, then name each one's earliest appearance.

    \b
    URLS is a CSV file with a `url` column (other columns are passed through) or a text file with
    one URL per line. Each output row adds: status, capture_id, sha256, cluster_id, earliest_url,
    earliest_published_at, earliest_precision, copies (appearances of the footage), error.
    Run it again with the same table to resume; exit 1 if any row failed.
    \b
    Example:
      provenance verify urls.csv -o results.csv
    """
    table = pipeline.read_verify_table(table_file)
    with state.open() as opened, progress_bar("verifying", not as_json and err.is_terminal) as on_event:
        rows = pipeline.verify_urls(opened, table, jobs=jobs, on_event=_items_only(on_event))
    records = [report_timeline.verify_record(r) for r in rows]
    if output:
        report.write_table(
            output, records, list(dict.fromkeys([*table.columns, *report_timeline.VERIFY_COLUMNS]))
        )
    for row in rows:
        if row.error:
            err.print(f"provenance: {row.error.message}", markup=False)
    if as_json:
        for record in records:
            emit_json({"type": "verify_row", **record})
    else:
        _print_tables([report_timeline.verify_text(rows)])
    failed = sum(1 for r in rows if r.status == "failed")
    err.print(
        f"{len(rows) - failed} verified, {failed} failed" + (f"; results in {output}" if output else "")
    )
    if failed:
        raise SystemExit(ExitCode.PARTIAL)


@cli.command(name="report")
@click.argument("target")
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path, dir_okay=False),
    default="report.html",
    show_default=True,
    help="The HTML file to write.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON line naming the report written.")
@click.pass_obj
def report_command(state: _State, target: str, output: Path, as_json: bool) -> None:
    """Write a self-contained HTML report on TARGET's cluster: timeline, keyframes, custody, caveats.

    \b
    The page loads nothing from elsewhere (no scripts, styles or fonts): open it offline, attach it.
    \b
    Example:
      provenance report https://example.org/watch/123 -o report.html
    """
    with state.open() as opened, progress_bar("matching", not as_json and err.is_terminal) as on_event:
        evidence = pipeline.gather_evidence(opened, target, on_event=on_event)
    path = report.write_html(evidence, Path(output))
    record = report_timeline.report_record(path, evidence)
    if as_json:
        emit_json(record)
    else:
        out.print(
            f"report: {path} (cluster {record['cluster_id'][:16]}, {record['appearances']} appearances)"
        )


@cli.command()
@click.option(
    "--out",
    "out_dir",
    default="provenance-demo",
    show_default=True,
    type=click.Path(path_type=Path),
    help="Folder for the demo's clips and archive (made anew).",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON line per edited copy.")
def demo(out_dir: Path, as_json: bool) -> None:
    """Run the whole job offline: make clips and edited copies, archive them, show what matches.

    Uses the bundled ffmpeg to generate three source clips and edited copies (re-encoded,
    downscaled, cut, mirrored), adds everything to a fresh archive in --out, then matches each
    copy against the archive.
    """
    from .demo import run_demo

    with progress_bar("demo", not as_json and err.is_terminal) as on_event:
        outcome = run_demo(out_dir, on_event=on_event)
    if as_json:
        for row in outcome.rows:
            emit_json({"type": "demo_row", **row})
    else:
        table = Table("edited copy", "edit", "true source", "best match", "score", "segment", "ok")
        for row in outcome.rows:
            table.add_row(
                row["copy"],
                row["edit"],
                row["source"],
                row["best_match"] or "-",
                f"{row['score']:.2f}",
                row["segment"] or "-",
                "yes" if row["ok"] else "NO",
            )
        out.print(table)
        err.print(
            f"archive: {outcome.archive} ({outcome.media} media); try: "
            f"provenance --archive {outcome.archive} list"
        )
    if not all(row["ok"] for row in outcome.rows):
        raise SystemExit(ExitCode.PARTIAL)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI and turn every outcome into an exit code."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        cli.main(args=argv, prog_name="provenance", standalone_mode=False)
    except click.exceptions.Abort:
        err.print("provenance: interrupted; finished items are kept")
        sys.exit(ExitCode.INTERRUPTED)
    except click.ClickException as exc:
        exc.show()
        sys.exit(ExitCode.USAGE if isinstance(exc, click.UsageError) else exc.exit_code)
    except ProvenanceError as exc:
        err.print(f"provenance: error: {exc.one_line()}", markup=False)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err.print("provenance: interrupted; finished items are kept")
        sys.exit(ExitCode.INTERRUPTED)
    except BrokenPipeError:
        sys.stderr.close()
        sys.exit(ExitCode.OK)
    except Exception as exc:  # an internal error: one line, the traceback with --debug
        if debug:
            traceback.print_exc()
        err.print(
            f"provenance: internal error: {type(exc).__name__}: {exc} (run with --debug for details)",
            markup=False,
        )
        sys.exit(ExitCode.PARTIAL)
    sys.exit(ExitCode.OK)
