"""Does the archive's index answer a 60 s query fast at 10^5-10^7 frames and find what exact search finds?

Archives of synthetic shot-structured pHash fingerprints plus every real video of ../shared/media
(bench/scale_data.py; imported as a native hash list through the real import path, cached in
bench/out/scale/).  Each size is measured in its own process (so resident memory is that size's):

- open: ``Archive.index()`` from its segment files (memory-mapped), time and resident memory;
- per query, with the index open: ``match_hashed`` (index.search of every view + alignment), the
  indexed search ("auto": chunk tables, then the candidate media's frames a time line can reach) and,
  on the first ``--exact-queries`` queries, the exact scan of every frame, side by side in the same
  process; then the indexed search of every query again (a second pass: the index's pages in memory);
- recall: media found by exact and missed by indexed (must be none), the copied media found
  (the true source of each query), and the share of exact (query frame, stored frame) pairs of the
  true media that the chunk tables find by themselves (stage 1; stage 2 then finds them all);
- at the largest size, a whole ``provenance match`` process (start-up, decoding, hashing, search);
- with ``--memory-limit``, each size's process runs in a memory cgroup of that size (page cache
  included, dropped first), so the latency is that of an index kept to that much memory.

    python bench/scale.py [--sizes 1e5,1e6,1e7] [--queries 20] [--exact-queries 3] [--memory-limit 3e9]
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scale_data import OUT, Query, build_archive, real_queries, related_media, synthetic_queries

from provenance import open_archive
from provenance.index import ArchiveIndex
from provenance.index.chunks import candidates
from provenance.index.exact import as_words
from provenance.match import match_hashed
from provenance.settings import Settings

HERE = Path(__file__).resolve().parent


def rss_mb(field: str = "VmRSS") -> float:
    """Resident memory of this process now, MB: VmRSS in all; RssAnon, what the process itself
    holds; RssFile, pages of mapped files (the index segments) the kernel may drop and read again."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def found_media(index: ArchiveIndex, query: Query, settings: Settings) -> tuple[set[str], float, float, str]:
    """(media matched with at least one segment, seconds taken, CPU seconds taken, a digest of the
    whole match list) of one query, index already open.  CPU time is what to compare when other jobs
    share the cores; the digest, whether two versions of the code gave the same answer."""
    start, cpu = time.perf_counter(), time.process_time()
    matches = match_hashed(None, query.times_ms, query.views, index, {}, settings.match)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    found = {m.ref_sha256 for m in matches if m.segments}
    listed = json.dumps([dataclasses.asdict(m) for m in matches], default=str, sort_keys=True)
    return found, wall, cpu, hashlib.sha256(listed.encode()).hexdigest()


def stage1_frame_recall(index: ArchiveIndex, query: Query, max_distance: int) -> tuple[int, int]:
    """(query frames the chunk tables alone find on the true media, query frames with a stored frame
    of the true media within ``max_distance``), over every view of the query."""
    number = index.media.index(query.truth)
    part = int(np.searchsorted(index._media_start, number, side="right") - 1)
    segment = index.segments[part]
    local = number - int(index._media_start[part])
    first, last = int(segment.row_start[local]), int(segment.row_start[local + 1])
    rows = np.asarray(segment.words[first:last])
    found = exact = 0
    for _, hashes, quality in query.views:
        words = as_words(hashes[quality >= index.hasher.min_quality])
        near = (np.bitwise_count(words[:, 0:1] ^ rows[None, :, 0]) <= max_distance).any(axis=1)
        q, r, _ = candidates(segment.tables, words, max_distance)
        chunked = np.zeros(len(words), dtype=bool)
        chunked[q[(r >= first) & (r < last)]] = True
        exact, found = exact + int(near.sum()), found + int((chunked & near).sum())
    return found, exact


def percentile(values: Sequence[float], p: float) -> float:
    return float(np.percentile(np.asarray(values), p)) if values else float("nan")


