"""What every command shares: the group, the consoles, JSON lines and the progress bar."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from .. import __version__, pipeline
from ..models import Progress as ProgressEvent
from ..settings import load_settings

# Piped or redirected, tables keep their full width (Rich would cut them at 80 columns): a script or
# a `> file` gets every character of a URL or a path.
_PIPED_WIDTH = 4096
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else _PIPED_WIDTH)
err = Console(stderr=True, highlight=False, soft_wrap=True)
_log_handler: logging.Handler | None = None


def configure_logging(debug: bool) -> None:
    """Our warnings on stderr as one line each; other libraries' warnings (Pillow's "corrupt EXIF",
    numpy's, exifread's) only with --debug: the input they are about is reported by us already."""
    global _log_handler
    logging.captureWarnings(True)
    root = logging.getLogger()
    if _log_handler is not None:
        root.removeHandler(_log_handler)
    _log_handler = logging.StreamHandler(sys.stderr)
    _log_handler.setFormatter(logging.Formatter("provenance: %(levelname)s: %(message)s"))
    if not debug:
        _log_handler.addFilter(lambda record: record.name.startswith("provenance"))
    root.addHandler(_log_handler)
    root.setLevel(logging.DEBUG if debug else logging.WARNING)


def emit_json(record: dict[str, Any]) -> None:
    click.echo(json.dumps(record, ensure_ascii=False, sort_keys=False))


class State:
    def __init__(self, archive: str | None, debug: bool) -> None:
        self.archive_dir = archive
        self.debug = debug

    def open(
        self, mode: pipeline.OpenMode = "create", overrides: dict[str, dict[str, Any]] | None = None
    ) -> pipeline.Archive:
        """The archive, with settings from its provenance.toml, the environment and these overrides."""
        if not overrides:
            return pipeline.open_archive(self.archive_dir, mode=mode)
        root = pipeline.resolve_archive_root(self.archive_dir)
        return pipeline.open_archive(root, load_settings(root, overrides), mode=mode)


# Stages that a command runs after its own, shown under their own name.
_STAGE_LABELS = {"match": "matching"}


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
            shown = _STAGE_LABELS.get(event.stage, label)  # `add` ends by matching what it added
            bar.update(
                task, completed=event.done, total=event.total, description=f"{shown} {Path(event.item).name}"
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
    ctx.obj = State(archive, debug)


def items_only(on_event: Callable[[ProgressEvent], None]) -> Callable[[ProgressEvent], None]:
    """Progress in items (URLs archived, media matched), without the download bytes of each item."""
    return lambda event: None if event.stage == "download" else on_event(event)


# The environment variable is named by the issue users read, not derived from the settings section.
dask_option = click.option(
    "--dask",
    "dask",
    metavar="ADDR",
    envvar="PROVENANCE_DASK_SCHEDULER",
    default=None,
    help=(
        "Describe and fingerprint on the Dask cluster whose scheduler is at ADDR (tcp://host:8786;"
        " default $PROVENANCE_DASK_SCHEDULER).  Workers read the files at the paths given here, so"
        " they must share this filesystem; copying into the archive and the catalog stay here."
    ),
)


no_match_option = click.option(
    "--no-match",
    "no_match",
    is_flag=True,
    help=(
        "Skip matching the new media against the archive at the end of the batch, which decodes"
        " each of them once more (on this machine, even with --dask).  `clusters`, `earliest`,"
        " `report` and `verify` then match what is missing the first time they need it.  For runs"
        " that only ingest; the same as [batch] match_on_add = false or"
        " PROVENANCE_BATCH_MATCH_ON_ADD=0."
    ),
)


def match_overrides(no_match: bool) -> dict[str, dict[str, Any]]:
    """Settings for one `add` or `archive` run: --no-match leaves matching to `clusters`."""
    return {"batch": {"match_on_add": False}} if no_match else {}
