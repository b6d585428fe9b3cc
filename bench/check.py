"""How fast does `provenance check` hash an archive, against `sha256sum` of the same files?

Builds (once, cached in bench/out/check-archive) an archive of --media media files of random bytes
(sizes spread from 0.2 to 2.8 MB, ~1.5 GB in all for 1,000) recorded in a real catalog, then times,
as the median of --runs runs each, taking turns:

- ``check_archive`` (every file through SHA-256, against its catalog row; strays and staging walked);
- ``sha256sum`` of the same files (one process over the whole list: GNU coreutils, one core);
- ``hashlib`` on one thread, 4 MiB reads (what one of check's workers does);
- ``cat`` of the same files to /dev/null: reading alone, the disk's (or the page cache's) speed.

Twice: with the files in the page cache (warm: the hashing is the cost), and cold, each file's
pages dropped with posix_fadvise(DONTNEED) before every run (the disk is the cost; nothing else on
the machine is evicted).  Prints MB/s for each and check's ratio to sha256sum.

    python bench/check.py [--media 1000] [--runs 3] [--keep]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from provenance import check_archive, open_archive
from provenance.custody.fixity import hash_file
from provenance.models import MediaFile, MediaInfo
from provenance.store import media_relpath

HERE = Path(__file__).resolve().parent
OUT = HERE / "out" / "check-archive"


def build(media: int) -> list[Path]:
    """The archive of `media` random files, made once; returns their paths."""
    marker = OUT / f".built-{media}"
    if not marker.exists():
        shutil.rmtree(OUT, ignore_errors=True)
        rng = __import__("random").Random(1)
        with open_archive(OUT) as archive:
            for n in range(media):
                size = rng.randint(200_000, 2_800_000)
                data = os.urandom(size)
                sha = hashlib.sha256(data).hexdigest()
                rel = media_relpath(sha, "bin")
                (OUT / rel).parent.mkdir(parents=True, exist_ok=True)
                (OUT / rel).write_bytes(data)
                info = MediaInfo(sha, "video", "bin", float(n % 60 + 1), 320, 240)
                archive.catalog.record_media(
                    MediaFile(sha, rel, size, "video", "bin"), info, [], f"gen/{n}.bin"
                )
        marker.write_text(datetime.now(UTC).isoformat())
    with open_archive(OUT, mode="inspect") as archive:
        return [OUT / m.path for m in archive.catalog.list_media()]


def drop_cache(paths: list[Path]) -> None:
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def run_check() -> int:
    with open_archive(OUT, mode="inspect") as archive:
        report = check_archive(archive)
    assert report.clean, report.problems[:3]
    return report.hashed_bytes


def run_sha256sum(paths: list[Path]) -> int:
    listing = b"\0".join(str(p).encode() for p in paths)
    proc = subprocess.run(["xargs", "-0", "sha256sum", "--"], input=listing, capture_output=True, check=True)
    assert proc.stdout.count(b"\n") == len(paths)
    return sum(p.stat().st_size for p in paths)


def run_cat(paths: list[Path]) -> int:
    listing = b"\0".join(str(p).encode() for p in paths)
    subprocess.run(["sh", "-c", "xargs -0 cat -- > /dev/null"], input=listing, check=True)
    return sum(p.stat().st_size for p in paths)


def run_hashlib(paths: list[Path]) -> int:
    buffer = bytearray(4 << 20)
    return sum(hash_file(p, buffer)[1] for p in paths)


def timed(fn, cold: bool, paths: list[Path]) -> tuple[float, int]:  # type: ignore[no-untyped-def]
    if cold:
        drop_cache(paths)
    started = time.perf_counter()
    size = fn()
    return time.perf_counter() - started, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--media", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep bench/out/check-archive afterwards")
    args = parser.parse_args()
    paths = build(args.media)
    total = sum(p.stat().st_size for p in paths)
    print(f"archive: {len(paths)} media, {total / 1e9:.2f} GB in {OUT}; {os.cpu_count()} CPUs")
    steps = {
        "provenance check": run_check,
        "sha256sum": lambda: run_sha256sum(paths),
        "hashlib, 1 thread": lambda: run_hashlib(paths),
        "cat (read, no hash)": lambda: run_cat(paths),
    }
    for cold in (False, True):
        if not cold:
            run_sha256sum(paths)  # warm the cache
        seconds: dict[str, list[float]] = {name: [] for name in steps}
        for _ in range(args.runs):
            for name, fn in steps.items():
                elapsed, size = timed(fn, cold, paths)
                assert size == total, (name, size, total)
                seconds[name].append(elapsed)
        label = "cold (pages dropped before each run)" if cold else "warm (files in the page cache)"
        print(f"\n{label}, median of {args.runs}:")
        base = statistics.median(seconds["sha256sum"])
        for name, values in seconds.items():
            s = statistics.median(values)
            print(f"  {name:<20} {s:6.2f} s  {total / 1e6 / s:7.0f} MB/s  {base / s:4.2f}x sha256sum's speed")
    if not args.keep:
        shutil.rmtree(OUT, ignore_errors=True)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
