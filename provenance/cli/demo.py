"""The built-in demo command."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table

from ..errors import ExitCode
from ..models import to_jsonable
from .base import cli, emit_json, err, out, progress_bar


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
    """Run the whole job offline: publish clips and edited copies, archive them, show what matches.

    Uses the bundled ffmpeg to generate three source clips, one unrelated clip and edited copies
    (re-encoded and downscaled, mirrored, cut), publishes each on a small video site on 127.0.0.1
    (pages with upload dates), archives every page with yt-dlp into a fresh archive in --out, then
    matches each copy and names its earliest appearance. Then it stamps every capture with an RFC 3161
    TSA it runs on 127.0.0.1 and exports the first copy's cluster as a BagIt bag in --out/case.
    """
    from ..demo import run_demo

    with progress_bar("demo", not as_json and err.is_terminal) as on_event:
        outcome = run_demo(out_dir, on_event=on_event)
    custody = outcome.custody
    if as_json:
        for row in outcome.rows:
            emit_json(to_jsonable(row))
        if custody is not None:
            emit_json(to_jsonable(custody))
    else:
        table = Table(
            "edited copy", "edit", "true source", "best match", "score", "segment", "earliest upload", "ok"
        )
        for row in outcome.rows:
            page = (row.earliest_url or "-").rsplit("/", 1)[-1]
            earliest = f"{page} {row.earliest_published_at or ''}"
            table.add_row(
                row.copy,
                row.edit,
                row.source,
                row.best_match or "-",
                f"{row.score:.2f}",
                row.segment or "-",
                earliest,
                "yes" if row.ok else "NO",
            )
        out.print(table)
        err.print(
            f"archive: {outcome.archive} ({outcome.media} media); try: "
            f"provenance --archive {outcome.archive} clusters"
        )
        if custody is not None:
            err.print(
                f"time-stamps: {custody.stamped} of {custody.captures} captures stamped by a loopback TSA"
                f" ({custody.verified} verified to its root, which no one else trusts)",
                markup=False,
            )
            if custody.bag:
                verdict = "valid" if custody.bag_valid else "INVALID"
                err.print(
                    f"bag: {custody.bag} ({custody.bag_files} files, {verdict});"
                    f" try: provenance verify-bag {custody.bag}",
                    markup=False,
                )
            for note in custody.notes:
                err.print(f"note: {note}", markup=False)
    if not all(row.ok for row in outcome.rows):
        raise SystemExit(ExitCode.PARTIAL)
