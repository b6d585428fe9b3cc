"""`add_files --jobs N`: the files decoded at once share the CPUs, and the share reaches the decoders.
`add` ends by matching what it added: the edges are in the catalog before `clusters` asks for them."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest
from conftest import ffmpeg, lavfi_clip
from test_cli import clips as clips  # fixture, used by name
from test_cli import json_lines, run

from provenance.frames import video
from provenance.frames.video import share_decoders
from provenance.models import Progress
from provenance.pipeline import Archive, add_files, list_clusters, open_archive
from provenance.pipeline import clusters as clusters_module
from provenance.pipeline.clusters import match_key
from provenance.settings import SamplingSettings, Settings, load_settings

CPUS = 8


@pytest.fixture
def eight_cpus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(video.os, "sched_getaffinity", lambda pid: set(range(CPUS)), raising=False)


@pytest.fixture
def decoders(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """(run decoders, FFmpeg threads of each decoder) of every decoder context a file opens."""
    seen: list[tuple[int, int]] = []

    class Recording(video._RunDecoders):
        def _context(self):  # type: ignore[no-untyped-def]
            context = super()._context()
            seen.append((len(self._workers), context.thread_count))
            return context

    monkeypatch.setattr(video, "_RunDecoders", Recording)
    return seen


@pytest.mark.parametrize(("jobs", "threads"), [(1, 8), (2, 5), (4, 3), (8, 1), (16, 1)])
def test_jobs_share_the_cpus(eight_cpus: None, jobs: int, threads: int) -> None:
    # One more than each file's share (a thread waiting on the GIL leaves a CPU idle), at least one.
    assert share_decoders(SamplingSettings(), jobs).decode_threads == (0 if jobs == 1 else threads)
    assert video._auto_threads(jobs) == threads


def test_a_number_the_user_set_is_kept() -> None:
    assert share_decoders(SamplingSettings(decode_threads=3), 4).decode_threads == 3


@pytest.mark.parametrize(("jobs", "expected"), [(2, (5, 1)), (8, (1, 1))])
def test_the_share_reaches_the_decoders(
    tmp_path: Path, eight_cpus: None, decoders: list[tuple[int, int]], jobs: int, expected: tuple[int, int]
) -> None:
    clips = [
        lavfi_clip(tmp_path / f"{i}.mp4", f"testsrc2=s=160x120:rate=10,hue=h={i * 90}", 2) for i in range(2)
    ]
    with open_archive(tmp_path / "archive") as archive:
        assert [r.status for r in add_files(archive, clips, jobs=jobs)] == ["added", "added"]
    # Side by side, each run decoder is single-threaded; alone, the decoder gets the whole share.
    assert decoders and set(decoders) == {expected}


# -- matching at the end of `add` --------------------------------------------------------------------


@pytest.fixture(scope="module")
def copies(clips: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The fractal clip, an excerpt of it (seconds 2-5, smaller) and a rescaled re-encode of it."""
    rescaled = tmp_path_factory.mktemp("copies") / "fractal_rescaled.mp4"
    ffmpeg(
        "-i",
        str(clips["fractal"]),
        "-vf",
        "scale=240:180",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        str(rescaled),
    )
    return {"fractal": clips["fractal"], "excerpt": clips["excerpt"], "rescaled": rescaled}


def sha_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def edges(archive: Archive) -> set[tuple[str, str]]:
    """The stored (query, reference) pairs of two different media."""
    stored = archive.catalog.stored_matches(match_key(archive))
    return {(m.query_sha256, m.ref_sha256) for m in stored if m.query_sha256 != m.ref_sha256}


def match_events(events: list[Progress]) -> list[Progress]:
    return [e for e in events if e.stage == "match"]


def test_one_batch_stores_the_pair_both_ways_and_clusters_decodes_nothing(
    tmp_path: Path, copies: dict[str, Path]
) -> None:
    fractal, excerpt = sha_of(copies["fractal"]), sha_of(copies["excerpt"])
    events: list[Progress] = []
    with open_archive(tmp_path / "archive") as archive:
        results = list(add_files(archive, [copies["fractal"], copies["excerpt"]], on_event=events.append))
        assert [r.status for r in results] == ["added", "added"]
        # Matched once the whole batch was recorded: both were in the index for both runs.
        assert [(e.done, e.total) for e in match_events(events)] == [(1, 2), (2, 2)]
        assert events.index(match_events(events)[0]) > max(
            i for i, e in enumerate(events) if e.stage == "add"
        )
        runs = archive.catalog.match_runs(match_key(archive))
        assert set(runs) == {fractal, excerpt}
        assert edges(archive) == {(fractal, excerpt), (excerpt, fractal)}
        later: list[Progress] = []
        found = list_clusters(archive, on_event=later.append)
        assert not match_events(later)  # read from the catalog, nothing decoded
        assert archive.catalog.match_runs(match_key(archive)) == runs
    assert [c.members for c in found] == [tuple(sorted((fractal, excerpt)))]


