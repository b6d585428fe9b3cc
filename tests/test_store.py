"""The archive folder: hashing, safe names, staging, content-addressed commits, atomic writes."""

from __future__ import annotations

import hashlib
import os
import re
import stat
import subprocess
from pathlib import Path

import pytest

from provenance.errors import ArchiveError, BadInputError
from provenance.store import (
    CHUNK,
    commit_media,
    media_relpath,
    prepare_root,
    safe_ext,
    sha256_file,
    staged_copy,
    sweep_staging,
    write_atomic,
)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    archive = tmp_path / "archive"
    prepare_root(archive)
    return archive


def make_file(folder: Path, name: str, data: bytes) -> tuple[Path, str]:
    path = folder / name
    path.write_bytes(data)
    return path, hashlib.sha256(data).hexdigest()


def staging_files(root: Path) -> list[Path]:
    return sorted((root / "tmp").iterdir())


def test_prepare_root_makes_the_layout(root: Path) -> None:
    for sub in ("media", "captures", "keyframes", "tmp"):
        assert (root / sub).is_dir()
    prepare_root(root)  # again: no error


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, 2 * CHUNK + 17])
def test_sha256_file_matches_hashlib(tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    path, expected = make_file(tmp_path, "blob.bin", data)
    assert sha256_file(path) == expected


def test_sha256_file_of_missing_file_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match=r"missing\.mp4"):
        sha256_file(tmp_path / "missing.mp4")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../x.mp4", "mp4"),
        ("a.MP4", "mp4"),
        ("clip.final.webm", "webm"),
        ("x.very-long-ext", "bin"),
        ("x.abcdefghi", "bin"),
        ("noext", "bin"),
        (".bashrc", "bin"),
        ("evil.mp4;rm -rf", "bin"),
        ("x.m p4", "bin"),
        ("x.../../etc", "bin"),
        ("dir/", "bin"),
        ("", "bin"),
    ],
)
def test_safe_ext_on_hostile_names(name: str, expected: str) -> None:
    ext = safe_ext(name, "bin")
    assert ext == expected
    assert re.fullmatch(r"[a-z0-9]{1,8}", ext)


def test_media_relpath_refuses_non_hashes() -> None:
    with pytest.raises(ValueError):
        media_relpath("../../etc/passwd", "mp4")
    with pytest.raises(ValueError):
        media_relpath("A" * 64, "mp4")


def test_staged_copy_yields_a_verified_copy_and_removes_it(root: Path, tmp_path: Path) -> None:
    data = os.urandom(CHUNK + 123)
    src, sha = make_file(tmp_path, "clip.MP4", data)
    with staged_copy(root, src, sha) as staged:
        assert staged.parent == root / "tmp"
        assert staged.name.startswith(f"{os.getpid()}-")
        assert staged.read_bytes() == data
    assert not staged.exists()
    assert staging_files(root) == []
    assert src.read_bytes() == data  # the source is untouched


def test_staged_copy_refuses_a_changed_file_and_leaves_no_staging(root: Path, tmp_path: Path) -> None:
    src, sha = make_file(tmp_path, "clip.mp4", b"original bytes")
    src.write_bytes(b"changed while being added")
    with pytest.raises(BadInputError, match=r"clip\.mp4"), staged_copy(root, src, sha):
        pytest.fail("a copy with the wrong hash must not be yielded")
    assert staging_files(root) == []


def test_staged_copy_removes_staging_when_the_caller_fails(root: Path, tmp_path: Path) -> None:
    src, sha = make_file(tmp_path, "clip.mp4", b"some bytes")
    with pytest.raises(RuntimeError), staged_copy(root, src, sha):
        raise RuntimeError("the caller failed")
    assert staging_files(root) == []


def test_commit_media_layout_read_only_and_idempotent(root: Path, tmp_path: Path) -> None:
    data = b"video bytes" * 1000
    src, sha = make_file(tmp_path, "clip.mp4", data)
    with staged_copy(root, src, sha) as staged:
        rel = commit_media(root, staged, sha, "mp4")
    assert rel == Path("media") / sha[:2] / sha[2:4] / f"{sha}.mp4"
    target = root / rel
    assert target.read_bytes() == data
    assert stat.S_IMODE(target.stat().st_mode) & 0o222 == 0  # nobody may write
    assert staging_files(root) == []
    mtime = target.stat().st_mtime_ns

    with staged_copy(root, src, sha) as staged:
        again = commit_media(root, staged, sha, "mp4")
    assert again == rel
    assert target.read_bytes() == data
    assert target.stat().st_mtime_ns == mtime
    assert staging_files(root) == []
    assert [p for p in (root / "media").rglob("*") if p.is_file()] == [target]


def test_commit_media_replaces_a_truncated_earlier_copy(root: Path, tmp_path: Path) -> None:
    data = os.urandom(5000)
    src, sha = make_file(tmp_path, "clip.mp4", data)
    target = root / media_relpath(sha, "mp4")
    target.parent.mkdir(parents=True)
    target.write_bytes(data[:1000])
    with staged_copy(root, src, sha) as staged:
        commit_media(root, staged, sha, "mp4")
    assert target.read_bytes() == data


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_sweep_staging_removes_only_dead_runs_leftovers(root: Path) -> None:
    dead = dead_pid()
    staging = root / "tmp"
    (staging / f"{dead}-0123abcd.mp4").write_bytes(b"half a copy")
    (staging / f"{dead}-dir").mkdir()
    (staging / f"{dead}-dir" / "part").write_bytes(b"x")
    mine = staging / f"{os.getpid()}-89abcdef.mp4"
    mine.write_bytes(b"in progress")
    assert sweep_staging(root) == 2
    assert staging_files(root) == [mine]
    assert sweep_staging(root) == 0


def test_sweep_staging_without_staging_folder(tmp_path: Path) -> None:
    assert sweep_staging(tmp_path / "not-an-archive") == 0


def test_write_atomic_creates_and_replaces(root: Path) -> None:
    target = root / "captures" / "yt:abc" / "info.json"
    write_atomic(target, b'{"a": 1}')
    assert target.read_bytes() == b'{"a": 1}'
    write_atomic(target, b'{"a": 2}')
    assert target.read_bytes() == b'{"a": 2}'
    assert [p.name for p in target.parent.iterdir()] == ["info.json"]  # no temporary left beside it


def test_write_atomic_failure_is_one_error_and_keeps_what_was_there(root: Path) -> None:
    target = root / "keyframes" / "x"
    target.mkdir(parents=True)
    (target / "inside").write_bytes(b"keep")
    with pytest.raises(ArchiveError):
        write_atomic(target, b"data")  # a folder is in the way
    assert (target / "inside").read_bytes() == b"keep"
    assert [p.name for p in target.parent.iterdir()] == ["x"]
