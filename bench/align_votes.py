"""Alignment cost per reference: every speed voted on in one pass vs one pass per speed.

In a large archive most references a query reaches hold a handful of chance hits (bench/scale.py:
alignment was half of a 10^7 query's time).  This times `align._best_line` on hit sets of the sizes
seen there, in one process, with `VOTE_ENTRIES` as set (small sets in one pass) and with 0 (every
set speed by speed, the voting as it was), and checks that both give the same line.

    python bench/align_votes.py [--seconds 0.5]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from provenance import align


def _time(
    q: np.ndarray, r: np.ndarray, d: np.ndarray, seconds: float
) -> tuple[float, tuple[float, float, int]]:
    start, runs = time.process_time(), 0
    while time.process_time() - start < seconds:
        found = align._best_line(q, r, d, 1000.0)
        runs += 1
    return (time.process_time() - start) / runs * 1000, found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=0.5, help="CPU time per measurement")
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    default = align.VOTE_ENTRIES
    print("| hits | one pass (ms CPU) | per speed (ms CPU) | ratio | same line |")
    print("|---:|---:|---:|---:|---|")
    for n in (3, 5, 10, 30, 60, 200, 1000, 5000):
        q = np.sort(rng.integers(0, 60_000, n)).astype(np.int64)
        r = rng.integers(0, 600_000, n).astype(np.int64)
        d = rng.integers(0, 13, n).astype(np.int64)
        align.VOTE_ENTRIES = default
        fast, a = _time(q, r, d, args.seconds)
        align.VOTE_ENTRIES = 0
        slow, b = _time(q, r, d, args.seconds)
        print(f"| {n} | {fast:.3f} | {slow:.3f} | {slow / fast:.1f}x | {'yes' if a == b else 'NO'} |")
    align.VOTE_ENTRIES = default


if __name__ == "__main__":
    main()
