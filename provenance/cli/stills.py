"""The keyframes command: frames to take to reverse image search."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table
from rich.text import Text

from .. import pipeline
from .base import State, cli, emit_json, err, out


@cli.command()
@click.argument("target")
@click.option(
    "-o",
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder for the keyframe JPEGs (archived media keep theirs in the archive too).",
)
@click.option(
    "--sheet",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also write a contact sheet (a grid with time codes) to this JPEG.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON line per keyframe.")
@click.pass_obj
def keyframes(state: State, target: str, out_dir: Path | None, sheet: Path | None, as_json: bool) -> None:
    """Export one keyframe per shot of a video (file, archived URL or sha256) for reverse image search.

    \b
    Shots are found at hard cuts, fades and dissolves; each keyframe is the sharpest frame of its
    shot, named by its time in milliseconds. Upload them to the search engines listed (local files
    cannot be searched by address).
    \b
    Examples:
      provenance keyframes clip.mp4 -o frames/ --sheet sheet.jpg
      provenance keyframes 3f2a9c0d41b7 --json
    """
    from ..keyframes import search_links, timecode  # OpenCV: loaded by this command only

    with state.open("optional") as opened:
        found = pipeline.keyframes_of(opened, target, out_dir=out_dir, sheet=sheet)
    links = search_links(None)
    if as_json:
        for k in found.keyframes:
            emit_json(
                {
                    "type": "keyframe",
                    "t": round(k.t_ms / 1000, 3),
                    "shot": k.shot_index,
                    "path": str(k.path),
                    "sharpness": round(k.sharpness, 2),
                    "search": links,
                }
            )
        return
    table = Table(
        "time",
        "shot",
        "sharpness",
        "file",
        title=Text(f"Keyframes of {found.target.label}"),
        title_justify="left",
    )
    for k in found.keyframes:
        table.add_row(timecode(k.t_ms), str(k.shot_index + 1), f"{k.sharpness:.0f}", str(k.path))
    out.print(table)
    if found.sheet:
        out.print(f"contact sheet: {found.sheet}", markup=False)
    err.print("provenance: search by image: upload a keyframe to " + ", ".join(links.values()), markup=False)
