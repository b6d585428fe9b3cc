"""The HTML report, CSV and JSON-lines writers; the report is checked in headless Chromium as a reader
sees it (a screenshot that is not blank, and the DOM: rows, marks, arrows, the earliest marked)."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import replace
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import ffmpeg
from copies import ENCODE, Published
from copies import archived as archived  # fixtures, used by name
from copies import published as published
from fakesite import fake_site as fake_site
from PIL import Image
from test_cli import json_lines, run

from provenance.models import Appearance, Derivation, Evidence, Segment, Timestamp, VerifyRow
from provenance.report import table_text, write_table
from provenance.report_html import MIN_BAR_PX, plot, render_html
from provenance.report_timeline import VERIFY_COLUMNS, earliest_record, verify_record
from provenance.timeline import build_cluster

CHROMIUM = Path("/usr/bin/chromium")
INSTALL = "apt-get update && apt-get install -y chromium chromium-driver"


def when(text: str, precision: str = "second") -> Timestamp:
    return Timestamp(datetime.fromisoformat(text).replace(tzinfo=UTC), precision, "platform")  # type: ignore[arg-type]


# -- writers and layout, on written values ------------------------------------------------------------


def test_tables_as_csv_and_json_lines(tmp_path: Path) -> None:
    rows = [{"a": 1, "b": None, "extra": "x"}, {"a": "two, with comma", "b": "é"}]
    assert table_text(rows, ["a", "b"], jsonl=False) == 'a,b\n1,\n"two, with comma",é\n'
    out = write_table(tmp_path / "deep" / "out.jsonl", rows, ["a", "b"])
    assert [json.loads(line) for line in out.read_text("utf-8").splitlines()] == rows
    write_table(tmp_path / "out.csv", rows, ["a", "b"])
    assert (tmp_path / "out.csv").read_text("utf-8").startswith("a,b\n")
    assert not [p for p in tmp_path.rglob("*.part")]


def test_a_verify_row_keeps_the_input_columns_and_ours_win_a_clash() -> None:
    row = VerifyRow(
        columns=(("case", "7"), ("url", "https://x.example/1"), ("status", "old")), url="u", status="exists"
    )
    record = verify_record(row)
    assert list(record)[:3] == ["case", "url", "status"] and record["status"] == "exists"
    assert set(VERIFY_COLUMNS) <= set(record) and record["copies"] == 0 and record["error"] is None


def test_no_cluster_is_an_empty_answer() -> None:
    record = earliest_record("clip.mp4", None)
    assert record["cluster_id"] is None and record["earliest"] is None
    assert record["appearances"] == [] and record["derivations"] == [] and record["type"] == "earliest"


def test_the_plot_draws_dates_as_bars_times_as_dots_and_untimed_apart() -> None:
    apps = [
        Appearance("a", "c1", "https://x.example/1", None, "X", None, None, when("2021-03-04", "day"), None),
        Appearance(
            "b", "c2", "https://x.example/2", None, "X", None, None, when("2021-03-06T10:00:00"), None
        ),
        Appearance("c", None, None, "/cases/c.mp4", None, None, None, None, None),
    ]
    segment = (Segment(0, 1000, 0, 1000, 3, 1.0),)
    cluster = build_cluster(["a", "b", "c"], apps, {})
    edges = (Derivation("a", "b", "excerpt", "published_at", False, segment),)
    drawn = plot(replace(cluster, derivations=edges))
    day, second, untimed = drawn.marks
    assert day.css == "earliest" and day.width >= MIN_BAR_PX
    assert second.css == "timed" and second.width == 0 and second.x > day.x + day.width
    assert untimed.css == "untimed" and drawn.untimed_x == untimed.x
    assert len(drawn.arrows) == 1 and drawn.arrows[0][0].startswith("M ")
    assert drawn.ticks and all(drawn.axis[0] <= x <= drawn.axis[1] for x, _ in drawn.ticks)
    assert drawn.height > 3 * 30


def test_hostile_text_is_escaped_in_the_page() -> None:
    hostile = "<script>alert(1)</script>"
    apps = [
        Appearance(
            "a", "c1", 'https://x.example/"><b>', None, "X", hostile, hostile, when("2021-03-04", "day"), None
        )
    ]
    cluster = build_cluster(["a"], apps, {})
    evidence = Evidence("q<i>", cluster, (), (), (), (("provenance", "0"),), datetime(2026, 1, 1, tzinfo=UTC))
    html = render_html(evidence)
    assert "<script" not in html and "<b>" not in html and "q<i>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


# -- the report in a browser ------------------------------------------------------------------------------


class _Dom(HTMLParser):
    """Elements with their classes and attributes, as Chromium left the DOM."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, set[str], dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        self.elements.append((tag, set(values.get("class", "").split()), values))

    def having(self, css: str, tag: str | None = None) -> list[tuple[str, set[str], dict[str, str]]]:
        return [e for e in self.elements if css in e[1] and (tag is None or e[0] == tag)]


