"""Clusters, earliest appearance and derivations: the rules on written values, then end to end on the
fake site with edited copies of one real clip (ground truth in tests/copies.py)."""

from __future__ import annotations

import hashlib
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import ffmpeg
from copies import COPIES, ENCODE, Published
from copies import archived as archived  # fixtures, used by name
from copies import published as published
from fakesite import fake_site as fake_site
from test_cli import json_lines, run

from provenance.models import Appearance, Match, OtherTime, Segment, Timestamp
from provenance.timeline import (
    build_cluster,
    cluster_id,
    connected_groups,
    earliest_of,
    flip_segment,
    order_appearances,
    pair,
)

EARLIEST_KEYS = {"url", "published_at", "precision", "source", "sha256"}
APPEARANCE_KEYS = EARLIEST_KEYS | {"captured_at", "uploader", "segments"}
DERIVATION_KEYS = {"from_sha256", "to_sha256", "segments"}


def stamp(text: str, precision: str = "second") -> Timestamp:
    return Timestamp(datetime.fromisoformat(text).replace(tzinfo=UTC), precision, "platform")  # type: ignore[arg-type]


def seen(sha: str, when: Timestamp | None, n: int = 0) -> Appearance:
    return Appearance(
        sha, f"cap:{sha}{n}", f"https://site.example/{sha}/{n}", None, "Generic", "u", "t", when, None
    )


def match(
    query: str, ref: str, q_cov: float, r_cov: float, q=(0, 4000), r=(2000, 6000), variant="none"
) -> Match:
    segment = Segment(q[0], q[1], r[0], r[1], 8, 1.0, 1.0, variant)
    return Match(query, ref, Path(ref), "phash64", (segment,), q_cov, r_cov, max(q_cov, r_cov))


# -- the rules on written values ---------------------------------------------------------------------


def test_a_day_precision_date_overlapping_a_precise_time_is_ambiguous() -> None:
    day = seen("a", stamp("2021-03-04", "day"))
    later_same_day = seen("b", stamp("2021-03-04T15:30:00"))
    next_day = seen("c", stamp("2021-03-05T00:00:01"))
    ordered = order_appearances([next_day, later_same_day, day])
    assert ordered == (day, later_same_day, next_day)
    first, ambiguous = earliest_of(ordered)
    assert first is day and ambiguous == (later_same_day,)


def test_a_precise_time_before_a_date_is_earliest_and_the_date_overlaps_it() -> None:
    # 08:00 on the 4th starts after the 4th's interval starts: the date comes first and both are kept.
    precise = seen("a", stamp("2021-03-04T08:00:00"))
    date = seen("b", stamp("2021-03-04", "day"))
    first, ambiguous = earliest_of(order_appearances([precise, date]))
    assert first is date and ambiguous == (precise,)
    earlier = seen("c", stamp("2021-03-03T23:59:59"))
    first, ambiguous = earliest_of(order_appearances([precise, date, earlier]))
    assert first is earlier and ambiguous == ()


def test_appearances_without_time_come_last_and_never_count_as_earliest() -> None:
    local = Appearance("z", None, None, "/cases/copy.mp4", None, None, None, None, None)
    timed = seen("a", stamp("2022-01-01T00:00:00"))
    ordered = order_appearances([local, timed])
    assert ordered == (timed, local)
    assert earliest_of([local]) == (None, ())


def test_groups_are_connected_components_of_matches_with_segments() -> None:
    matches = [match("a", "b", 1, 0.5), match("b", "c", 0.4, 1), match("d", "d", 1, 1)]
    empty = Match("e", "a", Path("a"), "phash64", (), 0.0, 0.0, 0.0)  # no segment: no link
    groups = connected_groups(["a", "b", "c", "d", "e"], [*matches, empty])
    assert groups == [frozenset("abc"), frozenset("d"), frozenset("e")]
    assert cluster_id(["b", "a"]) == hashlib.sha256(b"a\nb").hexdigest() == cluster_id(["a", "b"])


def test_a_pair_is_read_from_either_side() -> None:
    m = match("cut", "orig", 1.0, 0.5)
    forward, backward = pair({("cut", "orig"): m}, "cut", "orig"), pair({("cut", "orig"): m}, "orig", "cut")
    assert forward and backward
    assert (forward.child_share, forward.parent_share) == (1.0, 0.5)
    assert (backward.child_share, backward.parent_share) == (0.5, 1.0)
    assert backward.segments == (flip_segment(m.segments[0]),)
    assert flip_segment(flip_segment(m.segments[0])) == m.segments[0]


