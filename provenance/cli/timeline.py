"""Commands on clusters of copies: earliest, clusters, verify, report."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table

from .. import pipeline, report, report_timeline
from ..errors import ExitCode
from .base import State, cli, emit_json, err, items_only, out, progress_bar


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
def earliest(state: State, target: str, as_json: bool) -> None:
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
    with (
        state.open("existing") as opened,
        progress_bar("matching", not as_json and err.is_terminal) as on_event,
    ):
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
def clusters(state: State, as_json: bool, as_csv: bool, singletons: bool) -> None:
    """List every group of archived media that share footage, biggest first.

    \b
    Examples:
      provenance clusters
      provenance clusters --csv > clusters.csv
    """
    if as_json and as_csv:
        raise click.UsageError("give --json or --csv, not both")
    show_bar = not (as_json or as_csv) and err.is_terminal
    with state.open("existing") as opened, progress_bar("matching", show_bar) as on_event:
        found = pipeline.list_clusters(opened, singletons=singletons, on_event=on_event)
    rows = [report_timeline.cluster_row(c) for c in found]
    if as_json:
        for cluster in found:
            emit_json(report_timeline.cluster_record(cluster))
    elif as_csv:
        click.echo(report.table_text(rows, report_timeline.CLUSTER_COLUMNS, jsonl=False), nl=False)
    else:
        _print_tables([report_timeline.clusters_text(found)])
        for cluster in found:
            for line in report_timeline.gone_lines(cluster):
                out.print(f"cluster {cluster.cluster_id[:16]} {line}", markup=False)
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
def verify(state: State, table_file: Path, output: Path | None, jobs: int | None, as_json: bool) -> None:
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
        rows = pipeline.verify_urls(opened, table, jobs=jobs, on_event=items_only(on_event))
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
def report_command(state: State, target: str, output: Path, as_json: bool) -> None:
    """Write a self-contained HTML report on TARGET's cluster: timeline, keyframes, custody, caveats.

    \b
    The page loads nothing from elsewhere (no scripts, styles or fonts): open it offline, attach it.
    \b
    Example:
      provenance report https://example.org/watch/123 -o report.html
    """
    with (
        state.open("existing") as opened,
        progress_bar("matching", not as_json and err.is_terminal) as on_event,
    ):
        evidence = pipeline.gather_evidence(opened, target, on_event=on_event)
    path = report.write_html(evidence, Path(output))
    record = report_timeline.report_record(path, evidence)
    if as_json:
        emit_json(record)
    else:
        out.print(
            f"report: {path} (cluster {record['cluster_id'][:16]}, {record['appearances']} appearances)"
        )