def chromium(page: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    if not CHROMIUM.exists() or shutil.which(str(CHROMIUM)) is None:
        pytest.skip(f"headless Chromium is not installed: {INSTALL}")
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ]
    return subprocess.run(
        [str(CHROMIUM), *flags, *args, page.as_uri()], capture_output=True, text=True, timeout=120, check=True
    )


@pytest.fixture(scope="module")
def with_local_copy(archived: Path, published: Published, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The archive plus a copy added from a local file: an appearance without URL or published time."""
    local = tmp_path_factory.mktemp("local") / "from_a_phone.mp4"
    ffmpeg("-i", str(published.files["original"]), "-vf", "scale=320:-2", *ENCODE, str(local))
    from provenance.pipeline import add_files, open_archive

    with open_archive(archived) as archive:
        assert [r.status for r in add_files(archive, [local])] == ["added"]
    return archived


def test_the_report_reads_right_in_a_browser(
    with_local_copy: Path, published: Published, tmp_path: Path, capsys
) -> None:
    root = ["--archive", str(with_local_copy)]
    code, out, err = run(capsys, *root, "earliest", published.urls["cut"], "--json")
    assert code == 0, err
    truth = json.loads(out)
    page = tmp_path / "report.html"
    code, out, err = run(capsys, *root, "report", published.urls["cut"], "-o", str(page), "--json")
    assert code == 0, err
    (written,) = json_lines(out)
    assert written["path"] == str(page) and written["cluster_id"] == truth["cluster_id"]

    # Self-contained: nothing is loaded from elsewhere.
    html = page.read_text("utf-8")
    assert "<script" not in html and "<link" not in html and "@import" not in html and "url(http" not in html
    sources = [e[2]["src"] for e in _parse(html).elements if "src" in e[2]]
    assert sources and all(s.startswith("data:image/jpeg;base64,") for s in sources)

    dom = _parse(chromium(page, tmp_path, "--dump-dom").stdout)
    rows = dom.having("appearance", "tr")
    assert len(rows) == len(truth["appearances"]) == 7  # six captures and the local file
    (first,) = dom.having("earliest", "tr")
    original_capture = truth["appearances"][0]["capture_id"]
    assert (
        first[2]["data-capture-id"] == original_capture
        and first[2]["data-sha256"] == truth["earliest"]["sha256"]
    )
    assert len(dom.having("ambiguous", "tr")) == len(truth["ambiguous_with"]) == 1
    assert [r[2]["data-capture-id"] for r in rows][-1] == ""  # the local file comes last, without capture

    marks = [e for e in dom.elements if "mark" in e[1]]
    assert len(marks) == len(truth["appearances"])
    (earliest_mark,) = [m for m in marks if "earliest" in m[1]]
    assert earliest_mark[0] == "rect"  # a date: drawn as the whole day
    assert len([m for m in marks if "untimed" in m[1]]) == 1
    assert len(dom.having("arrow", "path")) == len(truth["derivations"])
    assert len(dom.having("derivation", "tr")) == len(truth["derivations"])
    assert dom.having("keyframe", "img") or dom.having("thumb", "td")

    shot = tmp_path / "report.png"
    chromium(page, tmp_path, f"--screenshot={shot}", "--window-size=1280,2000")
    with Image.open(shot) as img:
        assert img.size == (1280, 2000)
        colours = img.convert("RGB").getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 2000, "the page looks blank"
    assert max(count for count, _ in colours) < 0.8 * 1280 * 2000, "one colour fills the page"


def _parse(html: str) -> _Dom:
    dom = _Dom()
    dom.feed(html)
    return dom


def test_a_report_on_footage_nobody_archived_is_bad_input(archived: Path, tmp_path: Path, capsys) -> None:
    noise = tmp_path / "noise.mp4"
    ffmpeg("-f", "lavfi", "-i", "cellauto=s=320x240:rate=25", "-t", "4", *ENCODE, str(noise))
    code, _, err = run(
        capsys, "--archive", str(archived), "report", str(noise), "-o", str(tmp_path / "r.html")
    )
    assert code == 3 and "noise.mp4" in err and not (tmp_path / "r.html").exists()