def test_derivations_follow_published_time_and_footage() -> None:
    matches = {
        ("cut", "orig"): match("cut", "orig", 1.0, 0.5, q=(0, 4000), r=(2000, 6000)),
        ("comp", "orig"): match("comp", "orig", 0.4, 0.6, q=(3000, 8000), r=(1000, 6000)),
        ("flip", "orig"): match("flip", "orig", 1.0, 1.0, q=(0, 8000), r=(0, 8000), variant="hflip"),
    }
    apps = [
        seen("comp", stamp("2021-03-07T12:00:00")),
        seen("cut", stamp("2021-03-05T10:00:00")),
        seen("orig", stamp("2021-03-04", "day")),
        seen("flip", stamp("2021-03-04T15:30:00")),
    ]
    cluster = build_cluster(["orig", "cut", "comp", "flip"], apps, matches)
    edges = {(d.from_sha256, d.to_sha256): d for d in cluster.derivations}
    assert set(edges) == {("orig", "cut"), ("orig", "comp"), ("orig", "flip")}
    assert edges["orig", "cut"].kind == "excerpt" and edges["orig", "comp"].kind == "overlap"
    assert edges["orig", "flip"].kind == "same_footage" and edges["orig", "flip"].mirrored
    assert {d.basis for d in cluster.derivations} == {"published_at"}
    assert cluster.earliest and cluster.earliest.sha256 == "orig"
    assert [a.sha256 for a in cluster.ambiguous_with] == ["flip"]
    assert cluster.likely_original == "orig" and "not certain" in cluster.why
    # Each appearance says which part of the original it shows (query = it, reference = original).
    cut = next(a for a in cluster.appearances if a.sha256 == "cut")
    assert (cut.segments[0].ref_start_ms, cut.segments[0].ref_end_ms) == (2000, 6000)
    assert any("Last-Modified" in note for note in cluster.caveats)  # the Generic extractor's times


def test_without_times_the_more_complete_footage_is_the_source() -> None:
    matches = {("cut", "orig"): match("cut", "orig", 1.0, 0.5, q=(0, 4000), r=(2000, 6000))}
    local = [Appearance(s, None, None, f"/x/{s}.mp4", None, None, None, None, None) for s in ("cut", "orig")]
    cluster = build_cluster(["cut", "orig"], local, matches)
    (edge,) = cluster.derivations
    assert (edge.from_sha256, edge.to_sha256, edge.basis) == ("orig", "cut", "completeness")
    assert cluster.earliest is None and cluster.likely_original == "orig"
    assert "No appearance has a published time" in cluster.why


def test_a_fuller_copy_overlapping_the_earliest_is_the_likelier_original() -> None:
    matches = {("cut", "orig"): match("cut", "orig", 1.0, 0.5, q=(0, 4000), r=(2000, 6000))}
    apps = [seen("cut", stamp("2021-03-04", "day")), seen("orig", stamp("2021-03-04T10:00:00"))]
    cluster = build_cluster(["cut", "orig"], apps, matches)
    assert cluster.earliest and cluster.earliest.sha256 == "cut"
    assert cluster.likely_original == "orig" and "fuller copy" in cluster.why


def test_other_times_stay_apart_from_the_upload_order() -> None:
    # A container time years before every upload must not make its media the earliest appearance.
    apps = [seen("a", stamp("2021-03-04T10:00:00")), seen("b", stamp("2021-03-05T10:00:00"))]
    old = OtherTime(
        "b", None, Timestamp(datetime(2015, 1, 1, tzinfo=UTC), "second", "container"), "container"
    )
    cluster = build_cluster(["a", "b"], apps, {("b", "a"): match("b", "a", 1, 1)}, [old])
    assert cluster.earliest and cluster.earliest.sha256 == "a"
    assert cluster.other_times == (old,)
    assert any("not when it was published" in note for note in cluster.caveats)


# -- end to end: the fake site's copies ---------------------------------------------------------------


def earliest_json(capsys, root: Path, target: str) -> dict:
    code, out, err = run(capsys, "--archive", str(root), "earliest", target, "--json")
    assert code == 0, err
    (record,) = json_lines(out)
    return record


