"""RFC 3161 time-stamps of captures, against a real TSA on 127.0.0.1 (`openssl ts -reply`)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from fakesite import FakeSite
from fakesite import fake_site as fake_site  # the fixture, used by name
from test_cli import json_lines, run
from tsa import OPENSSL, LoopbackCA, OpensslTSA
from tsa import openssl_tsa as openssl_tsa  # the fixtures, used by name
from tsa import test_ca as test_ca

from provenance.custody import loopback_tsa
from provenance.custody.timestamps import load_roots, manifest_entries, verify_token
from provenance.store import sha256_file


def configure(root: Path, *tsa_urls: str, ca_files: tuple[Path, ...] = ()) -> None:
    root.mkdir(parents=True, exist_ok=True)
    urls = ", ".join(f'"{u}"' for u in tsa_urls)
    cas = ", ".join(f'"{p}"' for p in ca_files)
    (root / "provenance.toml").write_text(f"[timestamp]\ntsa_urls = [{urls}]\nca_files = [{cas}]\n")


def archived(capsys, root: Path, url: str, *flags: str) -> dict:
    code, out, err = run(capsys, "--archive", str(root), "archive", url, "--json", *flags)
    assert code == 0, err
    (row,) = json_lines(out)
    return row


def test_a_capture_is_stamped_and_the_token_verifies(
    capsys, tmp_path: Path, fake_site: FakeSite, openssl_tsa: OpensslTSA, test_ca: LoopbackCA
) -> None:
    root = tmp_path / "archive"
    configure(root, openssl_tsa.url, ca_files=(test_ca.root_pem,))
    row = archived(capsys, root, fake_site.url("/watch/ld"))
    asked = len(openssl_tsa.queries)
    code, out, _ = run(capsys, "--archive", str(root), "timestamp", "--json")
    (stamp,) = json_lines(out)
    assert code == 0 and stamp["type"] == "stamp" and stamp["state"] == "stamped"
    assert stamp["verified"] is True and stamp["root_trusted"] is True and stamp["gen_time"].endswith("Z")
    assert stamp["root_subject"] == "CN=test TSA root,O=provenance tests"
    assert len(openssl_tsa.queries) == asked + 1

    # The manifest names every kept file of the capture with its SHA-256, as sha256sum would.
    manifest = root / stamp["manifest_path"]
    entries = dict(manifest_entries(manifest.read_bytes()))
    media_path = next(p for p in entries if p.startswith("media/"))
    assert entries[media_path] == row["sha256"] == sha256_file(root / media_path)
    for item in row["capture"]["files"]:
        assert entries[f"{row['capture']['folder']}/{item['name']}"] == item["sha256"]
    assert stamp["manifest_sha256"] == sha256_file(manifest)
    for key in ("token_path", "chain_path", "verification_path"):
        assert (root / stamp[key]).is_file() and stamp[key].startswith(
            row["capture"]["folder"] + "/timestamps/"
        )

    # Anyone can check it with openssl alone.
    proc = subprocess.run(
        [
            OPENSSL or "openssl",
            "ts",
            "-verify",
            "-in",
            str(root / stamp["token_path"]),
            "-data",
            str(manifest),
            "-CAfile",
            str(test_ca.root_pem),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0 and "Verification: OK" in proc.stdout

    # Stamped once: a second run asks no one.
    code, out, err = run(capsys, "--archive", str(root), "timestamp", "--json")
    assert code == 0 and out == "" and "every capture is stamped" in err
    assert len(openssl_tsa.queries) == asked + 1


def test_a_changed_manifest_does_not_verify(
    tmp_path: Path, openssl_tsa: OpensslTSA, test_ca: LoopbackCA
) -> None:
    from provenance.custody.timestamps import request_token

    manifest = b"# provenance capture manifest 1\n" + b"ab" * 32 + b"  media/ab/cd/x.mp4\n"
    roots = load_roots([str(test_ca.root_pem)])
    reply, at_stamp = request_token(openssl_tsa.url, manifest, 5.0, roots)
    assert at_stamp.verified and verify_token(reply, manifest, roots).verified
    changed = manifest.replace(b"abab", b"abac", 1)
    result = verify_token(reply, changed, roots)
    assert not result.verified and not result.imprint_matches and "other data" in result.detail
    other_root = load_roots([str(LoopbackCA.create(tmp_path / "other-ca").root_pem)])
    assert not verify_token(reply, manifest, other_root).verified  # signed under another root: refused


def test_a_failing_tsa_never_blocks_the_archive_and_is_asked_again(
    capsys, tmp_path: Path, fake_site: FakeSite, test_ca: LoopbackCA
) -> None:
    down = OpensslTSA(test_ca, failing=True)
    try:
        root = tmp_path / "archive"
        configure(root, down.url, ca_files=(test_ca.root_pem,))
        row = archived(capsys, root, fake_site.url("/watch/og"), "--timestamp")
        assert row["status"] == "archived" and [s["state"] for s in row["timestamps"]] == ["failed"]
        assert "HTTP 500" in row["timestamps"][0]["error"]

        code, out, _ = run(capsys, "--archive", str(root), "timestamp", "--json")
        assert code == 1 and [s["state"] for s in json_lines(out)] == ["failed"]
        down.failing = False
        code, out, _ = run(capsys, "--archive", str(root), "timestamp", "--json")
        (stamp,) = json_lines(out)
        assert code == 0 and stamp["state"] == "stamped" and stamp["verified"] is True
    finally:
        down.stop()


def test_every_configured_tsa_gives_its_own_token(
    capsys, tmp_path: Path, fake_site: FakeSite, openssl_tsa: OpensslTSA
) -> None:
    with loopback_tsa.serve() as (python_tsa, authority):
        root = tmp_path / "archive"
        configure(root, openssl_tsa.url, python_tsa)  # no ca_files: the roots are not known here
        row = archived(capsys, root, fake_site.url("/watch/html5"), "--timestamp")
    by_tsa = {s["tsa_url"]: s for s in row["timestamps"]}
    assert set(by_tsa) == {openssl_tsa.url, python_tsa} and all(
        s["state"] == "stamped" for s in by_tsa.values()
    )
    # The Python TSA sends its root in the token: verified, though not against a trusted root.
    assert by_tsa[python_tsa]["verified"] is True and by_tsa[python_tsa]["root_trusted"] is False
    # openssl's sends only its own certificate: the imprint is checked, the chain cannot be.
    assert by_tsa[openssl_tsa.url]["verified"] is False and by_tsa[openssl_tsa.url]["state"] == "stamped"
    assert by_tsa[openssl_tsa.url]["token_path"] and by_tsa[python_tsa]["token_path"]
    # The Python TSA's token is standard: openssl verifies it too.
    token = Path(tmp_path / "archive" / by_tsa[python_tsa]["token_path"])
    (tmp_path / "root.pem").write_bytes(authority.root_pem())
    proc = subprocess.run(
        [
            OPENSSL or "openssl",
            "ts",
            "-verify",
            "-in",
            str(token),
            "-data",
            str(tmp_path / "archive" / by_tsa[python_tsa]["manifest_path"]),
            "-CAfile",
            str(tmp_path / "root.pem"),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr


def test_nothing_is_sent_without_a_tsa(capsys, tmp_path: Path, fake_site: FakeSite) -> None:
    root = tmp_path / "archive"
    code, _, err = run(capsys, "--archive", str(root), "archive", fake_site.url("/watch/og"), "--timestamp")
    assert code == 2 and "no time-stamping authority configured" in err
    assert not (root / "catalog.sqlite").exists() or not list(root.glob("captures/*"))
    archived(capsys, root, fake_site.url("/watch/og"))
    code, _, err = run(capsys, "--archive", str(root), "timestamp")
    assert code == 2 and "--tsa URL" in err


@pytest.mark.parametrize("bad", ["ftp://127.0.0.1/tsa", "not a url"])
def test_a_tsa_that_is_not_http_is_refused(capsys, tmp_path: Path, fake_site: FakeSite, bad: str) -> None:
    root = tmp_path / "archive"
    archived(capsys, root, fake_site.url("/watch/og"))
    code, _, err = run(capsys, "--archive", str(root), "timestamp", "--tsa", bad)
    assert code == 2 and "not an http(s) URL" in err