def measure_query(index: ArchiveIndex, exact: ArchiveIndex | None, query: Query, related: set[str]) -> dict:
    """One query searched indexed (and exactly, given ``exact``): times, what each found."""
    settings = Settings()
    got, indexed_s, indexed_cpu, digest = found_media(index, query, settings)
    row = {"query": query.name, "hashes": query.hashes, "truth": query.truth in got, "matches_sha256": digest}
    row |= {"false": len(got - related), "indexed_s": indexed_s, "indexed_cpu": indexed_cpu}
    if exact is not None:
        want, exact_s, exact_cpu, _ = found_media(exact, query, settings)
        row |= {"exact_s": exact_s, "exact_cpu": exact_cpu, "exact_false": len(want - related)}
        # Media exact finds and indexed does not: copies (must be none) and false matches.
        row |= {"missed": sorted((want - got) & related), "missed_false": sorted(want - got - related)}
        row["extra"] = sorted(got - want)
    row["stage1"] = stage1_frame_recall(index, query, settings.match.max_distance)
    return row


def measure_size(size: int, queries: int, exact_queries: int) -> dict:
    """Everything measured at one size (run in its own process)."""
    settings = Settings()
    start = time.perf_counter()
    root, planted = build_archive(size, settings)
    built_s = time.perf_counter() - start
    real = real_queries(settings)[:queries]
    synthetic = synthetic_queries(size, queries, settings)
    rss_before = rss_mb()
    with open_archive(root, settings, mode="open") as archive:
        start = time.perf_counter()
        index = archive.index()
        open_s = time.perf_counter() - start
        rss_open = rss_mb()
        exact = ArchiveIndex(index.hasher, index.segments, index._alive_ids, "exact")
        rows = []
        # The exact scan of 10^7 frames takes minutes a query here: fewer queries as sizes grow.
        n_exact = min(exact_queries, max(1, int(exact_queries * 1e6 / size)))
        n_exact_synthetic = n_exact if size < 10_000_000 else 0
        for n, query in enumerate([*real, *synthetic]):
            with_exact = n < n_exact or n - len(real) in range(n_exact_synthetic)
            row = measure_query(index, exact if with_exact else None, query, related_media(query, planted))
            row["kind"] = "real" if query in real else "synthetic"
            rows.append(row)
            print(json.dumps(row), file=sys.stderr)
        # A second pass over the same queries: the index's pages are then in memory, as on a server
        # that has been answering for a while (the first pass reads them from disk as it goes).
        for row, query in zip(rows, [*real, *synthetic], strict=True):
            _, row["warm_s"], row["warm_cpu"], _ = found_media(index, query, Settings())
        rss_queries = rss_mb()
        rss_anon, rss_file = rss_mb("RssAnon"), rss_mb("RssFile")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "size": size,
        "frames": len(index),
        "media": len(index.media),
        "segments": len(index.segments),
        "built_s": built_s,
        "open_s": open_s,
        "rss_before_mb": rss_before,
        "rss_open_mb": rss_open,
        "rss_after_queries_mb": rss_queries,
        "rss_anon_mb": rss_anon,
        "rss_file_mb": rss_file,
        "peak_rss_mb": peak,
        "planted_copies": len(planted),
        "index_mb": folder_mb(root / "index"),
        "rows": rows,
    }


def folder_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6


def whole_process(size: int) -> dict:
    """A ``provenance match`` process on the archive of ``size`` frames, one real 60 s query."""
    root = OUT / f"archive-v1-{size}"
    clip = OUT / "clips" / "opencv_vtest-reencode.mp4"
    times, cpu = [], []
    for _ in range(3):
        start, before = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
        done = subprocess.run(
            [sys.executable, "-m", "provenance", "--archive", str(root), "match", str(clip), "--json"],
            capture_output=True,
            text=True,
            check=False,
        )
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        times.append(round(time.perf_counter() - start, 2))
        cpu.append(round(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime, 2))
    found = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    return {"size": size, "wall_s": times, "cpu_s": cpu, "exit": done.returncode, "matches": len(found)}