def test_earliest_on_any_copy_names_the_first_upload(archived: Path, published: Published, capsys) -> None:
    records = [earliest_json(capsys, archived, published.urls[name]) for name in COPIES]
    first = records[0]
    assert set(first) >= {"query", "cluster_id", "earliest", "ambiguous_with", "appearances", "derivations"}
    assert set(first["earliest"]) == EARLIEST_KEYS
    assert first["earliest"]["url"] == published.urls["original"]
    assert first["earliest"]["precision"] == "day" and first["earliest"]["source"] == "platform"
    assert first["earliest"]["published_at"] == "2021-03-04T00:00:00Z"
    # The mirror was published the same day, at a known second: the order is ambiguous.
    assert published.names_of([a["url"] for a in first["ambiguous_with"]]) == ["mirror"]
    assert all(set(a) == EARLIEST_KEYS for a in first["ambiguous_with"])
    assert {r["cluster_id"] for r in records} == {first["cluster_id"]}
    assert [r["query"] for r in records] == [published.urls[name] for name in COPIES]

    # The cluster holds exactly the copies: one appearance per capture, earliest first.
    names = published.names_of([a["url"] for a in first["appearances"]])
    assert names == ["original", "mirror", "cut", "reframe", "compilation", "repost"]
    assert all(set(a) >= APPEARANCE_KEYS for a in first["appearances"])
    original_sha = first["earliest"]["sha256"]
    assert first["appearances"][5]["sha256"] == original_sha  # the repost is the same bytes
    assert first["likely_original"]["sha256"] == original_sha
    assert (
        first["members"] == sorted({a["sha256"] for a in first["appearances"]}) and len(first["members"]) == 5
    )
    assert first["cluster_id"] == hashlib.sha256("\n".join(first["members"]).encode()).hexdigest()


def test_derivation_edges_point_from_earlier_to_later(archived: Path, published: Published, capsys) -> None:
    record = earliest_json(capsys, archived, published.urls["cut"])
    sha = {published.names_of([a["url"]])[0]: a["sha256"] for a in record["appearances"]}
    name = {v: k for k, v in sha.items() if k != "repost"}
    edges = {(name[d["from_sha256"]], name[d["to_sha256"]]): d for d in record["derivations"]}
    assert all(set(d) >= DERIVATION_KEYS and d["segments"] for d in record["derivations"])
    # Each copy has one source, published before it; the original has none.
    assert sorted(to for _, to in edges) == ["compilation", "cut", "mirror", "reframe"]
    order = ["original", "mirror", "cut", "reframe", "compilation"]
    assert all(order.index(src) < order.index(dst) for src, dst in edges)
    assert all(d["basis"] == "published_at" for d in record["derivations"])
    mirror = edges["original", "mirror"]
    assert mirror["kind"] == "same_footage" and mirror["mirrored"]
    (reframe,) = [d for (_, dst), d in edges.items() if dst == "reframe"]
    assert reframe["kind"] == "same_footage"  # the whole footage, only framed otherwise
    (cut,) = [d for (_, dst), d in edges.items() if dst == "cut"]
    assert cut["kind"] == "excerpt"
    # The cut is seconds 2-6 of the original: its segment says so (query = cut, reference = source).
    segment = cut["segments"][0]
    assert abs(segment["ref_start"] - 2.0) <= 0.6 and abs(segment["ref_end"] - 5.5) <= 0.6
    (comp,) = [d for (_, dst), d in edges.items() if dst == "compilation"]
    assert comp["kind"] in ("overlap", "contains")
    # The compilation shows seconds 1-6 of the original from its 3rd second on.
    assert any(
        abs(s["query_start"] - 3.0) <= 0.6 and abs(s["ref_start"] - 1.0) <= 0.6 for s in comp["segments"]
    )


