"""The `provenance` command: parse, call the library, render.  No logic of its own.

Human output goes to stdout (Rich tables), progress and errors to stderr; ``--json`` prints one
JSON object per line.  Exit codes: 0 ok, 1 some items failed or internal error, 2 usage, 3 bad
input, 4 archive unusable, 130 interrupted.
"""

from __future__ import annotations

import sys
import traceback

import click

from ..errors import ExitCode, ProvenanceError
from ..store import printable
from . import custody, demo, files, hashes, stills, timeline, web  # noqa: F401  (each registers its commands on the group)
from .base import cli, configure_logging, err

__all__ = ["cli", "main"]


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI and turn every outcome into an exit code."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    configure_logging(debug)
    try:
        cli.main(args=argv, prog_name="provenance", standalone_mode=False)
    except click.exceptions.Abort:
        err.print("provenance: interrupted; finished items are kept")
        sys.exit(ExitCode.INTERRUPTED)
    except click.ClickException as exc:
        exc.show()
        sys.exit(ExitCode.USAGE if isinstance(exc, click.UsageError) else exc.exit_code)
    except ProvenanceError as exc:
        err.print(f"provenance: error: {printable(exc.one_line())}", markup=False)
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
            f"provenance: internal error: {type(exc).__name__}: {printable(str(exc))}"
            " (run with --debug for details)",
            markup=False,
        )
        sys.exit(ExitCode.PARTIAL)
    sys.exit(ExitCode.OK)