def memory_cgroup(limit_bytes: int) -> tuple[Path, str, str]:
    """A new memory cgroup holding its processes to ``limit_bytes`` (page cache included):
    (folder, file its processes are written to, file of its peak usage).  cgroup v2 or v1; root
    only.  The page cache is dropped first: pages another group read are not charged to this one,
    so they would be resident without counting against the limit."""
    unified = Path("/sys/fs/cgroup")
    if (unified / "cgroup.controllers").exists():
        folder, limit, procs, peak = (
            unified / f"provenance-scale-{os.getpid()}",
            "memory.max",
            "cgroup.procs",
            "memory.peak",
        )
    else:
        folder = unified / "memory" / f"provenance-scale-{os.getpid()}"
        limit, procs, peak = "memory.limit_in_bytes", "tasks", "memory.max_usage_in_bytes"
    try:
        folder.mkdir()
        (folder / limit).write_text(str(limit_bytes))
        os.sync()
        Path("/proc/sys/vm/drop_caches").write_text("1")
    except OSError as exc:
        raise SystemExit(f"--memory-limit needs a memory cgroup it can make (root): {exc}") from exc
    return folder, str(folder / procs), str(folder / peak)


def run_one(size: int, queries: int, exact_queries: int, memory_limit: int | None = None) -> dict:
    """measure_size in a fresh process (resident memory of that size alone), held to
    ``memory_limit`` bytes of memory (page cache included) when given."""
    out = OUT / f"result-{size}.json"
    cmd = [sys.executable, __file__, "--one", str(size), "--queries", str(queries)]
    if memory_limit is None:
        subprocess.run([*cmd, "--exact-queries", str(exact_queries)], check=True)
        return json.loads(out.read_text())
    folder, procs, peak = memory_cgroup(memory_limit)
    try:
        subprocess.run(
            [*cmd, "--exact-queries", str(exact_queries)],
            check=True,
            preexec_fn=lambda: Path(procs).write_text(str(os.getpid())),  # the child, before exec
        )
        result = json.loads(out.read_text())
        result |= {"memory_limit": memory_limit, "cgroup_peak": int(Path(peak).read_text())}
    finally:
        folder.rmdir()
    out.write_text(json.dumps(result))
    return result


