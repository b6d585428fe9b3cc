"""Start-up cost of CLI commands: median wall and CPU time over N runs, and the modules they load.

    python bench/startup.py [--runs 7] [--trees BEFORE_DIR,AFTER_DIR] [-- FILE]

Each tree is put first on PYTHONPATH (a checkout of another commit: `git worktree add DIR REV`), the
commands run in an empty folder (`python -m` would put a checkout in the working folder first), and
the trees are interleaved run by run, so a change in the machine's load falls on each alike.  CPU
is user + sys of the child (getrusage), which the load of other jobs inflates far less than wall time.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_MODULES = """
import sys
from provenance.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print(len(sys.modules), file=sys.stderr)
"""


_EMPTY = tempfile.mkdtemp(prefix="provenance-startup-")


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one run of ``cmd``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(
        cmd, env=env, cwd=_EMPTY, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False
    )
    wall_s = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall_s, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def modules_loaded(args: list[str], env: dict[str, str]) -> int:
    proc = subprocess.run(
        [sys.executable, "-c", _MODULES, *args],
        env=env,
        cwd=_EMPTY,
        capture_output=True,
        text=True,
        check=False,
    )
    return int(proc.stderr.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--trees", default=str(Path(__file__).resolve().parents[1]))
    parser.add_argument("file", nargs="?", help="a video for `info FILE`")
    opts = parser.parse_args()
    trees = [os.path.abspath(tree) for tree in opts.trees.split(",")]
    file = os.path.abspath(opts.file) if opts.file else None
    commands = [["--help"], *([["info", file]] if file else [])]
    print("| command | tree | wall (median) | CPU (median) | modules |\n|---|---|---|---|---|")
    for args in commands:
        cmd = [sys.executable, "-m", "provenance", *args]
        envs = {tree: dict(os.environ, PYTHONPATH=tree) for tree in trees}
        for env in envs.values():
            timed(cmd, env)  # warm-up: the file cache
        runs: dict[str, list[tuple[float, float]]] = {tree: [] for tree in trees}
        for _ in range(opts.runs):
            for tree, env in envs.items():
                runs[tree].append(timed(cmd, env))
        for tree, env in envs.items():
            walls, cpus = zip(*runs[tree], strict=True)
            print(
                f"| provenance {' '.join(args)} | {tree} | {statistics.median(walls):.3f} s"
                f" | {statistics.median(cpus):.3f} s | {modules_loaded(args, env)} |"
            )


if __name__ == "__main__":
    main()
