"""`add`/`archive --dask`: a real Dask cluster (worker processes on 127.0.0.1) builds the same archive
as a local run, item failures stay per item, and a scheduler that does not answer is one line."""

from __future__ import annotations

import socket
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import lavfi_clip
from fakesite import FakeSite
from fakesite import fake_site as fake_site  # the fixture, used by name
from test_cli import json_lines, run

distributed = pytest.importorskip("distributed", reason="pip install 'provenance[dask]'")

# What must be equal in two archives of the same inputs (times of the run itself left out).
COMPARED = {
    "media": "sha256, kind, ext, path, size_bytes, original_name, duration_s, width, height",
    "media_info": "sha256, info_json",
    "fingerprints": "sha256, hasher, rate_hz, layout, frame_count, times_ms, hashes, quality, content_box",
    "sources": "sha256, source_path",
}


@pytest.fixture(scope="module")
def cluster() -> Iterator[distributed.LocalCluster]:
    with distributed.LocalCluster(
        n_workers=2, processes=True, host="127.0.0.1", threads_per_worker=1, dashboard_address=None
    ) as started:
        yield started


@pytest.fixture(scope="module")
def scheduler(cluster: distributed.LocalCluster) -> str:
    return cluster.scheduler_address


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Two clips and a truncated one.  Its index is at the front (faststart), so the client's header
    check passes and it fails on the worker that probes it."""
    folder = tmp_path_factory.mktemp("inputs")
    fractal = lavfi_clip(folder / "fractal.mp4", "mandelbrot=s=160x120:rate=10", 3, "-movflags", "+faststart")
    pattern = lavfi_clip(folder / "pattern.mp4", "testsrc2=s=160x120:rate=10", 3)
    broken = folder / "broken.mp4"
    broken.write_bytes(fractal.read_bytes()[: fractal.stat().st_size // 3])
    return [fractal, broken, pattern]


def rows(root: Path) -> dict[str, list[tuple]]:
    with sqlite3.connect(root / "catalog.sqlite") as db:
        return {table: sorted(db.execute(f"SELECT {cols} FROM {table}")) for table, cols in COMPARED.items()}


def media_files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted((root / "media").rglob("*")) if p.is_file()
    }


def add(capsys: pytest.CaptureFixture[str], root: Path, *args: str) -> tuple[int, list[dict], str]:
    code, out, err = run(capsys, "--archive", str(root), "add", *args, "--json")
    return code, json_lines(out), err


def test_add_on_the_cluster_builds_the_archive_a_local_run_builds(
    tmp_path: Path, inputs: list[Path], cluster: distributed.LocalCluster, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = [str(p) for p in inputs]
    local_code, local, _ = add(capsys, tmp_path / "local", *paths, "--jobs", "2")
    code, remote, err = add(capsys, tmp_path / "dask", *paths, "--dask", cluster.scheduler_address)

    assert code == local_code == 1  # some failed, the others were added
    assert remote == local  # statuses, sha256s, and the failure's kind and message
    assert [r["status"] for r in remote] == ["added", "failed", "added"]
    failure = remote[1]["error"]
    assert failure["kind"] == "bad_media" and str(inputs[1]) in failure["message"]
    assert str(inputs[1]) in err
    # The broken file failed on a worker, not before it was sent there.
    erred = [t for t in cluster.scheduler.erred_tasks if "measure_on_worker" in str(t.key)]
    assert erred and str(inputs[1]) in erred[-1].exception_text
    assert rows(tmp_path / "dask") == rows(tmp_path / "local")
    assert media_files(tmp_path / "dask") == media_files(tmp_path / "local")
    # Matches over either archive give the same answer (paths aside: they name each archive's folder).
    matched = [matches(capsys, tmp_path / name, inputs[0]) for name in ("local", "dask")]
    assert matched[0] == matched[1] and matched[0]


def matches(capsys: pytest.CaptureFixture[str], root: Path, query: Path) -> list[dict]:
    code, out, _ = run(capsys, "--archive", str(root), "match", str(query), "--json")
    assert code == 0
    return [{k: v for k, v in record.items() if k != "path"} for record in json_lines(out)]


def test_the_scheduler_comes_from_the_environment_and_paths_may_be_relative(
    tmp_path: Path, inputs: list[Path], scheduler: str, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Workers have another working folder: a relative input, and a relative archive, still work.
    monkeypatch.setenv("PROVENANCE_DASK_SCHEDULER", scheduler)
    monkeypatch.chdir(inputs[0].parent)
    code, out, _ = run(capsys, "--archive", "archive", "add", inputs[2].name, inputs[1].name, "--json")
    results = json_lines(out)
    assert code == 1 and [r["status"] for r in results] == ["added", "failed"]
    # The failure names the file as it was given, not the worker's absolute path.
    assert results[1]["error"]["message"].startswith(f"{inputs[1].name}: ")


def test_archive_on_the_cluster_matches_a_local_run(
    tmp_path: Path, fake_site: FakeSite, scheduler: str, capsys: pytest.CaptureFixture[str]
) -> None:
    urls = [fake_site.url("/watch/ld"), fake_site.url("/watch/truncated"), fake_site.url("/watch/html5")]
    results = {}
    for name, extra in (("local", ()), ("dask", ("--dask", scheduler))):
        code, out, _ = run(capsys, "--archive", str(tmp_path / name), "archive", *urls, *extra, "--json")
        results[name] = (code, [(r["url"], r["status"], r["sha256"], r["error"]) for r in json_lines(out)])
    assert results["dask"] == results["local"]
    assert [status for _, status, _, _ in results["dask"][1]] == ["archived", "failed", "archived"]
    assert results["dask"][1][1][3]["kind"] == "bad_media"
    assert media_files(tmp_path / "dask") == media_files(tmp_path / "local")
    fingerprints = {name: rows(tmp_path / name)["fingerprints"] for name in results}
    assert fingerprints["dask"] == fingerprints["local"]


def _unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.logs_errors  # distributed logs each refused connection
def test_an_unreachable_scheduler_is_one_line_and_a_failure(
    tmp_path: Path, inputs: list[Path], capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROVENANCE_BATCH_DASK_CONNECT_TIMEOUT_S", "0.5")
    address = f"tcp://127.0.0.1:{_unused_port()}"
    code, out, err = run(capsys, "--archive", str(tmp_path / "a"), "add", str(inputs[0]), "--dask", address)
    assert code != 0 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and address in lines[0] and "no Dask scheduler" in lines[0], err
