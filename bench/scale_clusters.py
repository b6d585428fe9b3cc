"""How long do clusters take over M imported media, from cold and after 1 % more media?

M synthetic shot-structured media (1-4 min at 2 Hz, bench/scale_data.py), a tenth of them excerpts
of another with 2-6 bits of noise a frame (copy groups), imported as a native hash list into a fresh
archive; ``list_clusters`` from cold (every media matched once through the index, the matches
stored as edges), then 1 % more media imported and ``list_clusters`` again (only the new media are
matched).  Planted copy pairs found in one cluster are counted (recall of copies).

    python bench/scale_clusters.py [--media 100,1000,10000]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from collections.abc import Iterator

import numpy as np
from scale_data import OUT, RATE_HZ, _print, archived_as, as_bytes, fake_sha256, flip_bits, shot_hashes

from provenance import open_archive
from provenance.hashlists.native import native_line
from provenance.models import HashlistEntry
from provenance.pipeline.clusters import list_clusters
from provenance.pipeline.hashes import import_hashlist
from provenance.settings import Settings

COPY_SHARE = 0.1


def media(count: int, seed: int, earlier: list[np.ndarray]) -> Iterator[tuple[HashlistEntry, str | None]]:
    """``count`` media (entry, sha256 of the media it copies or None); ``earlier`` collects every
    media's hashes so later ones (and the 1 % added later) can copy them."""
    rng = np.random.default_rng(seed)
    for number in range(count):
        sha = fake_sha256(f"clusters-{seed}-{number}")
        frames = int(rng.integers(120, 480))
        source = None
        if earlier and rng.random() < COPY_SHARE:
            pick = int(rng.integers(len(earlier)))
            start = int(rng.integers(0, max(1, len(earlier[pick][1]) - 60)))
            words = flip_bits(rng, earlier[pick][1][start : start + frames], float(rng.uniform(2, 6)))
            source = earlier[pick][0]
        else:
            words = shot_hashes(rng, frames)
        earlier.append((sha, words))
        times = (np.arange(len(words)) * (1000 / RATE_HZ)).astype(np.int32)
        yield _print(sha, times, as_bytes(words), np.full(len(words), 100, np.uint8)), source


def import_media(archive, entries: list[tuple[HashlistEntry, str | None]], name: str) -> float:
    path = OUT / f"{name}.jsonl"
    path.write_text("".join(native_line(e) + "\n" for e, _ in entries))
    start = time.perf_counter()
    import_hashlist(archive, path, source="scale")
    path.unlink()
    return time.perf_counter() - start


def copies_clustered(clusters: list, planted: list[tuple[str, str]]) -> int:
    where = {sha: n for n, c in enumerate(clusters) for sha in c.members}
    return sum(1 for a, b in planted if a in where and where.get(a) == where.get(b))


def run(count: int) -> dict:
    root = OUT / f"clusters-{count}"
    shutil.rmtree(root, ignore_errors=True)
    earlier: list = []
    first = list(media(count, count, earlier))
    more = list(media(max(1, count // 100), count + 7, earlier))
    planted = [(archived_as(e.external_id), archived_as(s)) for e, s in [*first, *more] if s]
    settings = Settings()
    with open_archive(root, settings) as archive:
        imported_s = import_media(archive, first, f"clusters-{count}-a")
        start = time.perf_counter()
        clusters = list_clusters(archive)
        cold_s = time.perf_counter() - start
        import_media(archive, more, f"clusters-{count}-b")
        start = time.perf_counter()
        clusters = list_clusters(archive)
        incremental_s = time.perf_counter() - start
        frames = len(archive.index())
    shutil.rmtree(root, ignore_errors=True)
    return {
        "media": count,
        "added": len(more),
        "frames": frames,
        "import_s": imported_s,
        "cold_s": cold_s,
        "incremental_s": incremental_s,
        "clusters": len(clusters),
        "planted": len(planted),
        "clustered": copies_clustered(clusters, planted),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--media", default="100,1000,10000")
    args = parser.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    print(
        "| media M | frames | clusters | copy pairs clustered | list_clusters cold | per media "
        "| +1 % media | list_clusters after | per added media |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for count in (int(float(m)) for m in args.media.split(",")):
        r = run(count)
        print(json.dumps(r), file=sys.stderr)
        print(
            f"| {r['media']:,} | {r['frames']:,} | {r['clusters']} | {r['clustered']}/{r['planted']} "
            f"| {r['cold_s']:.1f} s | {1000 * r['cold_s'] / r['media']:.0f} ms | {r['added']} "
            f"| {r['incremental_s']:.1f} s | {1000 * r['incremental_s'] / r['added']:.0f} ms |",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
