"""The archive's index: segments on disk in step with the catalog, a two-stage search that finds what
the exact search finds, and an index that survives any way its last update ended."""

from __future__ import annotations

import json
import mmap
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from conftest import ffmpeg, lavfi_clip
from test_cli import json_lines, run

from provenance.hashing import PDQ256, PHASH64
from provenance.index import ArchiveIndex, ArchiveStore, HashIndex
from provenance.index import archive_index as archive_index_module
from provenance.index.archive_index import MANIFEST
from provenance.index.chunks import candidates, chunk_values
from provenance.index.segment import RowOwners, build_segment, load_segment, save_segment
from provenance.models import Fingerprint

RADIUS = 12


def shot_fingerprint(sha: str, rng: np.random.Generator, shots: int, frames_per_shot: int) -> Fingerprint:
    """Frames as video gives them: a random hash per shot, each frame of the shot a few bits off it."""
    bases = rng.integers(0, 256, (shots, 8), dtype=np.uint8)
    frames = np.repeat(bases, frames_per_shot, axis=0)
    noise = np.unpackbits(frames, axis=1)
    flips = rng.random(noise.shape) < 2 / 64
    frames = np.packbits(noise ^ flips, axis=1)
    n = len(frames)
    return Fingerprint(
        sha256=sha,
        hasher=PHASH64.name,
        rate_hz=2.0,
        times_ms=np.arange(n, dtype=np.int32) * 500,
        hashes=frames,
        quality=np.full(n, 100, dtype=np.uint8),
    )


def copy_of(fp: Fingerprint, start: int, length: int, bits: int, rng: np.random.Generator) -> np.ndarray:
    """An excerpt of the footage re-encoded: each frame hash ``bits`` bits off the original's."""
    part = np.unpackbits(fp.hashes[start : start + length], axis=1)
    for row in part:
        row[rng.choice(64, size=bits, replace=False)] ^= 1
    return np.packbits(part, axis=1)


def media_with_evidence(index: ArchiveIndex | HashIndex, hits, minimum: int = 2) -> set[str]:  # type: ignore[no-untyped-def]
    owners = np.asarray(index.owner[hits.row]) if hits.row.size else np.zeros(0, np.int32)
    numbers = np.unique(np.stack([owners, hits.query_index]), axis=1)
    per_media = np.bincount(numbers[0], minlength=len(index.media)) if numbers.size else []
    return {index.media[m] for m, c in enumerate(per_media) if c >= minimum}


@pytest.fixture(scope="module")
def library() -> list[tuple[int, Fingerprint]]:
    rng = np.random.default_rng(7)
    return [
        (k + 1, shot_fingerprint(f"{k:064x}", rng, shots=12, frames_per_shot=int(rng.integers(4, 40))))
        for k in range(300)
    ]


