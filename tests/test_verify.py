"""`provenance verify`: a table of URLs in, per URL its capture, cluster and earliest appearance out."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import pytest
from copies import COPIES, Published
from copies import published as published  # the fixture, used by name
from fakesite import FakeSite
from fakesite import fake_site as fake_site
from test_cli import json_lines, run

from provenance.errors import BadInputError
from provenance.pipeline import read_verify_table

OUR_COLUMNS = [
    "status",
    "capture_id",
    "sha256",
    "cluster_id",
    "earliest_url",
    "earliest_published_at",
    "earliest_precision",
    "copies",
    "error",
    "error_kind",
]


@pytest.fixture(autouse=True)
def _no_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROVENANCE_DOWNLOAD_RETRIES", "0")


def write_table(path: Path, published: Published, site: FakeSite) -> list[dict[str, str]]:
    rows = [
        {"case": f"c{n}", "URL": url, "note": name} for n, (name, url) in enumerate(published.urls.items())
    ]
    rows.append({"case": "gone", "URL": site.url("/prov/watch/removed"), "note": "taken down"})
    rows.append({"case": "again", "URL": published.urls["cut"], "note": "the cut, listed twice"})
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=["case", "URL", "note"])
        writer.writeheader()
        writer.writerows(rows)
    return rows


def page_requests(site: FakeSite) -> int:
    return sum(1 for p in site.requests if p.startswith("/prov/"))


def test_verify_a_table_of_urls(tmp_path: Path, published: Published, fake_site: FakeSite, capsys) -> None:
    root = ["--archive", str(tmp_path / "archive")]
    table = tmp_path / "urls.csv"
    given = write_table(table, published, fake_site)
    results = tmp_path / "out" / "results.csv"
    code, out, err = run(capsys, *root, "verify", str(table), "-o", str(results))
    assert code == 1, err  # one URL is gone: the others are still verified and written
    assert "1 failed" in err and "/prov/watch/removed" in err
    with results.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        assert reader.fieldnames == ["case", "URL", "note", *OUR_COLUMNS]
        rows = list(reader)
    assert [(r["case"], r["URL"], r["note"]) for r in rows] == [
        (g["case"], g["URL"], g["note"]) for g in given
    ]
    by_note = {r["note"]: r for r in rows}

    copies = [by_note[name] for name in COPIES]
    assert {r["status"] for r in copies} == {"archived"} and {r["error"] for r in copies} == {""}
    assert len({r["cluster_id"] for r in copies}) == 1 and copies[0]["cluster_id"]
    for r in copies:
        assert r["earliest_url"] == published.urls["original"]
        assert r["earliest_published_at"] == "2021-03-04T00:00:00Z" and r["earliest_precision"] == "day"
        assert r["copies"] == "6"
        assert r["sha256"] and r["capture_id"]
    assert by_note["repost"]["sha256"] == by_note["original"]["sha256"]

    for name in ("unrelated_street", "unrelated_drone"):  # footage of its own: a cluster of one
        r = by_note[name]
        assert r["earliest_url"] == published.urls[name] and r["copies"] == "1"
        assert r["cluster_id"] == hashlib.sha256(r["sha256"].encode()).hexdigest()

    gone = by_note["taken down"]
    assert gone["status"] == "failed" and gone["error_kind"] == "not_found"
    assert "/prov/watch/removed" in gone["error"] and gone["cluster_id"] == "" and gone["copies"] == "0"
    assert by_note["the cut, listed twice"]["cluster_id"] == by_note["cut"]["cluster_id"]
    assert "earliest" in out  # the summary table for people


def test_verify_again_resumes_and_writes_json_lines(
    tmp_path: Path, published: Published, fake_site: FakeSite, capsys
) -> None:
    root = ["--archive", str(tmp_path / "archive")]
    table = tmp_path / "urls.csv"
    write_table(table, published, fake_site)
    first = tmp_path / "first.csv"
    assert run(capsys, *root, "verify", str(table), "-o", str(first))[0] == 1
    asked = page_requests(fake_site)
    second = tmp_path / "second.jsonl"
    code, out, _ = run(capsys, *root, "verify", str(table), "-o", str(second), "--json")
    assert code == 1
    lines = json_lines(second.read_text(encoding="utf-8"))
    assert json_lines(out) == [{"type": "verify_row", **line} for line in lines]
    done = [r for r in lines if r["case"] != "gone"]
    assert {r["status"] for r in done} == {"exists"}  # from the catalog, without asking the site again
    # Only the failed URL is asked for again (a retry); nothing archived is downloaded twice.
    assert page_requests(fake_site) - asked <= 2
    with first.open(newline="", encoding="utf-8") as fh:
        before = {r["case"]: r for r in csv.DictReader(fh)}
    for r in done:
        assert r["cluster_id"] == before[r["case"]]["cluster_id"]
        assert str(r["copies"]) == before[r["case"]]["copies"]


def test_reading_the_table(tmp_path: Path) -> None:
    text = tmp_path / "urls.txt"
    text.write_text("# case 12\nhttps://a.example/1\n\nhttps://a.example/2\n")
    table = read_verify_table(text)
    assert table.columns == ("url",) and [table.url(r) for r in table.rows] == [
        "https://a.example/1",
        "https://a.example/2",
    ]
    with_bom = tmp_path / "excel.csv"
    with_bom.write_bytes("\ufeffUrl;x\n".replace(";", ",").encode() + b"https://a.example/3,1\n")
    table = read_verify_table(with_bom)
    assert table.url_column == "Url" and table.url(table.rows[0]) == "https://a.example/3"
    no_url = tmp_path / "bad.csv"
    no_url.write_text("link\nhttps://a.example/4\n")
    with pytest.raises(BadInputError, match="no `url` column"):
        read_verify_table(no_url)
    empty = tmp_path / "empty.csv"
    empty.write_text("url\n\n")
    with pytest.raises(BadInputError, match="no URLs"):
        read_verify_table(empty)


def test_a_table_that_cannot_be_used_is_bad_input(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("link\nhttps://a.example/4\n")
    code, _, err = run(capsys, "--archive", str(tmp_path / "a"), "verify", str(bad))
    assert code == 3 and "bad.csv" in err
    assert run(capsys, "--archive", str(tmp_path / "a"), "verify")[0] == 2
