"""Hostile inputs through every command: exit code, message, peak memory and time of each run.

The corpus is tests/hostile.py's (made at run time in bench/out/hostile/).  Each (input, command) is
its own `provenance` process, so its peak resident size (its VmHWM) is its own; a baseline
process (`provenance --version`) is measured in the same run.  With ``--large``, still videos of 20
minutes and 2 hours are also made and matched against themselves: before hits were bounded, memory
grew with the square of such a video.

    python bench/hostile.py [--large] [--no-write]
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
from hostile import make_corpus, still_clip  # noqa: E402

from provenance.store import printable  # noqa: E402

OUT = HERE / "out" / "hostile"
RESULTS = HERE / "RESULTS.md"
SECTION = "## Hostile inputs (bench/hostile.py)"
COMMANDS = ("add", "info", "match", "keyframes")


# The child reports its own high-water mark (VmHWM of its memory map, made anew at exec): wait4's
# ru_maxrss would also count the pages of this process at the fork.
_CHILD = """
import atexit, runpy, sys
report = sys.argv[1]
def peak():
    with open("/proc/self/status") as status, open(report, "w") as out:
        out.write(next(line.split()[1] for line in status if line.startswith("VmHWM")))
atexit.register(peak)
sys.argv = ["provenance", *sys.argv[2:]]
runpy.run_module("provenance", run_name="__main__")
"""


def measured(args: list[str]) -> tuple[int, str, int, float]:
    """(exit code, last stderr line, peak RSS MB, wall s) of one provenance process."""
    report = OUT / "peak.kb"
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, str(report), *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    wall = time.perf_counter() - started
    lines = [line for line in proc.stderr.decode(errors="replace").splitlines() if line.strip()]
    return proc.returncode, (lines[-1] if lines else ""), int(report.read_text()) // 1024, wall


def still_video(path: Path, seconds: int) -> Path:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        still_clip(path, seconds)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large", action="store_true", help="also 20-minute and 2-hour still videos")
    parser.add_argument("--no-write", action="store_true", help=f"do not update {RESULTS.name}")
    args = parser.parse_args(argv)
    shutil.rmtree(OUT, ignore_errors=True)
    corpus = make_corpus(OUT / "files")
    archive = OUT / "archive"
    base_code, _, base_mb, base_s = measured(["--version"])
    rows = [f"| baseline: `provenance --version` | - | {base_code} | | {base_mb} | {base_s:.2f} |"]
    started = time.perf_counter()
    for item, path in corpus:
        for command in COMMANDS:
            extra = ["-o", str(OUT / "keyframes")] if command == "keyframes" else []
            code, message, peak, wall = measured(["--archive", str(archive), command, str(path), *extra])
            shown = printable(message).replace("|", "\\|")[:140]
            rows.append(f"| {item.name} | {command} | {code} | {shown} | {peak} | {wall:.2f} |")
            print(rows[-1], flush=True)
    corpus_s = time.perf_counter() - started
    large = []
    if args.large:
        for minutes in (20, 120):
            clip = still_video(OUT.parent / "hostile-large" / f"still{minutes}m.mp4", minutes * 60)
            root = OUT / f"still{minutes}"
            for command in ("add", "match"):
                code, message, peak, wall = measured(["--archive", str(root), command, str(clip)])
                name = f"{minutes}-minute still video, 640x360"
                large.append(f"| {name} | {command} (itself) | {code} | | {peak} | {wall:.1f} |")
                print(large[-1], flush=True)
    body = [
        f"`python bench/hostile.py{' --large' if args.large else ''}` on {dt.date.today()}: "
        f"{len(corpus)} hostile inputs (tests/hostile.py) x {len(COMMANDS)} commands, one process each "
        f"({corpus_s:.0f} s in all); peak RSS is the process's own (VmHWM), beside a baseline process.",
        "",
        "| input | command | exit | message (last stderr line) | peak RSS MB | wall s |",
        "|---|---|---|---|---|---|",
        *rows,
        *large,
    ]
    print("\n".join(body))
    if not args.no_write:
        _write(body)
    return 0


def _write(body: list[str]) -> None:
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    start = text.find(SECTION)
    block = SECTION + "\n\n" + "\n".join(body) + "\n"
    if start < 0:
        text = text.rstrip() + "\n\n" + block
    else:
        end = text.find("\n## ", start + len(SECTION))
        text = text[:start] + block + (text[end + 1 :] if end >= 0 else "")
    RESULTS.write_text(text)


if __name__ == "__main__":
    raise SystemExit(main())
