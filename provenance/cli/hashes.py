"""The `hashes` commands: share fingerprints without the footage, and receive other sources' lists."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table

from .. import hashlists, pipeline
from ..models import to_jsonable
from .base import State, cli, emit_json, err, out, progress_bar


@cli.group()
def hashes() -> None:
    """Share fingerprints without the footage, and match against other sources' fingerprints.

    \b
    Team A exports the fingerprints of a cluster; team B imports them and finds its copies:
      provenance hashes export 3f2a9c0d41b7 -o strike.jsonl               # native, lossless
      provenance hashes export --all -o archive.vpdq.jsonl --format vpdq  # ThreatExchange vPDQ
      provenance hashes import strike.jsonl --source "partner-newsroom"
      provenance match clip.mp4                                           # imported media are matched too
      provenance hashes list                                              # what was imported, from whom
    An exported list holds no file names, paths or uploaders unless --with-context is given.
    """


@hashes.command(name="export")
@click.argument("target", required=False)
@click.option("--all", "all_media", is_flag=True, help="Every archived media instead of one cluster.")
@click.option(
    "--output",
    "-o",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="The list to write.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(hashlists.FORMATS),
    default="provenance",
    show_default=True,
    help="provenance: every fingerprint, lossless; vpdq: ThreatExchange's vPDQ feature lists (PDQ of "
    "whole frames); pdq-csv: one PDQ hash and quality per line (hash banks).",
)
@click.option(
    "--with-context", is_flag=True, help="Also write file names, source paths, uploaders and titles."
)
@click.option("--json", "as_json", is_flag=True, help="One JSON summary line.")
@click.pass_obj
def export_command(
    state: State,
    target: str | None,
    all_media: bool,
    output: Path,
    fmt: str,
    with_context: bool,
    as_json: bool,
) -> None:
    """Write the fingerprints of one cluster, or of the whole archive, to a hash list.

    \b
    TARGET is a cluster id (or a prefix of 8+ digits, from `provenance clusters`), or an archived
    URL, a file or a sha256 whose cluster is exported. What the format cannot carry (pHash frames
    in vPDQ, frame times in PDQ CSV) is said in the summary on stderr. vpdq and pdq-csv decode each
    media again: those tools compare PDQ of whole frames.
    \b
    Examples:
      provenance hashes export 3f2a9c0d41b7 -o strike.jsonl
      provenance hashes export --all -o strike.vpdq.jsonl --format vpdq
      provenance hashes export --all -o bank.csv --format pdq-csv
    """
    with state.open("existing") as opened, progress_bar("exporting", not as_json and err.is_terminal) as bar:
        summary = pipeline.export_hashlist(
            opened,
            output,
            target=target,
            all_media=all_media,
            fmt=fmt,
            with_context=with_context,
            on_event=bar,
        )
    if as_json:
        emit_json({**to_jsonable(summary), "type": "hashlist_export", "path": str(output)})
    else:
        out.print(
            f"exported {summary.media} media ({summary.frames} frame hashes) as {fmt} to {output}",
            markup=False,
        )
    for note in summary.left_out:
        err.print(f"left out: {note}", markup=False)


@hashes.command(name="import")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--source", required=True, help="Who the list came from (a short name, shown with every match)."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(("auto", *hashlists.FORMATS)),
    default="auto",
    show_default=True,
    help="auto: a JSON object per line is provenance, a JSON list vpdq, a hex hash pdq-csv.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON summary line.")
@click.pass_obj
def import_command(state: State, path: Path, source: str, fmt: str, as_json: bool) -> None:
    """Import another source's hash list: fingerprints of media whose files you do not have.

    \b
    The media become part of the archive without bytes: `match` finds them (labelled by source),
    `clusters` and `earliest` include them (a published time that came with them is shown as
    asserted by that source). Importing the same list again changes nothing; a malformed line stops
    the import with its line number and nothing of the list is kept.
    \b
    Examples:
      provenance hashes import strike.jsonl --source "partner-newsroom"
      provenance hashes import bank.csv --source "hma-bank" --format pdq-csv
    """
    with state.open() as opened, progress_bar("importing", not as_json and err.is_terminal) as bar:
        summary = pipeline.import_hashlist(opened, path, source=source, fmt=fmt, on_event=bar)
    if as_json:
        emit_json(to_jsonable(summary))
        return
    out.print(
        f"{summary.status}: {summary.media_added} new, {summary.media_updated} updated, "
        f"{summary.media_unchanged} already there ({summary.frames} frame hashes, {summary.format}) "
        f"from {summary.source}",
        markup=False,
    )


@hashes.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="One JSON line per imported list.")
@click.pass_obj
def list_command(state: State, as_json: bool) -> None:
    """List the imported hash lists: from whom, when, which file, how many media and frame hashes."""
    with state.open("existing") as opened:
        found = pipeline.list_hashlists(opened)
    if as_json:
        for item in found:
            emit_json(to_jsonable(item))
        return
    table = Table("id", "source", "file", "format", "imported", "media", "frame hashes")
    for item in found:
        table.add_row(
            str(item.hashlist_id),
            item.source,
            item.name,
            item.format,
            item.imported_at.strftime("%Y-%m-%d %H:%M"),
            str(item.media),
            str(item.frames),
        )
    out.print(table)
    err.print(f"{len(found)} imported list(s)")