@pytest.mark.parametrize("bits", [4, 8, 10])
def test_two_stage_search_finds_every_media_the_exact_search_finds(
    library, bits: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(bits)
    exact = ArchiveIndex(PHASH64, [build_segment(PHASH64, library)], {i for i, _ in library}, search="exact")
    staged = ArchiveIndex(PHASH64, [build_segment(PHASH64, library)], {i for i, _ in library})
    monkeypatch.setattr(archive_index_module, "EXACT_PAIRS", 0)  # always the two-stage search
    for k in rng.choice(len(library), size=25, replace=False):
        _, fp = library[k]
        start = int(rng.integers(0, len(fp.times_ms) - 12))
        query = copy_of(fp, start, 12, bits, rng)
        times = np.arange(12, dtype=np.int32) * 500
        want = media_with_evidence(exact, exact.search(query, RADIUS, times))
        got = media_with_evidence(staged, staged.search(query, RADIUS, times))
        assert fp.sha256 in want
        assert want <= got, f"{bits}-bit copy: exact found {want - got} that the two-stage search missed"
        # A media found is found with all its frames, as the exact search finds them.
        assert got == want


def off_in_every_chunk(hashes: np.ndarray) -> np.ndarray:
    """Each hash 12 bits off (the search radius): three in each 16-bit chunk, so that no chunk of it
    equals a chunk of the original or of its shot's other frames."""
    return hashes ^ np.array([7, 0, 7, 0, 7, 0, 7, 0], dtype=np.uint8)


def runs_on(
    mode: str, fps: list[tuple[int, Fingerprint]], sha256: str, query: np.ndarray, frame: int | None = None
) -> set[tuple[int, int]]:
    """The runs of rows (first, last, counted from the media's first row) that the hits of the
    query (2 Hz) cover on one media, searched ``mode``; only query frame ``frame``'s, if given."""
    index = ArchiveIndex(PHASH64, [build_segment(PHASH64, fps)], {i for i, _ in fps}, search=mode)
    number = index.media.index(sha256)
    start = int(index.segments[0].row_start[number])
    hits = index.search(query, RADIUS, np.arange(len(query), dtype=np.int32) * 500)
    mine = np.asarray(index.owner[hits.row]) == number
    if frame is not None:
        mine &= hits.query_index == frame
    runs = zip(hits.row_start[mine], hits.row_end[mine], strict=True)
    return {(int(first) - start, int(last) - start) for first, last in runs}


def test_stage_two_searches_a_long_candidate_only_where_a_line_through_its_hits_can_pass(library) -> None:
    # 30 minutes of footage holding the query's 50 s at minute 20, and, at minute 2 and just after
    # minute 20, frames 12 bits off the query's that no chunk finds (three bits off in every chunk).
    rng = np.random.default_rng(11)
    query_fp = shot_fingerprint("query", rng, shots=5, frames_per_shot=20)  # 100 frames, 50 s
    long = shot_fingerprint("f" * 64, rng, shots=90, frames_per_shot=40)  # 3,600 frames, 30 min
    hashes = long.hashes.copy()
    hashes[2400:2500] = query_fp.hashes  # the copy, minute 20
    hashes[240:250] = off_in_every_chunk(query_fp.hashes[:10])  # minute 2: out of reach
    hashes[2500:2510] = off_in_every_chunk(query_fp.hashes[90:])  # within reach of the line
    fps = [*library[:50], (999, replace(long, hashes=hashes))]

    def rows_met(mode: str) -> set[int]:
        # A hit covers a run of rows (a still stretch is one hit): every row of it was met.
        runs = runs_on(mode, fps, long.sha256, query_fp.hashes)
        return {r for first, last in runs for r in range(first, last + 1)}

    everywhere, near_the_line = rows_met("exact"), rows_met("indexed")
    assert set(range(2400, 2510)) <= near_the_line  # the copy, and what a line through it can meet
    assert set(range(240, 250)) <= everywhere  # the exact scan meets minute 2 as well ...
    assert not near_the_line & set(range(240, 250))  # ... which no line through the copy reaches
    assert near_the_line <= everywhere


def test_a_run_of_look_alike_rows_never_spans_rows_stage_two_skipped() -> None:
    # One still picture at 100-200 s and again at 1160-1205 s, leading into the stretch the query
    # copies; between them the windows skip thousands of rows.  A hit's run (row_start..row_end) may
    # only cover rows that were compared: the still stretch far from the copy is no neighbour of the
    # one beside it.
    rng = np.random.default_rng(3)
    others = [(k + 1, shot_fingerprint(f"{k:064x}", rng, 12, 20)) for k in range(50)]
    long = shot_fingerprint("e" * 64, rng, shots=90, frames_per_shot=40)
    hashes = long.hashes.copy()
    still = rng.integers(0, 256, 8, dtype=np.uint8)
    hashes[200:400] = still
    hashes[2340:2410] = still
    hashes[2320:2340] = off_in_every_chunk(still[None, :])  # no chunk in common: found only by the scan
    fps = [*others, (999, replace(long, hashes=hashes))]
    query = hashes[2400:2500].copy()

    everywhere = runs_on("exact", fps, long.sha256, query, frame=0)
    near_the_line = runs_on("indexed", fps, long.sha256, query, frame=0)
    assert everywhere == {(200, 399), (2320, 2409)}
    # Each run of the two stages lies inside one run of the exact scan: a window may cut a run
    # short, never join two across rows it skipped.
    for first, last in near_the_line:
        assert any(a <= first and last <= b for a, b in everywhere), (first, last, everywhere)
    assert (2320, 2409) in near_the_line


@pytest.mark.parametrize(("mode", "staged"), [("auto", False), ("exact", False), ("indexed", True)])
def test_the_search_setting_chooses_the_path(
    library, mode: str, staged: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A small archive is scanned whole unless "indexed" asks for the two stages (benchmarks)."""
    index = ArchiveIndex(PHASH64, [build_segment(PHASH64, library[:20])], {i for i, _ in library[:20]}, mode)
    asked = []
    original = ArchiveIndex.candidate_media
    monkeypatch.setattr(
        ArchiveIndex, "candidate_media", lambda self, *a: asked.append(1) or original(self, *a)
    )
    fp = library[5][1]
    hits = index.search(fp.hashes[:12], RADIUS, fp.times_ms[:12])
    assert bool(asked) == staged
    assert fp.sha256 in media_with_evidence(index, hits)


@pytest.mark.parametrize(("frames", "flips"), [(8, 1), (archive_index_module.SHORT_QUERY, 1), (200, 0)])
def test_short_queries_also_probe_chunks_one_bit_off(
    library, frames: int, flips: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = ArchiveIndex(
        PHASH64, [build_segment(PHASH64, library[:20])], {i for i, _ in library[:20]}, "indexed"
    )
    probed = []
    original = archive_index_module.candidates
    monkeypatch.setattr(archive_index_module, "candidates", lambda *a: probed.append(a[3]) or original(*a))
    hashes = np.concatenate([fp.hashes for _, fp in library[:20]])[:frames]
    index.search(hashes, RADIUS, np.arange(frames, dtype=np.int32) * 125)
    assert probed == [flips]


def test_a_saved_segment_answers_as_the_one_in_memory(library, tmp_path: Path) -> None:
    built = build_segment(PHASH64, library[:50])
    save_segment(built, tmp_path, "seg-a")
    loaded = load_segment(tmp_path / "seg-a")
    base = loaded.words
    while isinstance(base, np.ndarray):
        base = base.base
    assert isinstance(base, memoryview) and isinstance(base.obj, mmap.mmap)  # mapped, not read whole
    assert not list(tmp_path.glob(".*.part"))
    query = library[3][1].hashes[:10]
    a = ArchiveIndex(PHASH64, [built], {i for i, _ in library[:50]}).search(query, RADIUS)
    b = ArchiveIndex(PHASH64, [loaded], {i for i, _ in library[:50]}).search(query, RADIUS)
    assert np.array_equal(a.row, b.row) and np.array_equal(a.query_index, b.query_index)


def test_fingerprints_the_catalog_no_longer_holds_are_never_answered(library, tmp_path: Path) -> None:
    store = ArchiveStore(tmp_path / "ix", PHASH64, 2.0, writable=True)
    alive = {i: fp.sha256 for i, fp in library[:20]}
    index = store.open(alive, lambda ids: [(i, fp) for i, fp in library if i in set(ids)])
    gone = library[5][1]
    del alive[library[5][0]]
    reopened = store.open(alive, lambda ids: [(i, fp) for i, fp in library if i in set(ids)])
    assert gone.sha256 in media_with_evidence(index, index.search(gone.hashes[:8], RADIUS))
    assert gone.sha256 not in media_with_evidence(reopened, reopened.search(gone.hashes[:8], RADIUS))


def test_new_fingerprints_go_into_a_new_segment_and_old_ones_are_not_rewritten(
    library, tmp_path: Path
) -> None:
    folder = tmp_path / "ix"
    source = lambda ids: [(i, fp) for i, fp in library if i in set(ids)]  # noqa: E731
    store = ArchiveStore(folder, PHASH64, 2.0, writable=True)
    store.open({i: fp.sha256 for i, fp in library[:30]}, source)
    (first,) = json.loads((folder / "manifest.json").read_text())["segments"]
    stamp = (folder / first / "words.npy").stat().st_mtime_ns
    index = store.open({i: fp.sha256 for i, fp in library[:40]}, source)
    listed = json.loads((folder / "manifest.json").read_text())["segments"]
    assert listed[0] == first and len(listed) == 2
    assert (folder / first / "words.npy").stat().st_mtime_ns == stamp
    assert len(index.media) == 40
    # Many small segments are merged, and what is unlisted is removed.
    for n in range(41, 48):
        store.open({i: fp.sha256 for i, fp in library[:n]}, source)
    listed = json.loads((folder / "manifest.json").read_text())["segments"]
    assert len(listed) <= archive_index_module.MERGE_SMALL + 1
    assert sorted(p.name for p in folder.iterdir() if p.is_dir()) == sorted(listed)


# -- through the command line, on real decoded clips ----------------------------------------------


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("index-clips")
    sources = {
        "fractal": "mandelbrot=s=320x240:rate=25",
        "life": "life=s=320x240:mold=10:rate=25:ratio=0.1:death_color=#C83232:life_color=#00ff00",
        "cells": "cellauto=s=320x240:rule=110:rate=25",
        "bars": "testsrc2=s=320x240:rate=25",
    }
    made = {name: lavfi_clip(folder / f"{name}.mp4", source, 8) for name, source in sources.items()}
    copy = folder / "fractal-copy.mp4"
    ffmpeg(
        "-i",
        str(made["fractal"]),
        "-ss",
        "2",
        "-t",
        "5",
        "-vf",
        "scale=240:180",
        "-c:v",
        "libx264",
        str(copy),
    )
    made["copy"] = copy
    return made


def index_folder(root: Path) -> Path:
    return root / "index" / "phash64@2"  # the match hasher's, at the archive's rate


def matches(capsys: pytest.CaptureFixture[str], root: Path, clip: Path) -> list[tuple[str, float]]:
    code, out, err = run(capsys, "--archive", str(root), "match", str(clip), "--json")
    assert code == 0, err
    return sorted((m["sha256"], round(m["score"], 3)) for m in json_lines(out))


def test_match_opens_the_index_kept_beside_the_catalog(clips, tmp_path: Path, capsys) -> None:
    root = tmp_path / "archive"
    for name in ("fractal", "life", "cells"):
        code, _, err = run(capsys, "--archive", str(root), "add", str(clips[name]))
        assert code == 0, err
    found = matches(capsys, root, clips["copy"])
    assert len(found) == 1
    folder = index_folder(root)
    listed = json.loads((folder / "manifest.json").read_text())["segments"]
    assert listed and all((folder / name / "segment.json").is_file() for name in listed)
    # The exact search over every frame gives the same answer.
    (root / "provenance.toml").write_text('[match]\nsearch = "exact"\n')
    assert matches(capsys, root, clips["copy"]) == found
    # Always in two stages (chunk tables, then the candidates' frames): the same answer too.
    (root / "provenance.toml").write_text('[match]\nsearch = "indexed"\n')
    assert matches(capsys, root, clips["copy"]) == found
    # Rebuilt from the catalog: the same answer again.
    (root / "provenance.toml").unlink()
    code, out, err = run(capsys, "--archive", str(root), "reindex", "--json")
    assert code == 0, err
    records = json_lines(out)
    assert "phash64" in {r["hasher"] for r in records}  # one index per stored hasher
    assert all(r["media"] == 3 and r["frames"] > 0 for r in records)
    assert matches(capsys, root, clips["copy"]) == found
    # A media added later goes into the index on the next search.
    code, _, err = run(capsys, "--archive", str(root), "add", str(clips["bars"]))
    assert code == 0, err
    assert len(json.loads((folder / "manifest.json").read_text())["segments"]) >= 1
    code, out, _ = run(capsys, "--archive", str(root), "match", str(clips["bars"]), "--json")
    assert [m["score"] for m in json_lines(out)] and json_lines(out)[0]["score"] > 0.9


@pytest.mark.logs_errors
def test_a_damaged_or_half_written_index_is_noticed_and_made_again(clips, tmp_path: Path, capsys) -> None:
    root = tmp_path / "archive"
    # One batch: matching at its end writes the index as one segment.
    run(capsys, "--archive", str(root), "add", str(clips["fractal"]), str(clips["life"]))
    found = matches(capsys, root, clips["copy"])
    folder = index_folder(root)
    (segment,) = json.loads((folder / "manifest.json").read_text())["segments"]
    words = folder / segment / "words.npy"
    words.write_bytes(words.read_bytes()[:-40])  # cut short
    (folder / ".seg-9-999999-0.999999-abcd1234.part").mkdir()  # left by a writer that died
    (folder / "seg-5-1-0").mkdir()  # finished by a writer, never listed
    assert matches(capsys, root, clips["copy"]) == found
    leftovers = {p.name for p in folder.iterdir() if p.is_dir()}
    assert leftovers == set(json.loads((folder / "manifest.json").read_text())["segments"])
    (folder / "manifest.json").write_text("{not json")
    assert matches(capsys, root, clips["copy"]) == found


def being_written(folder: Path) -> bool:
    """Whether a segment or manifest is being written in one of the index folders (read while the
    writer adds and removes entries)."""
    try:
        return any(p.name.endswith(".part") for sub in folder.iterdir() for p in sub.iterdir())
    except FileNotFoundError:
        return False


def test_a_reindex_killed_at_any_moment_leaves_an_index_that_finds_everything(
    clips, tmp_path: Path, capsys
) -> None:
    root = tmp_path / "archive"
    for name in ("fractal", "life", "cells", "bars"):
        run(capsys, "--archive", str(root), "add", str(clips[name]))
    found = matches(capsys, root, clips["copy"])
    assert found
    cmd = [sys.executable, "-m", "provenance", "--archive", str(root), "reindex"]
    killed_mid_write = 0
    for attempt in range(6):
        # Even attempts: killed as soon as a segment is being written; odd ones: after a delay.
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        started = time.monotonic()
        while proc.poll() is None and time.monotonic() - started < 60:
            writing = being_written(root / "index")
            if (attempt % 2 == 0 and writing) or (attempt % 2 and time.monotonic() - started > 0.3 * attempt):
                killed_mid_write += writing
                break
            time.sleep(0.002)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert matches(capsys, root, clips["copy"]) == found
    assert not list(index_folder(root).glob(".*.part"))
    print(f"killed while a segment was being written: {killed_mid_write} of 6")


def test_two_writers_indexing_the_same_fingerprints_at_once_answer_each_media_once(
    library, tmp_path: Path
) -> None:
    folder = tmp_path / "ix"
    source = lambda ids: [(i, fp) for i, fp in library if i in set(ids)]  # noqa: E731
    alive = {i: fp.sha256 for i, fp in library[:10]}
    first = ArchiveStore(folder, PHASH64, 2.0, writable=True)
    second = ArchiveStore(folder, PHASH64, 2.0, writable=True)
    a, b = first.open({}, source), second.open({}, source)  # both opened before either indexed
    a.sync(alive, source)
    b.sync(alive, source)
    first.flush(a)
    second.flush(b)
    assert len(json.loads((folder / "manifest.json").read_text())["segments"]) == 2
    index = first.open(alive, source)
    probe = library[4][1]
    hits = index.search(probe.hashes[:8], RADIUS)
    owners = np.asarray(index.owner[hits.row])
    assert {index.media[m] for m in owners} == {probe.sha256}
    assert len(set(owners.tolist())) == 1  # one of the two copies answers


def test_chunk_entries_give_back_each_row_and_its_distance_past_the_first_65536_rows() -> None:
    """An entry keeps only the hash's other chunks and splits its row in two halves: what the tables
    answer must be what comparing every row says (rows listed once per run, as the tables list them)."""
    rng = np.random.default_rng(11)
    fps = [(k + 1, shot_fingerprint(f"{k:064x}", rng, shots=40, frames_per_shot=30)) for k in range(70)]
    segment = build_segment(PHASH64, fps)
    assert len(segment) > 1 << 16
    words = np.asarray(segment.words)
    query = np.concatenate([copy_of(fps[-1][1], 0, 40, 3, rng), copy_of(fps[2][1], 100, 40, 6, rng)]).view(
        np.uint64
    )
    owner = np.asarray(segment.owner)
    values = chunk_values(words)
    for flips in (0, 1):
        got = set(zip(*(a.tolist() for a in candidates(segment.tables, query, RADIUS, flips)), strict=True))
        want = set()
        for c in range(values.shape[1]):
            listed = np.ones(len(words), dtype=bool)
            listed[1:] = (values[1:, c] != values[:-1, c]) | (owner[1:] != owner[:-1])
            rows = np.flatnonzero(listed)
            off = np.bitwise_count(chunk_values(query)[:, c : c + 1] ^ values[None, rows, c])
            dist = np.bitwise_count(query[:, 0:1] ^ words[None, rows, 0])
            q, r = np.nonzero((off <= flips) & (dist <= RADIUS))
            want |= set(zip(q.tolist(), rows[r].tolist(), dist[q, r].tolist(), strict=True))
        assert got == want
        assert max(row for _, row, _ in got) >= 1 << 16


def test_row_owners_are_read_from_row_start_media_without_frames_included() -> None:
    row_start = np.array([0, 3, 3, 7, 8, 8, 12])
    owners = RowOwners(row_start)
    whole = np.repeat(np.arange(6), np.diff(row_start))
    assert np.array_equal(np.asarray(owners), whole) and len(owners) == 12
    assert np.array_equal(owners[np.array([11, 0, 7, 3, 2])], whole[[11, 0, 7, 3, 2]])
    assert np.array_equal(owners[2:9], whole[2:9])


def test_a_saved_segment_holds_ten_bytes_a_chunk_entry_and_no_owner_per_row(library, tmp_path: Path) -> None:
    """The index's size at 10^8 frames is what these files cost a frame (bench/scale.py)."""
    segment = build_segment(PHASH64, library)
    save_segment(segment, tmp_path, "seg-a")
    sizes = {p.stem: p.stat().st_size - 128 for p in (tmp_path / "seg-a").glob("*.npy")}  # less .npy headers
    rows, entries = len(segment), [len(t) for t in segment.tables]
    assert "owner" not in sizes
    assert sizes["words"] == 8 * rows and sizes["times_ms"] == 4 * rows
    for c, count in enumerate(entries):
        assert sizes[f"chunk{c}_rest"] + sizes[f"chunk{c}_row_low"] == 10 * count
    assert sum(sizes.values()) < 8 * rows + 4 * rows + 10 * sum(entries) + 8 * (
        2 * len(segment.media) + 4 * 65538
    )


def one_segment_index(library, tmp_path: Path):  # type: ignore[no-untyped-def]
    """(folder, a function opening the index anew, its one segment's name) of an index of 30 media."""
    folder = tmp_path / "ix"
    alive = {i: fp.sha256 for i, fp in library[:30]}

    def reopen() -> ArchiveIndex:
        source = lambda ids: [(i, fp) for i, fp in library if i in set(ids)]  # noqa: E731
        return ArchiveStore(folder, PHASH64, 2.0, writable=True).open(alive, source)

    reopen()
    (name,) = json.loads((folder / MANIFEST).read_text())["segments"]
    return folder, reopen, name


def test_a_segment_of_another_layout_is_indexed_again_and_taken_off_the_manifest(
    library, tmp_path: Path, caplog
) -> None:
    folder, reopen, name = one_segment_index(library, tmp_path)
    query = library[4][1].hashes[:12]
    want = reopen().search(query, RADIUS)
    meta = json.loads((folder / name / "segment.json").read_text())
    (folder / name / "segment.json").write_text(
        json.dumps(meta | {"layout": 1})
    )  # as an older version wrote it
    with caplog.at_level("WARNING"):
        got = reopen().search(query, RADIUS)
    assert "segment layout 1" in caplog.text
    assert np.array_equal(got.row, want.row) and np.array_equal(got.distance, want.distance)
    (listed,) = json.loads((folder / MANIFEST).read_text())["segments"]
    assert listed != name and not (folder / name).exists()
    caplog.clear()
    with caplog.at_level("WARNING"):
        reopen()
    assert "unreadable" not in caplog.text  # said once, not on every open


def test_chunk_entries_of_256_bit_hashes_give_back_each_row_and_its_distance() -> None:
    rng = np.random.default_rng(5)
    n, radius = 3000, 40
    hashes = rng.integers(0, 256, (n, 32), dtype=np.uint8)
    fps = [
        (k + 1, Fingerprint(f"{k:064x}", PDQ256.name, 2.0, np.arange(300, dtype=np.int32) * 500,
                            hashes[k * 300 : (k + 1) * 300], np.full(300, 100, np.uint8)))
        for k in range(n // 300)
    ]  # fmt: skip
    segment = build_segment(PDQ256, fps)
    bits = np.unpackbits(hashes[::50], axis=1)
    bits[:, rng.choice(256, 30, replace=False)] ^= 1
    query = np.packbits(bits, axis=1).view(np.uint64)
    words = np.asarray(segment.words)
    values = chunk_values(words)
    got = set(zip(*(a.tolist() for a in candidates(segment.tables, query, radius)), strict=True))
    dist = sum(np.bitwise_count(query[:, k : k + 1] ^ words[None, :, k]).astype(int) for k in range(4))
    shared = (chunk_values(query)[:, None, :] == values[None, :, :]).any(axis=2)
    q, r = np.nonzero(shared & (dist <= radius))
    assert {(a, b) for a, b, _ in got} == set(zip(q.tolist(), r.tolist(), strict=True)) and len(q) == len(
        query
    )
    assert all(d == dist[a, b] for a, b, d in got)


def test_a_large_index_is_mapped_for_reading_at_random_and_a_small_one_with_readahead(
    library, tmp_path: Path, monkeypatch
) -> None:
    """Readahead makes a small index's first queries fast; on a large one it made the whole index
    resident (bench/scale.py --memory-limit)."""
    from provenance.index import segment as segment_module

    folder, reopen, name = one_segment_index(library, tmp_path)
    size = segment_module.segment_bytes(folder / name)
    seen: list[bool] = []
    original = segment_module.mapped_array
    monkeypatch.setattr(
        segment_module,
        "mapped_array",
        lambda path, at_random: seen.append(at_random) or original(path, at_random),
    )
    for limit, expected in ((size, False), (size - 1, True)):
        monkeypatch.setattr(archive_index_module, "AT_RANDOM_BYTES", limit)
        seen.clear()
        index = reopen()
        assert seen and set(seen) == {expected}
        assert len(index.search(library[4][1].hashes[:12], RADIUS).row)


@pytest.mark.parametrize("failure", ["no file handles", "a newer layout"])
def test_a_segment_read_only_by_another_time_or_version_is_kept_listed(
    library, tmp_path: Path, monkeypatch, caplog, failure: str
) -> None:
    """Only a segment that can never be read is dropped: one that failed for want of file handles,
    or that a newer version wrote, stays for whoever can read it (its fingerprints are indexed again
    here, so the answer is whole either way)."""
    import errno

    from provenance.index import segment as segment_module

    folder, reopen, name = one_segment_index(library, tmp_path)
    query = library[4][1].hashes[:12]
    want = reopen().search(query, RADIUS)
    if failure == "a newer layout":
        meta = json.loads((folder / name / "segment.json").read_text())
        (folder / name / "segment.json").write_text(
            json.dumps(meta | {"layout": segment_module.SEGMENT_LAYOUT + 1})
        )
    else:

        def exhausted(path: Path, at_random: bool) -> np.ndarray:
            raise OSError(errno.EMFILE, "Too many open files", str(path))

        monkeypatch.setattr(segment_module, "mapped_array", exhausted)
    with caplog.at_level("WARNING"):
        got = reopen().search(query, RADIUS)
    assert "not read" in caplog.text
    assert np.array_equal(got.distance, want.distance) and got.row.size == want.row.size
    assert name in json.loads((folder / MANIFEST).read_text())["segments"] and (folder / name).is_dir()