def latency_table(results: Sequence[dict]) -> list[str]:
    lines = [
        "| stored frames | media | queries | hashes/query | indexed p50 / p95 (wall) "
        "| indexed p50 / p95 (CPU) | second pass p50 / p95 (CPU; wall) | exact p50 (CPU, n) "
        "| exact / indexed (CPU, same queries) "
        "| copies found | exact-only copies | false matches indexed (exact, its n) "
        "| stage-1 frame recall |",
        "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        for kind in ("real", "synthetic"):
            rows = [row for row in r["rows"] if row["kind"] == kind]
            if rows:
                lines.append(_latency_line(r, kind, rows))
    return lines


def _latency_line(r: dict, kind: str, rows: list[dict]) -> str:
    timed = [row for row in rows if "exact_s" in row]
    wall = [row["indexed_s"] for row in rows]
    cpu = [row["indexed_cpu"] for row in rows]
    warm = [row.get("warm_cpu", float("nan")) for row in rows]
    warm_wall = [row.get("warm_s", float("nan")) for row in rows]
    exact = [row["exact_cpu"] for row in timed]
    ratio = np.median([row["exact_cpu"] / row["indexed_cpu"] for row in timed]) if timed else float("nan")
    found, frames = (sum(row["stage1"][k] for row in rows) for k in (0, 1))
    return (
        f"| {r['frames']:,} | {r['media']:,} | {len(rows)} {kind} "
        f"| {np.mean([row['hashes'] for row in rows]):,.0f} "
        f"| {1000 * percentile(wall, 50):.0f} / {1000 * percentile(wall, 95):.0f} ms "
        f"| {1000 * percentile(cpu, 50):.0f} / {1000 * percentile(cpu, 95):.0f} ms "
        f"| {1000 * percentile(warm, 50):.0f} / {1000 * percentile(warm, 95):.0f} ms; "
        f"{1000 * percentile(warm_wall, 50):.0f} / {1000 * percentile(warm_wall, 95):.0f} ms "
        f"| {percentile(exact, 50):.2f} s ({len(timed)}) | {ratio:,.0f}x "
        f"| {sum(row['truth'] for row in rows)}/{len(rows)} | {sum(len(row['missed']) for row in timed)} "
        f"| {sum(row['false'] for row in rows)} ({sum(row['exact_false'] for row in timed)}) "
        f"| {found / max(frames, 1):.3f} |"
    )


def memory_table(results: Sequence[dict]) -> list[str]:
    lines = [
        "| stored frames | segments | index on disk | open (wall) | RSS before open | RSS open "
        "| RSS after queries | of which anonymous / mapped files | peak RSS "
        "| held to (peak of its cgroup, page cache included) | archive built (cached: 0) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        split = f"{r['rss_anon_mb']:,.0f} / {r['rss_file_mb']:,.0f} MB" if "rss_anon_mb" in r else "not kept"
        held = "no limit"
        if "memory_limit" in r:
            held = f"{r['memory_limit'] / 1e6:,.0f} MB ({r['cgroup_peak'] / 1e6:,.0f} MB)"
        lines.append(
            f"| {r['frames']:,} | {r['segments']} | {r['index_mb']:,.0f} MB | {1000 * r['open_s']:.0f} ms "
            f"| {r['rss_before_mb']:,.0f} MB | {r['rss_open_mb']:,.0f} MB "
            f"| {r['rss_after_queries_mb']:,.0f} MB | {split} "
            f"| {r['peak_rss_mb']:,.0f} MB | {held} | {r['built_s']:.0f} s |"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes", default="1e5,1e6,1e7", help="synthetic frames per archive, comma-separated"
    )
    parser.add_argument("--queries", type=int, default=20, help="real and synthetic queries per size (each)")
    parser.add_argument("--exact-queries", type=int, default=3, help="queries also searched exactly")
    parser.add_argument("--one", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--no-process", action="store_true", help="skip the whole `provenance match` runs")
    parser.add_argument("--process", action="store_true", help="only the whole `provenance match` runs")
    parser.add_argument("--tables", action="store_true", help="print the tables of the last run's results")
    parser.add_argument(
        "--memory-limit",
        type=float,
        help="hold each size's process to this many bytes, page cache included (a memory cgroup; root)",
    )
    args = parser.parse_args(argv)
    if args.one:
        result = measure_size(int(args.one), args.queries, args.exact_queries)
        (OUT / f"result-{int(args.one)}.json").write_text(json.dumps(result))
        return 0
    sizes = [int(float(s)) for s in args.sizes.split(",")]
    if args.process:
        print(json.dumps(whole_process(sizes[-1])))
        return 0
    if args.tables:
        results = [json.loads((OUT / f"result-{size}.json").read_text()) for size in sizes]
        print("\n".join([*latency_table(results), "", *memory_table(results)]))
        return 0
    limit = int(args.memory_limit) if args.memory_limit else None
    results = [run_one(size, args.queries, args.exact_queries, limit) for size in sizes]
    print("\n".join(latency_table(results)))
    print()
    print("\n".join(memory_table(results)))
    if not args.no_process:
        print()
        for size in sizes[-1:]:
            print(json.dumps(whole_process(size)))
    (OUT / "results.json").write_text(json.dumps(results))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    sys.exit(main())