def test_earliest_by_sha256_and_by_a_file_not_in_the_archive(
    archived: Path, published: Published, tmp_path: Path, capsys
) -> None:
    by_url = earliest_json(capsys, archived, published.urls["compilation"])
    mirror_sha = hashlib.sha256(published.files["mirror"].read_bytes()).hexdigest()
    by_sha = earliest_json(capsys, archived, mirror_sha[:16])
    assert by_sha["cluster_id"] == by_url["cluster_id"]
    # A new excerpt (seconds 1-5, smaller) found on some other site: its cluster is what it matches.
    excerpt = tmp_path / "found_elsewhere.mp4"
    ffmpeg(
        "-ss",
        "1",
        "-t",
        "4",
        "-i",
        str(published.files["original"]),
        "-vf",
        "scale=240:-2",
        *ENCODE,
        str(excerpt),
    )
    by_file = earliest_json(capsys, archived, str(excerpt))
    assert by_file["query"] == str(excerpt) and by_file["cluster_id"] == by_url["cluster_id"]
    assert by_file["earliest"]["url"] == published.urls["original"]
    # Unrelated footage has no cluster.
    unrelated = tmp_path / "noise.mp4"
    ffmpeg("-f", "lavfi", "-i", "cellauto=s=320x240:rate=25", "-t", "4", *ENCODE, str(unrelated))
    nothing = earliest_json(capsys, archived, str(unrelated))
    assert nothing["cluster_id"] is None and nothing["earliest"] is None and nothing["appearances"] == []


def test_other_times_are_listed_apart(archived: Path, published: Published, capsys) -> None:
    record = earliest_json(capsys, archived, published.urls["original"])
    kinds = {t["source"] for t in record["other_times"]}
    assert "capture" in kinds and "platform" not in kinds
    captured = [t for t in record["other_times"] if t["source"] == "capture"]
    assert len(captured) == 6  # one per capture
    assert any("published" in note for note in record["caveats"])


def test_clusters_lists_the_copies_and_not_the_unrelated_pages(
    archived: Path, published: Published, capsys
) -> None:
    root = ["--archive", str(archived)]
    code, out, err = run(capsys, *root, "clusters", "--json")
    assert code == 0, err
    (cluster,) = json_lines(out)  # the unrelated pages share footage with nothing: not a cluster
    assert cluster["type"] == "cluster" and len(cluster["members"]) == 5
    assert cluster["earliest"]["url"] == published.urls["original"]
    code, out, _ = run(capsys, *root, "clusters", "--json", "--all")
    assert code == 0 and len(json_lines(out)) == 3
    code, out, _ = run(capsys, *root, "clusters", "--csv")
    header, row = out.strip().splitlines()
    assert header.startswith("cluster_id,media,appearances,earliest_url") and row.startswith(
        cluster["cluster_id"]
    )
    code, out, _ = run(capsys, *root, "clusters")
    assert code == 0 and cluster["cluster_id"][:16] in out
    assert run(capsys, *root, "clusters", "--json", "--csv")[0] == 2


def test_earliest_for_people(archived: Path, published: Published, capsys) -> None:
    code, out, _ = run(capsys, "--archive", str(archived), "earliest", published.urls["cut"])
    assert code == 0
    assert f"earliest: {published.urls['original']}" in out and "ambiguous with" in out
    assert "derivations" in out and "caveat:" in out


def match_runs(root: Path) -> list[tuple]:
    db = sqlite3.connect(root / "catalog.sqlite")
    try:
        return db.execute("SELECT query_sha256, computed_at FROM match_runs ORDER BY 1").fetchall()
    finally:
        db.close()


def test_matches_are_cached_in_the_catalog(archived: Path, published: Published, capsys) -> None:
    earliest_json(capsys, archived, published.urls["cut"])
    before = match_runs(archived)
    assert len(before) == 7  # one run per archived media (the repost is the original's bytes)
    earliest_json(capsys, archived, published.urls["mirror"])
    assert match_runs(archived) == before  # nothing was matched again


def test_archive_ends_by_matching_what_it_archived_unless_told_not_to(
    published: Published, tmp_path: Path, capsys
) -> None:
    urls = [published.urls["original"], published.urls["cut"]]
    matched, ingested = tmp_path / "matched", tmp_path / "ingested"
    assert run(capsys, "--archive", str(matched), "archive", *urls, "--json")[0] == 0
    assert run(capsys, "--archive", str(ingested), "archive", "--no-match", *urls, "--json")[0] == 0
    assert len(match_runs(matched)) == 2 and match_runs(ingested) == []


@pytest.mark.parametrize("command", ["earliest", "clusters", "verify", "report"])
def test_new_commands_have_help(command: str, capsys) -> None:
    code, out, _ = run(capsys, command, "--help")
    assert code == 0 and "Usage:" in out and "--json" in out


def test_earliest_of_bad_input_exits_3(archived: Path, capsys) -> None:
    code, _, err = run(capsys, "--archive", str(archived), "earliest", "deadbeefdeadbeef")
    assert code == 3 and "deadbeefdeadbeef" in err
