"""`provenance check`: every kept file re-hashed against the catalog; --repair rebuilds derived data only."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from conftest import lavfi_clip
from fakesite import FakeSite
from fakesite import fake_site as fake_site  # the fixture, used by name
from test_cli import json_lines, run
from tsa import openssl_tsa as openssl_tsa  # the fixtures, used by name
from tsa import test_ca as test_ca

from provenance import check_archive, open_archive
from provenance.pipeline import add_files, archive_urls, keyframes_of


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory, fake_site: FakeSite) -> Path:
    """An archive with two added clips (keyframes kept for one) and one captured post."""
    folder = tmp_path_factory.mktemp("fixity")
    cut = lavfi_clip(folder / "cut.mp4", "testsrc2=s=160x120:rate=10", 2.0)
    fractal = lavfi_clip(folder / "fractal.mp4", "mandelbrot=s=160x120:rate=10", 3.0)
    root = folder / "archive"
    with open_archive(root) as archive:
        assert [r.status for r in add_files(archive, [cut, fractal])] == ["added", "added"]
        media = next(m for m in archive.catalog.list_media() if m.original_name == "fractal.mp4")
        assert keyframes_of(archive, media.sha256).keyframes
        (result,) = archive_urls(archive, [fake_site.url("/watch/ld")])
        assert result.status == "archived", result.error
    return root


@pytest.fixture
def archive_copy(pristine: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "archive"
    shutil.copytree(pristine, copy)
    return copy


def check(capsys, root: Path, *args: str) -> tuple[int, list[dict], str]:
    code, out, err = run(capsys, "--archive", str(root), "check", "--json", *args)
    return code, json_lines(out), err


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and "catalog" not in p.name
    }


def test_an_intact_archive_checks_clean(capsys, archive_copy: Path) -> None:
    code, lines, _ = check(capsys, archive_copy)
    (summary,) = lines
    assert code == 0 and summary["type"] == "check_summary" and summary["clean"] is True
    # media x2, the post's media, info.json + thumbnail + description, a keyframe: every file hashed
    assert summary["files"] == summary["hashed_files"] >= 6
    assert summary["hashed_bytes"] == summary["bytes_total"] > 0

    code, out, err = run(capsys, "--archive", str(archive_copy), "check")
    assert code == 0 and out == "" and "clean" in err


def test_a_flipped_byte_is_found_and_nothing_is_changed(capsys, archive_copy: Path) -> None:
    with open_archive(archive_copy) as archive:
        media = archive.catalog.list_media()[0]
    target = archive_copy / media.path
    os.chmod(target, 0o644)
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01
    target.write_bytes(bytes(data))
    before = snapshot(archive_copy)

    code, lines, _ = check(capsys, archive_copy)
    problems = [line for line in lines if line["type"] == "check_problem"]
    assert code == 1
    (problem,) = problems
    assert problem["kind"] == "changed" and problem["role"] == "media" and problem["path"] == str(media.path)
    assert problem["expected_sha256"] == media.sha256 and problem["actual_sha256"] not in (None, media.sha256)
    assert lines[-1]["by_kind"] == {"changed": 1}
    assert snapshot(archive_copy) == before, "check changed a file"

    code, out, _ = run(capsys, "--archive", str(archive_copy), "check")
    assert code == 1 and f"changed    media     {media.path}" in out


def test_missing_stray_and_leftover_files_are_named(capsys, archive_copy: Path) -> None:
    info = next(archive_copy.glob("captures/*/*/info.json"))
    info.unlink()  # a row without its file
    (archive_copy / "media" / "ab").mkdir(exist_ok=True)
    (archive_copy / "media" / "ab" / "dropped.mp4").write_bytes(b"not from here")  # a file without a row
    (archive_copy / "tmp" / "999999999-0123456789abcdef").write_bytes(b"half a download")  # a dead run's
    (info.parent / ".thumbnail.jpg.1a2b3c4d.part").write_bytes(b"x")  # a write that never finished

    code, lines, _ = check(capsys, archive_copy)
    found = {(line["kind"], line["path"]) for line in lines if line["type"] == "check_problem"}
    rel = info.relative_to(archive_copy).as_posix()
    assert code == 1
    assert found == {
        ("missing", rel),
        ("stray", "media/ab/dropped.mp4"),
        ("staging", "tmp/999999999-0123456789abcdef"),
        ("staging", (info.parent / ".thumbnail.jpg.1a2b3c4d.part").relative_to(archive_copy).as_posix()),
    }
    assert (archive_copy / "tmp" / "999999999-0123456789abcdef").exists(), "check swept the staging folder"


def test_a_sample_hashes_part_and_still_finds_every_missing_file(capsys, archive_copy: Path) -> None:
    code, lines, _ = check(capsys, archive_copy, "--sample", "0.3", "--seed", "7")
    summary = lines[-1]
    assert code == 0 and 1 <= summary["hashed_files"] < summary["files"] and summary["sample"] == 0.3
    with open_archive(archive_copy) as archive:
        media = archive.catalog.list_media()
    for m in media:
        (archive_copy / m.path).unlink()
    code, lines, _ = check(capsys, archive_copy, "--sample", "0.3", "--seed", "7")
    missing = {line["path"] for line in lines if line.get("kind") == "missing"}
    assert code == 1 and missing == {str(m.path) for m in media}


def test_repair_rebuilds_keyframes_and_never_touches_media(capsys, archive_copy: Path) -> None:
    keyframe = next((archive_copy / "keyframes").rglob("*.jpg"))
    keyframe.write_bytes(b"damaged")
    with open_archive(archive_copy) as archive:
        media = next(m for m in archive.catalog.list_media() if m.original_name == "cut.mp4")
    target = archive_copy / media.path
    os.chmod(target, 0o644)
    target.write_bytes(target.read_bytes()[:-10])  # a damaged media file: reported, never "repaired"
    media_before = {p: p.read_bytes() for p in (archive_copy / "media").rglob("*") if p.is_file()}

    code, lines, _ = check(capsys, archive_copy, "--repair")
    actions = {line["action"] for line in lines if line["type"] == "repair_action"}
    assert code == 1 and {"reexported_keyframes", "rebuilt_index"} <= actions
    assert {p: p.read_bytes() for p in media_before} == media_before

    code, lines, _ = check(capsys, archive_copy)
    problems = [(line["kind"], line["path"]) for line in lines if line["type"] == "check_problem"]
    assert problems == [("changed", str(media.path))]  # the keyframe is whole again, the media still damaged


def test_a_token_that_no_longer_verifies_is_a_problem(archive_copy: Path, openssl_tsa) -> None:
    with open_archive(archive_copy) as archive:
        from provenance.custody.timestamps import stamp_captures

        (stamp,) = stamp_captures(archive, tsa_urls=[openssl_tsa.url])
        assert stamp.state == "stamped"
        assert check_archive(archive).clean
        manifest = archive_copy / stamp.manifest_path
        text = manifest.read_text()
        manifest.write_text(text.replace("# url:", "# url: (edited)"))  # the stamped manifest, edited
    with open_archive(archive_copy, mode="inspect") as archive:
        kinds = {(p.kind, p.path) for p in check_archive(archive).problems}
    assert ("changed", stamp.manifest_path) in kinds


def test_check_needs_an_archive(capsys, tmp_path: Path) -> None:
    code, _, err = run(capsys, "--archive", str(tmp_path / "nowhere"), "check")
    assert code == 4 and "no archive here" in err and not (tmp_path / "nowhere").exists()


@pytest.mark.parametrize("command", ["check", "timestamp", "recheck", "export", "verify-bag"])
def test_custody_commands_teach_with_examples(capsys, command: str) -> None:
    code, text, _ = run(capsys, command, "--help")
    assert code == 0 and "Usage:" in text and "--json" in text and "Example" in text
    assert f"provenance {command}" in text
