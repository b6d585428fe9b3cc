"""`provenance recheck`: archived posts asked again on the loopback site; takedowns kept as history."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import ffmpeg, lavfi_clip
from fakesite import FakeSite, Route, json_ld_page, page
from fakesite import fake_site as fake_site  # the fixture, used by name
from test_cli import json_lines, run

from provenance.custody.availability import HostPacer

POSTS = ("stays", "removed", "suspended", "private", "geo", "changed")


@pytest.fixture(autouse=True)
def _quick(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROVENANCE_RECHECK_PER_HOST_DELAY_S", "0")
    monkeypatch.setenv("PROVENANCE_DOWNLOAD_RETRIES", "0")


def recheck(capsys, root: Path, *args: str) -> tuple[int, dict[str, dict]]:
    code, out, _err = run(capsys, "--archive", str(root), "recheck", *args, "--json")
    return code, {line["url"].rsplit("/", 1)[-1]: line for line in json_lines(out)}


def test_takedowns_are_told_apart_and_dated(capsys, tmp_path: Path, fake_site: FakeSite) -> None:
    served = lavfi_clip(tmp_path / "served.mp4", "testsrc2=s=160x120:rate=10", 2.0)
    other = lavfi_clip(tmp_path / "other.mp4", "mandelbrot=s=160x120:rate=10", 2.0)
    fake_site.add_file("/re/media/changed.mp4", served, "video/mp4")
    for name in POSTS:
        if name == "changed":
            fake_site.add_page("/re/changed", page("Changing", '<video src="/re/media/changed.mp4"></video>'))
        else:
            fake_site.add_page(f"/re/{name}", json_ld_page(fake_site, name, "/media/clip.mp4"))
    root = tmp_path / "archive"
    urls = [fake_site.url(f"/re/{name}") for name in POSTS]
    code, _, err = run(capsys, "--archive", str(root), "archive", *urls, "--jobs", "2")
    assert code == 0, err

    code, first = recheck(capsys, root, "--all")
    assert code == 0 and {k: v["status"] for k, v in first.items()} == dict.fromkeys(POSTS, "available")
    assert first["stays"]["type"] == "availability_check" and first["stays"]["availability"]["checks"] == 1

    # Between the two rechecks: one post removed, an account suspended, one made private, one blocked
    # in this country, one now serving other media.
    fake_site.add_page("/re/removed", page("Not found", "<p>This post is not here.</p>"), status=404)
    fake_site.add_page("/re/suspended", page("Gone", "<h1>This account has been suspended</h1>"), status=410)
    fake_site.add_page("/re/private", page("Log in", "<p>This post is private.</p>"), status=403)
    fake_site.add_page("/re/geo", page("Unavailable", "<p>Not available in your country.</p>"), status=451)
    fake_site.routes["/re/media/changed.mp4"] = Route(other.read_bytes() + b"\0" * 4096, "video/mp4")
    media_before = sum(1 for p in fake_site.requests if p.startswith(("/media/", "/re/media/")))

    code, second = recheck(capsys, root, "--all")
    assert code == 0
    status = {k: (v["status"], v["http_status"]) for k, v in second.items()}
    assert status == {
        "stays": ("available", 200),
        "removed": ("removed", 404),
        "suspended": ("account_gone", 410),
        "private": ("private", 403),
        "geo": ("geo_blocked", 451),
        "changed": ("changed", 200),
    }
    assert "This account has been suspended" in second["suspended"]["words"]  # the site's own words
    assert "This post is private" in second["private"]["words"]
    assert "bytes" in second["changed"]["detail"]
    media_after = [p for p in fake_site.requests if p.startswith(("/media/", "/re/media/"))]
    assert len(media_after) - media_before <= len(POSTS), "recheck downloaded media"

    gone = second["removed"]["availability"]
    assert gone["status"] == "removed" and gone["checks"] == 2
    assert gone["last_seen_available"] == first["removed"]["checked_at"]  # the last recheck that found it
    assert gone["first_seen_gone"] == second["removed"]["checked_at"]
    assert second["stays"]["availability"]["first_seen_gone"] is None

    # The timeline says when the post went.
    code, out, _ = run(capsys, "--archive", str(root), "earliest", fake_site.url("/re/removed"), "--json")
    record = json_lines(out)[0]
    seen = {a["url"]: a["availability"] for a in record["appearances"]}
    assert seen[fake_site.url("/re/removed")]["first_seen_gone"] == gone["first_seen_gone"]
    assert seen[fake_site.url("/re/stays")]["status"] == "available"
    code, out, _ = run(capsys, "--archive", str(root), "earliest", fake_site.url("/re/removed"))
    assert code == 0 and f"{fake_site.url('/re/removed')}: removed between" in out
    code, out, _ = run(capsys, "--archive", str(root), "clusters", "--all")  # one media: a cluster alone
    assert code == 0 and f"{fake_site.url('/re/private')}: private between" in out
    report = tmp_path / "report.html"
    code, _, _ = run(
        capsys, "--archive", str(root), "report", fake_site.url("/re/removed"), "-o", str(report)
    )
    assert (
        code == 0 and "removed between" in report.read_text() and "account gone between" in report.read_text()
    )

    # Back up again: available, and the history keeps the takedown.
    fake_site.add_page("/re/removed", json_ld_page(fake_site, "removed", "/media/clip.mp4"))
    code, third = recheck(capsys, root, fake_site.url("/re/removed"))
    assert third["removed"]["status"] == "available" and third["removed"]["availability"]["checks"] == 3


def test_recheck_asks_only_about_archived_urls(capsys, tmp_path: Path, fake_site: FakeSite) -> None:
    root = tmp_path / "archive"
    assert run(capsys, "--archive", str(root), "archive", fake_site.url("/watch/og"))[0] == 0
    code, _, err = run(capsys, "--archive", str(root), "recheck", fake_site.url("/never/archived"))
    assert code == 3 and "not an archived URL" in err
    code, _, err = run(capsys, "--archive", str(root), "recheck")
    assert code == 2 and "--all" in err


def test_requests_to_one_host_are_spaced() -> None:
    now = [100.0]
    pacer = HostPacer(2.0, clock=lambda: now[0], sleep=lambda s: None)
    waits = [pacer.wait(u) for u in ("http://a.example/1", "http://a.example/2", "http://b.example/1")]
    assert waits == [0.0, 2.0, 0.0]  # the second request to a.example waits; b.example does not
    now[0] += 0.5
    assert pacer.wait("http://A.example/3") == 3.5  # after the one booked at 102.0, host names in any case
    now[0] += 10.0
    assert pacer.wait("http://a.example/4") == 0.0


def test_fingerprint_tells_a_reencode_from_other_footage(capsys, tmp_path: Path, fake_site: FakeSite) -> None:
    source = lavfi_clip(tmp_path / "source.mp4", "mandelbrot=s=320x240:rate=25", 4.0)
    reencoded = tmp_path / "reencoded.mp4"
    ffmpeg("-i", str(source), "-vf", "scale=240:180", "-c:v", "libx264", "-crf", "35", str(reencoded))
    other = lavfi_clip(tmp_path / "other.mp4", "testsrc2=s=320x240:rate=25", 4.0)
    for name in ("same", "reencoded", "swapped"):
        fake_site.add_file(f"/fp/media/{name}.mp4", source, "video/mp4")
        fake_site.add_page(f"/fp/{name}", page(name, f'<video src="/fp/media/{name}.mp4"></video>'))
    root = tmp_path / "archive"
    urls = [fake_site.url(f"/fp/{n}") for n in ("same", "reencoded", "swapped")]
    assert run(capsys, "--archive", str(root), "archive", *urls)[0] == 0
    fake_site.add_file("/fp/media/reencoded.mp4", reencoded, "video/mp4")
    fake_site.add_file("/fp/media/swapped.mp4", other, "video/mp4")

    code, plain = recheck(capsys, root, *urls)  # without downloading: only the sizes differ
    assert code == 0 and {k: v["status"] for k, v in plain.items()} == {
        "same": "available",
        "reencoded": "changed",
        "swapped": "changed",
    }
    code, deep = recheck(capsys, root, *urls, "--fingerprint")
    assert code == 0
    assert (deep["same"]["status"], deep["same"]["detail"]) == ("available", "the same bytes as archived")
    assert (
        deep["reencoded"]["status"] == "available"
        and "the same footage in other bytes" in deep["reencoded"]["detail"]
    )
    assert (
        deep["swapped"]["status"] == "changed" and "none of the archived footage" in deep["swapped"]["detail"]
    )
    assert not list((root / "tmp").iterdir()), "the media downloaded to compare was kept"