def test_a_media_added_later_is_matched_alone_and_the_cluster_grows(
    tmp_path: Path, copies: dict[str, Path]
) -> None:
    root = tmp_path / "archive"
    with open_archive(root) as archive:
        list(add_files(archive, [copies["fractal"], copies["excerpt"]]))
    before = stored_rows(root)
    events: list[Progress] = []
    with open_archive(root) as archive:
        assert [r.status for r in add_files(archive, [copies["rescaled"]], on_event=events.append)] == [
            "added"
        ]
        assert [(e.done, e.total, e.item) for e in match_events(events)] == [
            (1, 1, sha_of(copies["rescaled"]))
        ]
        found = list_clusters(archive)
    after = stored_rows(root)
    # The earlier runs and their edges stand as they were: the new media's run covers its pairs.
    assert {k: v for k, v in after.items() if k[0] != sha_of(copies["rescaled"])} == before
    assert [c.members for c in found] == [tuple(sorted(sha_of(p) for p in copies.values()))]


def stored_rows(root: Path) -> dict[tuple[str, str], tuple]:
    """{(table, query sha256 / pair): the row}: match runs and stored edges as the catalog holds them."""
    db = sqlite3.connect(root / "catalog.sqlite")
    try:
        runs = db.execute("SELECT * FROM match_runs").fetchall()
        pairs = db.execute("SELECT * FROM matches").fetchall()
    finally:
        db.close()
    return {**{(r[0], "run"): r for r in runs}, **{(r[0], r[1]): r for r in pairs}}


def test_no_match_leaves_matching_to_clusters(tmp_path: Path, copies: dict[str, Path], capsys) -> None:
    root = tmp_path / "archive"
    args = ("--archive", str(root))
    code, out, _ = run(
        capsys, *args, "add", "--no-match", str(copies["fractal"]), str(copies["excerpt"]), "--json"
    )
    assert code == 0 and [r["status"] for r in json_lines(out)] == ["added", "added"]
    with open_archive(root) as archive:
        assert archive.catalog.match_runs(match_key(archive)) == {}
    code, out, _ = run(capsys, *args, "clusters", "--json")
    assert code == 0
    assert [sorted(c["members"]) for c in json_lines(out)] == [
        sorted(sha_of(copies[n]) for n in ("fractal", "excerpt"))
    ]


def test_a_failure_to_match_changes_no_result_and_clusters_makes_up_for_it(
    tmp_path: Path, copies: dict[str, Path], capsys, monkeypatch: pytest.MonkeyPatch, caplog
) -> None:
    def broken(archive: Archive) -> None:
        raise RuntimeError("index unreadable")

    root = tmp_path / "archive"
    with monkeypatch.context() as patch:
        patch.setattr(clusters_module, "searchable", broken)
        code, out, _ = run(
            capsys, "--archive", str(root), "add", str(copies["fractal"]), str(copies["excerpt"]), "--json"
        )
    assert code == 0 and [r["status"] for r in json_lines(out)] == ["added", "added"]
    assert "matching left for the next `clusters`: index unreadable" in caplog.text
    with open_archive(root) as archive:
        assert archive.catalog.match_runs(match_key(archive)) == {}
        assert len(list_clusters(archive)) == 1


def test_a_kill_while_matching_keeps_the_media_and_clusters_matches_the_rest(
    tmp_path: Path, copies: dict[str, Path]
) -> None:
    def killed(event: Progress) -> None:
        if event.stage == "match":  # after the first media's edges were stored
            raise KeyboardInterrupt

    root = tmp_path / "archive"
    with open_archive(root) as archive, pytest.raises(KeyboardInterrupt):
        list(add_files(archive, [copies["fractal"], copies["excerpt"]], on_event=killed))
    events: list[Progress] = []
    with open_archive(root) as archive:
        assert len(archive.catalog.list_media()) == 2
        assert len(archive.catalog.match_runs(match_key(archive))) == 1
        found = list_clusters(archive, on_event=events.append)
        assert [(e.done, e.total) for e in match_events(events)] == [(1, 1)]
    assert len(found) == 1 and len(found[0].members) == 2


def test_match_on_add_is_a_setting_outside_the_match_key(tmp_path: Path) -> None:
    off = load_settings(tmp_path, environ={"PROVENANCE_BATCH_MATCH_ON_ADD": "0"})
    assert Settings().batch.match_on_add and not off.batch.match_on_add
    with open_archive(tmp_path / "on") as on_archive, open_archive(tmp_path / "off", off) as off_archive:
        assert match_key(on_archive) == match_key(off_archive)  # edges made either way are the same
