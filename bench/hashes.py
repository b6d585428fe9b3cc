"""How fast hash lists import, and that memory stays bounded while they do.

Writes synthetic lists of random frame hashes (not timed) in each format, then imports each into a
fresh archive through `import_hashlist`, the API the scale benchmarks use.  The baseline, measured in
the same run on the same file, is what any importer must do at least: read every line and parse it
(``json.loads``, or a split for PDQ CSV).  Each import runs in its own process, whose peak memory (max RSS)
is read right after it: a peak that does not grow with the list's size means the importer streams.

    python bench/hashes.py                 # 10^6 frame hashes per format; native also 2 and 4 x 10^6
    python bench/hashes.py --frames 200000 # a quicker run
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from provenance.pipeline import import_hashlist, open_archive

FRAMES_PER_MEDIA = 1000  # 500 s of footage at 2 Hz, per hasher


def write_native(path: Path, frames: int, rng: np.random.Generator) -> None:
    """Media of two fingerprints (phash64 and pdq256), FRAMES_PER_MEDIA frames each."""
    times = list(range(0, FRAMES_PER_MEDIA * 500, 500))
    with path.open("w") as fh:
        for n in range(frames // (2 * FRAMES_PER_MEDIA)):
            prints = []
            for hasher, bits in (("phash64", 64), ("pdq256", 256)):
                raw = rng.integers(0, 256, (FRAMES_PER_MEDIA, bits // 8), dtype=np.uint8).tobytes().hex()
                step = bits // 4
                prints.append({
                    "hasher": hasher, "bits": bits, "rate_hz": 2.0, "times_ms": times,
                    "hashes": [raw[i : i + step] for i in range(0, len(raw), step)],
                    "quality": [100] * FRAMES_PER_MEDIA,
                })  # fmt: skip
            record = {"type": "media_fingerprints", "version": 1, "sha256": f"{n:064x}", "kind": "video"}
            record |= {"duration_s": FRAMES_PER_MEDIA / 2, "fingerprints": prints, "appearances": []}
            fh.write(json.dumps(record, separators=(",", ":")) + "\n")


def write_vpdq(path: Path, frames: int, rng: np.random.Generator) -> None:
    with path.open("w") as fh:
        for _ in range(frames // FRAMES_PER_MEDIA):
            raw = rng.integers(0, 256, (FRAMES_PER_MEDIA, 32), dtype=np.uint8).tobytes().hex()
            features = [f"{raw[i * 64 : (i + 1) * 64]},100,{i:.3f}" for i in range(FRAMES_PER_MEDIA)]
            fh.write(json.dumps(features) + "\n")


def write_pdq_csv(path: Path, frames: int, rng: np.random.Generator) -> None:
    with path.open("w") as fh:
        for start in range(0, frames, 10_000):
            raw = rng.integers(0, 256, (min(10_000, frames - start), 32), dtype=np.uint8).tobytes().hex()
            fh.writelines(f"{raw[i : i + 64]},100\n" for i in range(0, len(raw), 64))


WRITERS = {"provenance": write_native, "vpdq": write_vpdq, "pdq-csv": write_pdq_csv}


def baseline(path: Path, fmt: str) -> float:
    """Seconds to read and parse every line, storing nothing."""
    started = time.perf_counter()
    with path.open() as fh:
        for line in fh:
            if fmt == "pdq-csv":
                bytes.fromhex(line.split(",")[0])
            else:
                json.loads(line)
    return time.perf_counter() - started


def max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(fmt: str, frames: int, folder: Path) -> None:
    """One import, in this process: write the list, measure the baseline, import, print a row."""
    path = folder / f"list-{fmt}-{frames}.txt"
    WRITERS[fmt](path, frames, np.random.default_rng(7))
    base = baseline(path, fmt)
    with open_archive(folder / f"archive-{fmt}-{frames}") as archive:
        started = time.perf_counter()
        summary = import_hashlist(archive, path, source="bench", fmt=fmt)
        took = time.perf_counter() - started
        rss = max_rss_mb()  # the import's peak, before the index below is built
        started = time.perf_counter()
        indexed = len(archive.index()) if fmt == "provenance" else 0
        index_s = time.perf_counter() - started
    assert summary.frames == frames, summary
    size_mb = path.stat().st_size / 1e6
    print(
        f"| {fmt} | {frames:,} | {summary.media_added:,} | {size_mb:.0f} MB | {base:.1f} s | {took:.1f} s "
        f"| {frames / took:,.0f} | {took / base:.1f}x | {rss:.0f} MB |"
        + (f" phash64 index of {indexed:,} rows built in {index_s:.1f} s" if indexed else ""),
        flush=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=1_000_000)
    parser.add_argument("--one", nargs=3, metavar=("FORMAT", "FRAMES", "FOLDER"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:  # a child process: its max RSS is this import's alone
        run(args.one[0], int(args.one[1]), Path(args.one[2]))
        return 0
    print("| format | frame hashes | media | file | baseline: read + parse | import | frames/s | / baseline"
          " | max RSS |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|", flush=True)
    cases = [("provenance", args.frames), ("provenance", 2 * args.frames), ("provenance", 4 * args.frames),
             ("vpdq", args.frames), ("pdq-csv", args.frames)]  # fmt: skip
    for fmt, frames in cases:
        with tempfile.TemporaryDirectory(prefix="bench-hashes-", dir=Path.cwd()) as tmp:
            subprocess.run([sys.executable, __file__, "--one", fmt, str(frames), tmp], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
