"""The built-in demo command."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table

from ..errors import ExitCode
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
    """Run the whole job offline: make clips and edited copies, archive them, show what matches.

    Uses the bundled ffmpeg to generate three source clips and edited copies (re-encoded,
    downscaled, cut, mirrored), adds everything to a fresh archive in --out, then matches each
    copy against the archive.
    """
    from ..demo import run_demo

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
