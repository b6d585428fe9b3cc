"""`export` a cluster as a BagIt bag and `verify-bag` it: an edited bag is refused, naming the file."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from conftest import ffmpeg, lavfi_clip
from fakesite import FakeSite, json_ld_page
from fakesite import fake_site as fake_site  # the fixture, used by name
from test_cli import json_lines, run
from tsa import LoopbackCA, OpensslTSA
from tsa import openssl_tsa as openssl_tsa  # the fixtures, used by name
from tsa import test_ca as test_ca

from provenance import open_archive


@pytest.fixture(scope="module")
def case_archive(
    tmp_path_factory: pytest.TempPathFactory,
    fake_site: FakeSite,
    openssl_tsa: OpensslTSA,
    test_ca: LoopbackCA,
) -> tuple[Path, dict[str, str]]:
    """A source, an excerpt of it and an unrelated clip, archived with their pages and stamped."""
    folder = tmp_path_factory.mktemp("bags")
    source = lavfi_clip(folder / "source.mp4", "mandelbrot=s=320x240:rate=25", 6.0)
    excerpt = folder / "excerpt.mp4"
    ffmpeg("-i", str(source), "-ss", "2", "-t", "3", "-vf", "scale=160:120", str(excerpt))
    unrelated = lavfi_clip(folder / "unrelated.mp4", "life=s=320x240:rate=25:seed=5:mold=10:ratio=0.3", 4.0)
    urls = {}
    for name, clip in (("source", source), ("excerpt", excerpt), ("unrelated", unrelated)):
        fake_site.add_file(f"/bag/media/{name}.mp4", clip, "video/mp4")
        urls[name] = fake_site.add_page(
            f"/bag/{name}", json_ld_page(fake_site, name, f"/bag/media/{name}.mp4")
        )
    root = folder / "archive"
    root.mkdir()
    (root / "provenance.toml").write_text(
        f'[timestamp]\ntsa_urls = ["{openssl_tsa.url}"]\nca_files = ["{test_ca.root_pem}"]\n'
        "[page]\nscreenshot = false\n"
    )
    code = run_cli(root, "archive", *urls.values(), "--page", "--timestamp")
    assert code == 0
    return root, urls


def run_cli(root: Path, *args: str) -> int:
    from provenance.cli import main

    try:
        main(["--archive", str(root), *args])
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def export(capsys, root: Path, target: str, out: Path) -> tuple[int, dict, str]:
    code, stdout, err = run(capsys, "--archive", str(root), "export", target, "-o", str(out), "--json")
    lines = json_lines(stdout)
    return code, lines[0] if lines else {}, err


def test_a_bag_holds_one_cluster_and_verifies(
    capsys, tmp_path: Path, case_archive, test_ca: LoopbackCA
) -> None:
    root, urls = case_archive
    bag = tmp_path / "case"
    code, made, err = export(capsys, root, urls["excerpt"], bag)
    assert code == 0, err
    assert made["type"] == "exported_bag" and len(made["members"]) == 2
    assert made["captures"] == 2 and made["timestamps"] == 2 and made["pages"] == 2

    case = json.loads((bag / "data" / "case.json").read_text())
    assert {c["url"] for c in case["captures"]} == {urls["source"], urls["excerpt"]}  # not the unrelated post
    assert case["cluster"]["earliest"]["url"] in (urls["source"], urls["excerpt"])
    media = sorted(p.name.split(".")[0] for p in (bag / "data" / "media").rglob("*.mp4"))
    assert media == sorted(made["members"])
    assert (bag / "bagit.txt").is_file()
    report = (bag / "data" / "report.html").read_text()
    assert report.count("RFC 3161 stamp ") == report.count("(verified to a trusted root)") == 2
    assert report.count("page kept ") == 2 and "HTTP 200, WARC + WACZ" in report
    assert "External-Identifier: " + made["cluster_id"] in (bag / "bag-info.txt").read_text()
    for capture in case["captures"]:
        assert (bag / "data" / capture["page"]["wacz_path"]).is_file()
        (stamp,) = capture["timestamps"]
        assert (bag / "data" / stamp["token_path"]).is_file()

    code, out, err = run(capsys, "verify-bag", str(bag), "--ca-file", str(test_ca.root_pem), "--json")
    result = json_lines(out)[0]
    assert code == 0 and result["valid"] is True and result["problems"] == []
    assert result["timestamps_checked"] == result["timestamps_verified"] == 2
    code, _, err = run(capsys, "verify-bag", str(bag))
    assert code == 0 and "valid" in err and "0 of 2 time-stamps verified to a root" in err  # no root given


@pytest.mark.parametrize("edit", ["flip", "grow", "add", "remove"])
def test_a_bag_edited_after_export_is_refused_naming_the_file(
    capsys, tmp_path: Path, case_archive, edit: str
) -> None:
    root, urls = case_archive
    bag = tmp_path / "case"
    assert export(capsys, root, urls["source"], bag)[0] == 0
    victim = next((bag / "data" / "media").rglob("*.mp4"))
    rel = victim.relative_to(bag).as_posix()
    os.chmod(victim, 0o644)
    if edit == "flip":
        data = bytearray(victim.read_bytes())
        data[1000] ^= 0x20
        victim.write_bytes(bytes(data))
    elif edit == "grow":
        (bag / "data" / "report.html").write_text(
            (bag / "data" / "report.html").read_text() + "<!-- edited -->"
        )
        rel = "data/report.html"
    elif edit == "add":
        (bag / "data" / "note.txt").write_text("added later")
        rel = "data/note.txt"
    else:
        victim.unlink()
    code, out, _err = run(capsys, "verify-bag", str(bag), "--json")
    result = json_lines(out)[0]
    assert code == 1 and result["valid"] is False
    assert rel in {p["path"] for p in result["problems"]}, result["problems"]
    code, out, _ = run(capsys, "verify-bag", str(bag))
    assert code == 1 and f"invalid  {rel}:" in out


def test_a_damaged_archive_file_is_not_exported(capsys, tmp_path: Path, case_archive) -> None:
    root, urls = case_archive
    copy = tmp_path / "archive"
    shutil.copytree(root, copy)
    with open_archive(copy) as archive:
        (capture,) = archive.catalog.captures(url=urls["source"])
    info = copy / capture.folder / "info.json"
    info.write_text(info.read_text() + " ")
    code, _, err = run(capsys, "--archive", str(copy), "export", urls["source"], "-o", str(tmp_path / "case"))
    assert code == 3 and f"{capture.folder}/info.json: the bytes are not the ones recorded" in err
    assert not (tmp_path / "case").exists() and not list(tmp_path.glob(".case.partial-*"))


def test_export_refuses_a_folder_in_use_and_verify_bag_a_non_bag(
    capsys, tmp_path: Path, case_archive
) -> None:
    root, urls = case_archive
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("mine")
    code, _, err = run(capsys, "--archive", str(root), "export", urls["source"], "-o", str(busy))
    assert code == 2 and "not empty" in err and (busy / "keep.txt").read_text() == "mine"
    code, _, err = run(capsys, "verify-bag", str(busy))
    assert code == 3 and "not a BagIt bag" in err
