"""The command that archives posts from the web."""

from __future__ import annotations

from pathlib import Path

import click

from .. import pipeline, report
from ..errors import ExitCode, UsageError
from .base import (
    State,
    cli,
    dask_option,
    emit_json,
    err,
    items_only,
    match_overrides,
    no_match_option,
    out,
    progress_bar,
)
from .custody import custody_fields, custody_overrides


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
@click.option("--page", is_flag=True, help="Also keep each post's page: WARC + WACZ, and a screenshot.")
@click.option(
    "--timestamp", "stamp", is_flag=True, help="RFC 3161-stamp each new capture with the configured TSAs."
)
@no_match_option
@dask_option
@click.option("--json", "as_json", is_flag=True, help="One JSON line per URL.")
@click.pass_obj
def archive(
    state: State,
    urls: tuple[str, ...],
    input_file: Path | None,
    jobs: int | None,
    refresh: bool,
    page: bool,
    stamp: bool,
    no_match: bool,
    dask: str | None,
    as_json: bool,
) -> None:
    """Download posts with yt-dlp and keep them: media, platform info, thumbnails, SHA-256.

    \b
    Any site yt-dlp supports works. Each URL becomes a capture: who posted it, when the platform says
    it was published (with the precision it gives), when it was captured and with which tools.
    Archiving a post again reports `exists` without downloading; a batch that was killed resumes
    when run again with the same list.  At the end the new media are matched against the archive and
    the matches kept, so `clusters` answers at once (--no-match leaves that to `clusters`).
    \b
    Examples:
      provenance archive https://example.org/watch?v=abc
      provenance archive -i urls.txt --jobs 4
      provenance archive -i urls.csv --json > results.jsonl
      provenance archive https://example.org/watch?v=abc --page --timestamp
      provenance archive -i urls.txt --dask tcp://scheduler:8786
    \b
    --page fetches the post's page from its site once more (with its images, styles and scripts) and
    keeps it in the capture folder; --timestamp sends the SHA-256 of each new capture's manifest to
    the TSAs of [timestamp] tsa_urls (nothing else, and nothing at all when none is configured).
    \b
    With --dask, downloads still run here; the cluster's workers describe and fingerprint each one
    in the archive's staging folder, so the archive must be on a filesystem they share; matching
    the new media runs here.
    """
    wanted = list(urls) + (pipeline.read_url_list(input_file) if input_file else [])
    if not wanted:
        raise click.UsageError("give URLs, or a list of them with --input FILE")
    counts = {"archived": 0, "exists": 0, "failed": 0}
    overrides = {**custody_overrides(page, stamp), **match_overrides(no_match)}
    with (
        state.open(overrides=overrides) as opened,
        progress_bar("archiving", not as_json and err.is_terminal) as on_event,
    ):
        if stamp and not opened.settings.timestamp.tsa_urls:
            raise UsageError(
                "--timestamp: no time-stamping authority configured",
                hint="set [timestamp] tsa_urls in provenance.toml or PROVENANCE_TIMESTAMP_TSA_URLS",
            )
        for result in pipeline.archive_urls(
            opened, wanted, jobs=jobs, refresh=refresh, on_event=items_only(on_event), dask=dask
        ):
            counts[result.status] += 1
            if result.error:
                err.print(f"provenance: {result.error.message}", markup=False)
            if as_json:
                emit_json(custody_fields(opened, report.archive_record(result), result, page, stamp))
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
