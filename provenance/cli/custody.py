"""Custody commands: check, timestamp, recheck, export, verify-bag; and the custody fields of archive."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from .. import pipeline, report_custody
from ..errors import ExitCode
from ..models import ArchiveResult
from .base import State, cli, emit_json, err, out, progress_bar

# The custody steps (yt-dlp, cryptography, bagit) are imported by the commands that run them, so that
# every other command, and --help, starts without them.


def custody_overrides(page: bool, stamp: bool) -> dict[str, dict[str, Any]]:
    """Settings for one `archive` run: --page keeps pages, --timestamp stamps new captures."""
    overrides: dict[str, dict[str, Any]] = {}
    if page:
        overrides["page"] = {"keep": True}
    if stamp:
        overrides["timestamp"] = {"on_archive": True}
    return overrides


def custody_fields(
    archive: pipeline.Archive, record: dict[str, Any], result: ArchiveResult, page: bool, stamp: bool
) -> dict[str, Any]:
    """`archive --json` with --page / --timestamp: the page kept and the stamps of the capture."""
    folder = result.capture.folder if result.capture else None
    if page:
        record["page"] = report_custody.page_record(archive.catalog.page_of(folder)) if folder else None
    if stamp:
        stamps = archive.catalog.stamps(folder) if folder else []
        record["timestamps"] = [report_custody.stamp_record(s, result.url) for s in stamps]
    return record


@cli.command()
@click.option(
    "--sample",
    type=click.FloatRange(0.0, 1.0, min_open=True),
    default=1.0,
    show_default=True,
    help="Share of files to read and hash (every file is still looked for).",
)
@click.option("--seed", type=int, default=None, help="Repeat the choice of a --sample run.")
@click.option(
    "--repair", is_flag=True, help="Rebuild derived data (keyframes, match cache, index); never media."
)
@click.option("--json", "as_json", is_flag=True, help="One JSON line per problem, then a summary line.")
@click.pass_obj
def check(state: State, sample: float, seed: int | None, repair: bool, as_json: bool) -> None:
    """Re-hash every kept file against the catalog: is the archive still intact?

    \b
    Every media, capture file, page, time-stamp token and keyframe is read through SHA-256 and
    compared with its catalog row; the folders are walked for files no row accounts for; kept
    tokens are verified again over their manifests. Problems: missing (a row without its file),
    changed (other bytes), stray (a file without a row), staging (left by a killed run),
    unreadable, timestamp, catalog. Nothing is changed, unless --repair: then keyframes are
    exported again from intact media, the search index is made anew, cached matches of damaged
    media are dropped and leftovers removed. Media and captures are never touched: restore them
    from a copy (`add` puts a lost media file back).
    Exit 0 when clean, 1 when problems were found.
    \b
    Examples:
      provenance check
      provenance check --sample 0.1          # a quick spot check of a tenth of the files
      provenance check --json > check.jsonl
    """
    from ..custody.fixity import check_archive

    with state.open("inspect") as opened, progress_bar("checking", err.is_terminal) as on_event:
        result = check_archive(opened, sample=sample, repair=repair, seed=seed, on_event=on_event)
    for problem in result.problems:
        if as_json:
            emit_json(report_custody.problem_record(problem))
        else:
            out.print(report_custody.problem_line(problem), markup=False)
    for action in result.repairs:
        if as_json:
            emit_json(report_custody.repair_record(action))
        else:
            out.print(
                f"repaired   {action.path}: {action.action.replace('_', ' ')} ({action.detail})", markup=False
            )
    if as_json:
        emit_json(report_custody.check_summary(result))
    else:
        err.print(report_custody.check_summary_line(result), markup=False)
    if not result.clean:
        raise SystemExit(ExitCode.PARTIAL)


@cli.command()
@click.option(
    "--tsa",
    "tsa_urls",
    multiple=True,
    metavar="URL",
    help="A time-stamping authority (repeatable); default: [timestamp] tsa_urls.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON line per stamp asked for.")
@click.pass_obj
def timestamp(state: State, tsa_urls: tuple[str, ...], as_json: bool) -> None:
    """RFC 3161 time-stamps for every capture not yet stamped by each TSA.

    \b
    For each capture, a manifest of its files' SHA-256s (media, info.json, thumbnails, page) is
    written, and its SHA-256 alone is sent to each TSA; the token it returns, the certificates it
    carries and the verification result are kept in <capture folder>/timestamps/. A TSA that fails
    is recorded and asked again by the next run. Nothing is sent unless a TSA is given or set.
    Exit 1 if any TSA failed.
    \b
    Examples:
      provenance timestamp --tsa https://freetsa.org/tsr
      provenance timestamp                      # the TSAs of [timestamp] tsa_urls
    """
    from ..custody.timestamps import stamp_captures

    with state.open("existing") as opened, progress_bar("stamping", err.is_terminal) as on_event:
        urls = {c.folder: c.url for c in opened.catalog.all_captures()}
        stamps = stamp_captures(opened, tsa_urls=list(tsa_urls) or None, on_event=on_event)
    for stamp in stamps:
        if as_json:
            emit_json(report_custody.stamp_record(stamp, urls.get(stamp.capture_folder)))
        else:
            out.print(report_custody.stamp_line(stamp, urls.get(stamp.capture_folder)), markup=False)
    failed = sum(1 for s in stamps if s.state == "failed")
    err.print(f"{len(stamps) - failed} stamped, {failed} failed" if stamps else "every capture is stamped")
    if failed:
        raise SystemExit(ExitCode.PARTIAL)


@cli.command(name="recheck")
@click.argument("urls", nargs=-1)
@click.option("--all", "every", is_flag=True, help="Every archived post.")
@click.option(
    "--fingerprint",
    is_flag=True,
    help="Download the media served now (into staging, then deleted) and compare its footage.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON line per post asked.")
@click.pass_obj
def recheck_command(
    state: State, urls: tuple[str, ...], every: bool, fingerprint: bool, as_json: bool
) -> None:
    """Is each archived post still up? Ask the site again; keep the answer in its history.

    \b
    No media is downloaded: yt-dlp reads the post's page again (and, for a removed post, the page's
    own words are read). Each answer is appended to the post's availability history: available,
    removed, private, geo_blocked, account_gone, changed (other media at the address: another
    post, another duration or another file size), or unknown (no answer). `earliest`, `clusters`
    and `report` then say "removed between T1 and T2" (last seen up, first seen gone).
    --fingerprint downloads the media each post serves now (never kept) and compares its footage
    with the archived fingerprint: a re-encode is the same post, other footage is `changed`.
    At most [recheck] jobs requests at once and one request per host every per_host_delay_s.
    Exit 1 if some posts could not be checked (unknown).
    \b
    Examples:
      provenance recheck --all
      provenance recheck https://example.org/watch?v=abc --json
      provenance recheck --all --fingerprint     # also: does the post still show the same footage?
    """
    from ..custody.availability import recheck_urls

    if bool(urls) == every:
        raise click.UsageError("give archived URLs, or --all")
    unknown = 0
    with state.open("existing") as opened, progress_bar("rechecking", err.is_terminal) as on_event:
        for check_ in recheck_urls(opened, list(urls) or None, fingerprint=fingerprint, on_event=on_event):
            unknown += check_.status == "unknown"
            summary = opened.catalog.availability_of(check_.capture_id, check_.checked_at)
            captured = opened.catalog.captures(capture_id=check_.capture_id)
            if captured:
                summary = opened.catalog.availability_of(check_.capture_id, captured[0].captured_at)
            if as_json:
                record = report_custody.availability_check_record(check_)
                record["availability"] = report_custody.availability_record(summary)
                emit_json(record)
            else:
                out.print(report_custody.availability_line(check_), markup=False)
                if gone := report_custody.gone_text(summary):
                    out.print(f"             {gone}", markup=False)
    if unknown:
        raise SystemExit(ExitCode.PARTIAL)


@cli.command()
@click.argument("target", metavar="CLUSTER_OR_URL")
@click.option(
    "--output",
    "-o",
    "out_dir",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="The bag's folder (new or empty).",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON line describing the bag.")
@click.pass_obj
def export(state: State, target: str, out_dir: Path, as_json: bool) -> None:
    """Export one cluster as a BagIt bag: media, captures, pages, time-stamps, report, manifest.

    \b
    CLUSTER_OR_URL is a cluster id (or a prefix of it, see `provenance clusters`), an archived URL,
    a file or a sha256: the bag holds that footage's cluster and nothing else. Each file is checked
    against the catalog as it is copied; a damaged one stops the export. data/case.json says what
    each part is; data/report.html is the cluster's report. Check a bag with `verify-bag`.
    \b
    Example:
      provenance export https://example.org/watch/123 -o case-123/
    """
    from ..custody.bags import export_bag

    with state.open("existing") as opened, progress_bar("matching", err.is_terminal) as on_event:
        bag = export_bag(opened, target, out_dir, on_event=on_event)
    if as_json:
        emit_json(report_custody.export_record(bag))
    else:
        what = f"{len(bag.members)} media, {bag.captures} captures"
        what += f", {bag.timestamps} time-stamps, {bag.pages} pages"
        size = f"{bag.files} files, {bag.bytes_total / 1e6:.1f} MB"
        out.print(f"bag: {bag.path} (cluster {bag.cluster_id[:16]}: {what}; {size})", markup=False)


@cli.command(name="verify-bag")
@click.argument("bag_dir", metavar="BAG", type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "--ca-file", "ca_files", multiple=True, metavar="PEM", help="Roots trusted for the time-stamps."
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object: valid, files, problems.")
def verify_bag_command(bag_dir: Path, ca_files: tuple[str, ...], as_json: bool) -> None:
    """Check a received bag: every file against its manifest, every time-stamp over its manifest.

    \b
    Works on any BagIt bag; on a bag made by `export` it also verifies each RFC 3161 token over
    the manifest it stamps, and that manifest over the bag's files. Each file that fails is named.
    Exit 0 when the bag is valid, 1 when it is not, 3 when BAG is not a bag.
    \b
    Example:
      provenance verify-bag case-123/
    """
    from ..custody.bags import verify_bag

    result = verify_bag(bag_dir, ca_files=ca_files)
    if as_json:
        emit_json(report_custody.bag_report_record(result))
    else:
        for problem in result.problems:
            out.print(f"invalid  {problem.path}: {problem.detail}", markup=False)
        verdict = "valid" if result.valid else f"INVALID ({len(result.problems)} problems)"
        stamps = (
            f"; {result.timestamps_verified} of {result.timestamps_checked} time-stamps verified to a root"
        )
        err.print(f"{result.path}: {verdict}: {result.files} files{stamps}", markup=False)
    if not result.valid:
        raise SystemExit(ExitCode.PARTIAL)


__all__ = ["Path", "custody_fields", "custody_overrides"]
