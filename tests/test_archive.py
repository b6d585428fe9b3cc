"""`provenance archive` end to end: real yt-dlp downloads from the loopback fake site into an archive."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ffmpeg, lavfi_clip
from fakesite import LD_AUTHOR, LD_TITLE, FakeSite, json_ld_page, make_clip
from fakesite import fake_site as fake_site  # the fixture, used by name
from test_cli import json_lines, run

ARCHIVE_KEYS = {
    "url",
    "status",
    "capture_id",
    "sha256",
    "published_at",
    "published_precision",
    "uploader",
    "title",
    "error",
}


@pytest.fixture(autouse=True)
def _fast_network(monkeypatch: pytest.MonkeyPatch) -> None:
    # The slow page (3 s) must fail on the socket timeout, and failures must not be retried for long.
    monkeypatch.setenv("PROVENANCE_DOWNLOAD_SOCKET_TIMEOUT_S", "1.0")
    monkeypatch.setenv("PROVENANCE_DOWNLOAD_RETRIES", "0")
    monkeypatch.setenv("PROVENANCE_DOWNLOAD_FRAGMENT_RETRIES", "1")


def archive_cmd(capsys, root: Path, *args: str) -> tuple[int, list[dict], str]:
    code, out, err = run(capsys, "--archive", str(root), "archive", *args, "--json")
    return code, json_lines(out), err


def media_requests(site: FakeSite) -> int:
    return sum(1 for path in site.requests if path.startswith(("/media/", "/files/", "/hls/", "/copies/")))


def test_a_json_ld_post_is_archived_with_its_platform_facts(tmp_path, fake_site: FakeSite, capsys) -> None:
    root = tmp_path / "archive"
    url = fake_site.url("/watch/ld")
    code, rows, err = archive_cmd(capsys, root, url)
    assert code == 0, err
    (row,) = rows
    assert set(row) >= ARCHIVE_KEYS and row["status"] == "archived" and row["error"] is None
    assert row["published_at"] == "2015-09-30T08:15:00Z" and row["published_precision"] == "second"
    assert row["uploader"] == LD_AUTHOR and row["title"] == LD_TITLE and row["url"] == url

    capture = row["capture"]
    folder = root / capture["folder"]
    assert (folder / "info.json").is_file()
    for item in capture["files"]:  # custody: every kept file has its SHA-256 recorded
        assert hashlib.sha256((folder / item["name"]).read_bytes()).hexdigest() == item["sha256"]
    assert json.loads((folder / "info.json").read_text())["title"] == LD_TITLE
    assert {"provenance", "yt-dlp", "ffmpeg"} <= set(capture["tool_versions"])
    assert capture["captured_at"].endswith("Z") and capture["http_status"] in (200, 206)

    code, out, _ = run(capsys, "--archive", str(root), "info", url, "--json")
    assert code == 0
    info = json.loads(out)
    assert info["sha256"] == row["sha256"] and info["archived"] is True
    assert [c["capture_id"] for c in info["captures"]] == [row["capture_id"]]


def test_archived_posts_can_be_matched_at_once(tmp_path, fake_site: FakeSite, capsys) -> None:
    root = tmp_path / "archive"
    unrelated = make_clip(tmp_path / "pattern.mp4")
    fractal = tmp_path / "fractal_source.mp4"
    lavfi_clip(fractal, "mandelbrot=s=320x240:rate=25", 6)
    fake_site.add_file("/copies/fractal.mp4", fractal, "video/mp4")
    url = fake_site.add_page("/watch/fractal", json_ld_page(fake_site, "Fractal", "/copies/fractal.mp4"))
    assert archive_cmd(capsys, root, url)[0] == 0
    excerpt = tmp_path / "excerpt.mp4"
    ffmpeg("-i", str(fractal), "-ss", "2", "-t", "3", "-vf", "scale=160:120", str(excerpt))
    code, out, _ = run(capsys, "--archive", str(root), "match", str(excerpt), "--json")
    assert code == 0
    (match,) = json_lines(out)
    assert url in match["sources"]
    code, out, _ = run(capsys, "--archive", str(root), "match", str(unrelated), "--json")
    assert code == 0 and out.strip() == ""  # unrelated footage is not matched


def test_archiving_again_finds_the_capture_without_downloading(tmp_path, fake_site: FakeSite, capsys) -> None:
    root = tmp_path / "archive"
    url = fake_site.url("/watch/og")
    first = archive_cmd(capsys, root, url)[1][0]
    downloads = media_requests(fake_site)
    code, rows, _ = archive_cmd(capsys, root, url)
    assert code == 0 and rows[0]["status"] == "exists"
    assert rows[0]["capture_id"] == first["capture_id"] and rows[0]["sha256"] == first["sha256"]
    assert media_requests(fake_site) == downloads, "the media was downloaded again"

    code, rows, _ = archive_cmd(capsys, root, url, "--refresh")
    assert code == 0 and rows[0]["status"] == "archived"
    code, out, _ = run(capsys, "--archive", str(root), "info", url, "--json")
    captures = json.loads(out)["captures"]
    assert len(captures) == 2 and len({c["folder"] for c in captures}) == 2  # kept beside the old one
    media = [p for p in (root / "media").rglob("*") if p.is_file()]
    assert len(media) == 1  # same bytes, stored once


def test_a_batch_reports_every_url_and_keeps_going(tmp_path, fake_site: FakeSite, capsys) -> None:
    root = tmp_path / "archive"
    urls = {
        fake_site.url("/watch/ld"): ("archived", None),
        fake_site.url("/nowhere"): ("failed", "not_found"),
        fake_site.url("/watch/empty"): ("failed", "no_video"),
        fake_site.url("/status/500"): ("failed", "network"),
        fake_site.url("/watch/slow"): ("failed", "network"),
        fake_site.url("/watch/truncated"): ("failed", "bad_media"),
        fake_site.url("/watch/html5"): ("archived", None),
    }
    listing = tmp_path / "urls.txt"
    listing.write_text("# a case file\n" + "\n".join(urls) + "\n\n")
    code, rows, err = archive_cmd(capsys, root, "-i", str(listing), "--jobs", "3")
    assert code == 1
    assert [r["url"] for r in rows] == list(urls)
    for row in rows:
        status, kind = urls[row["url"]]
        assert row["status"] == status, row
        assert (row["error"] or {}).get("kind") == kind, row
        if kind:
            assert row["url"] in row["error"]["message"]
    assert len([line for line in err.splitlines() if line.startswith("provenance:")]) == 5
    assert not list((root / "tmp").iterdir())


def test_a_csv_list_and_a_feed(tmp_path, fake_site: FakeSite, capsys) -> None:
    root = tmp_path / "archive"
    listing = tmp_path / "urls.csv"
    listing.write_text(f"case,URL\n1,{fake_site.url('/feed.rss')}\n")
    code, rows, err = archive_cmd(capsys, root, "-i", str(listing))
    assert code == 0, err
    # The feed's two entries are two posts, each its own capture.
    assert [r["status"] for r in rows] == ["archived", "archived"]
    assert len({r["capture_id"] for r in rows}) == 2


def test_all_urls_failing_is_bad_input(tmp_path, fake_site: FakeSite, capsys) -> None:
    code, rows, err = archive_cmd(capsys, tmp_path / "archive", fake_site.url("/nowhere"))
    assert code == 3 and rows[0]["error"]["kind"] == "not_found"
    assert err.count("\n") == 1 and "/nowhere" in err
    assert run(capsys, "--archive", str(tmp_path / "archive"), "archive")[0] == 2  # nothing to archive


def test_hostile_titles_never_reach_the_file_system(tmp_path, fake_site: FakeSite, capsys) -> None:
    root = tmp_path / "archive"
    code, rows, _ = archive_cmd(capsys, root, fake_site.url("/watch/hostile"))
    assert code == 0 and "passwd" in rows[0]["title"]
    for path in root.rglob("*"):
        assert (
            "passwd" not in path.name
            and "<" not in path.name
            and path.resolve().is_relative_to(root.resolve())
        )


def _spawn(root: Path, listing: Path, more_env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    cmd = [
        sys.executable,
        "-m",
        "provenance",
        "--archive",
        str(root),
        "archive",
        "-i",
        str(listing),
        "--json",
    ]
    env = {
        "PROVENANCE_DOWNLOAD_SOCKET_TIMEOUT_S": "1.0",
        "PROVENANCE_DOWNLOAD_RETRIES": "0",
        **(more_env or {}),
    }
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, **env})


def test_a_killed_batch_resumes_without_duplicates(tmp_path, fake_site: FakeSite) -> None:
    root = tmp_path / "archive"
    fractal = tmp_path / "f.mp4"
    lavfi_clip(fractal, "mandelbrot=s=640x360:rate=25", 8)
    urls = []
    for i in range(6):  # distinct posts; the slow pages make sure a kill lands mid-batch
        fake_site.add_file(f"/copies/resume{i}.mp4", fractal.read_bytes() + b"\0" * i, "video/mp4")
        urls.append(
            fake_site.add_page(
                f"/watch/resume{i}", json_ld_page(fake_site, f"R{i}", f"/copies/resume{i}.mp4")
            )
        )
    urls.append(fake_site.url("/watch/slow"))
    listing = tmp_path / "urls.txt"
    listing.write_text("\n".join(urls))
    for delay in (1.5, 3.0):
        proc = _spawn(root, listing)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    proc = _spawn(root, listing)
    out, err = proc.communicate(timeout=180)
    rows = json_lines(out.decode())
    assert proc.returncode == 1, err.decode()  # the slow page fails; everything else is kept
    assert [r["url"] for r in rows] == urls
    assert all(r["status"] in ("archived", "exists") for r in rows[:-1])
    ids = [r["capture_id"] for r in rows[:-1]]
    assert len(set(ids)) == 6
    listed = subprocess.run(
        [sys.executable, "-m", "provenance", "--archive", str(root), "list", "--json"],
        capture_output=True,
        check=True,
    ).stdout.decode()
    assert len(json_lines(listed)) == 6  # six distinct files, each once
    for capture_id in ids:
        info = subprocess.run(
            [
                sys.executable,
                "-m",
                "provenance",
                "--archive",
                str(root),
                "info",
                rows[ids.index(capture_id)]["url"],
                "--json",
            ],
            capture_output=True,
            check=True,
        )
        assert len(json.loads(info.stdout)["captures"]) == 1, "a post was captured twice"
    assert not list((root / "tmp").iterdir())


def test_one_post_under_two_addresses_in_one_batch_is_captured_once(
    tmp_path, fake_site: FakeSite, capsys
) -> None:
    root = tmp_path / "archive"
    url = fake_site.url("/watch/ld")
    code, rows, _ = archive_cmd(capsys, root, url, url + "#again", "--jobs", "2")
    assert code == 0
    assert sorted(r["status"] for r in rows) == ["archived", "exists"]
    assert rows[0]["capture_id"] == rows[1]["capture_id"]
    code, out, _ = run(capsys, "--archive", str(root), "info", url, "--json")
    assert len(json.loads(out)["captures"]) == 1
    captures_dirs = [p for p in (root / "captures").rglob("info.json")]
    assert len(captures_dirs) == 1  # the second download's files were not kept


def test_a_resumed_batch_reports_every_entry_of_a_feed_again(tmp_path, fake_site: FakeSite, capsys) -> None:
    root = tmp_path / "archive"
    feed = fake_site.url("/feed.rss")
    first = archive_cmd(capsys, root, feed)[1]
    again = archive_cmd(capsys, root, feed)[1]
    assert len(first) == len(again) == 2
    assert [r["capture_id"] for r in again] == [r["capture_id"] for r in first]
    assert all(r["status"] == "exists" for r in again)


def test_a_batch_against_a_faulty_site_killed_twice_resumes_and_keeps_each_good_post_once(
    tmp_path, fake_site: FakeSite
) -> None:
    root = tmp_path / "archive"
    clip = lavfi_clip(tmp_path / "g.mp4", "mandelbrot=s=480x270:rate=25", 6)
    good = []
    for i in range(5):
        fake_site.add_file(f"/copies/fault{i}.mp4", clip.read_bytes() + b"\0" * i, "video/mp4")
        good.append(
            fake_site.add_page(f"/watch/fault{i}", json_ld_page(fake_site, f"F{i}", f"/copies/fault{i}.mp4"))
        )
    fake_site.add_file("/copies/fault-cut.mp4", clip, "video/mp4", cut_at=30_000)
    fake_site.add_file("/copies/fault-html.mp4", b"<html><body>gone</body></html>" * 50, "video/mp4")
    # Throttled once (Retry-After: 1 s), or failing once: found on the next try, within the run.
    good.append(
        fake_site.add_page(
            "/watch/fault-429",
            json_ld_page(fake_site, "T", "/copies/fault0.mp4"),
            fail_times=1,
            fail_status=429,
            headers=(("Retry-After", "1"),),
        )
    )
    good.append(
        fake_site.add_page(
            "/watch/fault-503", json_ld_page(fake_site, "U", "/copies/fault1.mp4"), fail_times=1
        )
    )
    bad = {
        fake_site.url("/watch/gone-404"): "not_found",
        fake_site.url("/status/500"): "network",
        fake_site.url("/watch/slow"): "network",
        fake_site.add_page(
            "/watch/fault-cut", json_ld_page(fake_site, "C", "/copies/fault-cut.mp4")
        ): "network",
        fake_site.add_page(
            "/watch/fault-html", json_ld_page(fake_site, "H", "/copies/fault-html.mp4")
        ): "bad_media",
        fake_site.url("/watch/empty"): "no_video",
    }
    urls = [*good[:3], *bad, *good[3:]]
    listing = tmp_path / "urls.txt"
    listing.write_text("\n".join(urls))
    env = {"PROVENANCE_BATCH_RETRY_BASE_S": "0.2", "PROVENANCE_BATCH_JOBS": "2"}
    for delay in (2.0, 4.0):
        proc = _spawn(root, listing, env)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    proc = _spawn(root, listing, env)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 1, err.decode()
    rows = {r["url"]: r for r in json_lines(out.decode())}
    assert set(rows) == set(urls)
    for url in good:
        assert rows[url]["status"] in ("archived", "exists"), rows[url]
    for url, kind in bad.items():
        assert rows[url]["status"] == "failed" and rows[url]["error"]["kind"] == kind, rows[url]["error"]
        assert url in rows[url]["error"]["message"]
    with sqlite3.connect(root / "catalog.sqlite") as db:
        per_post = db.execute("SELECT capture_id, COUNT(*) FROM captures GROUP BY capture_id").fetchall()
        assert len(per_post) == len({rows[u]["capture_id"] for u in good}) and all(
            n == 1 for _, n in per_post
        )
        assert not db.execute("SELECT url FROM jobs WHERE state IN ('queued', 'running')").fetchall()
        tries = dict(db.execute("SELECT url, attempts FROM jobs"))
        folders = {r[0] for r in db.execute("SELECT folder FROM captures")}
        media = {r[0] for r in db.execute("SELECT path FROM media")}
    assert tries[fake_site.url("/watch/fault-429")] >= 2  # the throttled try is counted
    on_disk = {p.parent.relative_to(root).as_posix() for p in (root / "captures").rglob("info.json")}
    assert on_disk == folders, "capture folders without rows (or rows without folders)"
    assert {p.relative_to(root).as_posix() for p in (root / "media").rglob("*") if p.is_file()} == media
    assert not list((root / "tmp").iterdir())
