"""The HTML report: one self-contained page per cluster (inline CSS, inline SVG, images as data URIs).

The timeline plot is laid out here, in Python, so the template only draws: x is published time (a
day-precision date is a bar across its day, a precise time a dot), one lane per appearance,
appearances without a published time in a column of their own, and an arrow per derivation from
the source's first appearance to the copy's.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import jinja2

from .custody.models import PageCapture, Stamp
from .models import Appearance, Availability, Cluster, Evidence, Still, Timestamp, utc_iso
from .report import describe_segment
from .report_timeline import gone_text, where_seen
from .timeline import label as appearance_label
from .timeline import when

TEMPLATES = Path(__file__).parent / "templates"
WIDTH = 1000  # plot width in SVG units (the SVG scales to the page)
LANE_PX, TOP_PX, LEFT_PX, RIGHT_PX, UNTIMED_PX = 34, 44, 48, 28, 150
MIN_BAR_PX = 6  # an interval narrower than this is drawn as a dot: its precision is below the scale
# Tick steps to choose from, finest first; the first giving at most MAX_TICKS ticks is used.
TICK_STEPS = [timedelta(hours=h) for h in (1, 3, 6, 12)] + [timedelta(days=d) for d in (1, 2, 7, 14, 28, 91)]
MAX_TICKS = 8


@dataclass(frozen=True, slots=True)
class Mark:
    lane: int
    x: float
    y: float
    width: float  # 0 for a dot
    css: str  # "earliest", "ambiguous", "timed" or "untimed"
    label: str
    tip: str
    label_left: bool


@dataclass(frozen=True, slots=True)
class Plot:
    width: int
    height: int
    marks: tuple[Mark, ...]
    arrows: tuple[tuple[str, str], ...]  # (SVG path, kind)
    ticks: tuple[tuple[float, str], ...]
    axis: tuple[float, float]  # x of the axis' ends
    untimed_x: float | None


def _span(timed: list[Appearance]) -> tuple[datetime, datetime]:
    lo = min(a.published_at.earliest() for a in timed)  # type: ignore[union-attr]
    hi = max(a.published_at.latest() for a in timed)  # type: ignore[union-attr]
    pad = max((hi - lo) * 0.06, timedelta(hours=2))
    return lo - pad, hi + pad


def _ticks(lo: datetime, hi: datetime, x_of) -> tuple[tuple[float, str], ...]:  # type: ignore[no-untyped-def]
    step = next((s for s in TICK_STEPS if (hi - lo) / s <= MAX_TICKS), None)
    if step is None:  # longer than ~2 years: one tick per year
        return tuple(
            (x_of(lo.replace(year=y, month=1, day=1)), str(y)) for y in range(lo.year + 1, hi.year + 1)
        )
    start = lo.replace(minute=0, second=0, microsecond=0)
    if step >= timedelta(days=1):
        start = start.replace(hour=0)
    ticks, t = [], start
    while t <= hi:
        if t >= lo:
            text = t.strftime("%Y-%m-%d") if step >= timedelta(days=1) else t.strftime("%m-%d %H:%M")
            ticks.append((x_of(t), text))
        t += step
    return tuple(ticks)


def _short(a: Appearance) -> str:
    text = appearance_label(a)
    text = text.split("://", 1)[-1]
    return text if len(text) <= 42 else "…" + text[-41:]


def _mark(n: int, a: Appearance, cluster: Cluster, x: float, width: float, right: float) -> Mark:
    css = "untimed" if a.published_at is None else "timed"
    if a is cluster.earliest:
        css = "earliest"
    elif a in cluster.ambiguous_with:
        css = "ambiguous"
    tip = f"#{n + 1} {appearance_label(a)}: " + (when(a.published_at) if a.published_at else "no upload time")
    label = f"#{n + 1} {_short(a)}"
    return Mark(n, x, TOP_PX + n * LANE_PX + LANE_PX / 2, width, css, label, tip, x > right - 300)


def plot(cluster: Cluster) -> Plot:
    """Where each appearance and derivation arrow goes in the SVG timeline."""
    apps = cluster.appearances
    timed = [a for a in apps if a.published_at]
    untimed_x = WIDTH - UNTIMED_PX / 2 if len(timed) < len(apps) else None
    left, right = LEFT_PX, WIDTH - RIGHT_PX - (UNTIMED_PX if untimed_x else 0)
    lo, hi = _span(timed) if timed else (datetime.min, datetime.max)
    scale = (right - left) / max((hi - lo).total_seconds(), 1.0) if timed else 0.0

    def x_of(t: datetime) -> float:
        return round(left + (t - lo).total_seconds() * scale, 1)

    marks = []
    for n, a in enumerate(apps):
        if a.published_at is None:
            marks.append(_mark(n, a, cluster, untimed_x or right, 0.0, WIDTH))
            continue
        x0, x1 = x_of(a.published_at.earliest()), x_of(a.published_at.latest())
        wide = x1 - x0 >= MIN_BAR_PX
        marks.append(
            _mark(n, a, cluster, x0 if wide else x_of(a.published_at.value), x1 - x0 if wide else 0.0, right)
        )
    first = {}
    for mark, a in zip(marks, apps, strict=True):
        first.setdefault(a.sha256, mark)
    arrows = tuple(
        (_arrow(first[d.from_sha256], first[d.to_sha256]), d.kind)
        for d in cluster.derivations
        if d.from_sha256 in first and d.to_sha256 in first
    )
    ticks = _ticks(lo, hi, x_of) if timed else ()
    height = TOP_PX + len(apps) * LANE_PX + 12
    return Plot(WIDTH, height, tuple(marks), arrows, ticks, (left, right), untimed_x)


def _centre(m: Mark) -> float:
    return m.x + m.width / 2


def _arrow(a: Mark, b: Mark) -> str:
    """An S-curve from below the source's mark to just above the copy's (the arrowhead goes there)."""
    direction = 1 if b.y > a.y else -1
    x1, y1 = _centre(a), a.y + 8 * direction
    x2, y2 = _centre(b), b.y - 10 * direction
    bow = (y2 - y1) / 2
    return f"M {x1:.1f} {y1:.1f} C {x1:.1f} {y1 + bow:.1f}, {x2:.1f} {y2 - bow:.1f}, {x2:.1f} {y2:.1f}"


def stamp(value: datetime | None) -> str:
    """A capture or generation time for people: to the second, UTC."""
    return utc_iso(value.replace(microsecond=0)).replace("T", " ") if value else ""


def published(ts: Timestamp) -> str:
    """A published time as precise as it was given: a date alone for day precision."""
    if ts.precision in ("day", "month", "year"):
        return f"{ts.value:%Y-%m-%d}"
    return stamp(ts.value)


def availability_text(a: Availability) -> str:
    """A post's status from rechecks: "removed between T1 and T2", or when it was last seen up."""
    return gone_text(a) or f"{a.status.replace('_', ' ')} when last checked, {stamp(a.checked_at)}"


def page_text(page: PageCapture) -> str:
    kept = ["WARC"] + (["WACZ"] if page.wacz_path else []) + (["screenshot"] if page.screenshot_path else [])
    tls = f", TLS chain of {len(page.tls_chain)} certificates" if page.tls_chain else ""
    return (
        f"page kept {stamp(page.fetched_at)}: HTTP {page.http_status}, {' + '.join(kept)},"
        f" {page.resources} subresources{tls}"
    )


def stamp_text(s: Stamp) -> str:
    v = s.verification
    host = urlsplit(s.tsa_url).hostname or s.tsa_url
    if v is None:
        return f"RFC 3161 stamp by {host}"
    trust = (
        "verified to a trusted root"
        if v.verified and v.root_trusted
        else "verified to the root the token carries"
        if v.verified
        else "imprint checked; the TSA's root is not known here"
    )
    return f"RFC 3161 stamp {stamp(v.gen_time)} by {host} ({trust})"


def data_uri(still: Still) -> str:
    return "data:image/jpeg;base64," + base64.b64encode(still.jpeg).decode("ascii")


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        iso=utc_iso,
        stamp=stamp,
        published=published,
        when=when,
        segment=describe_segment,
        data_uri=data_uri,
        availability=availability_text,
        page_kept=page_text,
        time_stamp=stamp_text,
    )
    return env


def render_html(evidence: Evidence) -> str:
    cluster = evidence.cluster
    thumbs = {s.sha256: s for s in evidence.thumbnails}
    number = {sha: n for n, sha in enumerate(dict.fromkeys(a.sha256 for a in cluster.appearances), start=1)}
    return (
        _environment()
        .get_template("report.html.j2")
        .render(
            e=evidence,
            c=cluster,
            plot=plot(cluster),
            thumbs=thumbs,
            media_no=number,
            media={m.sha256: m for m in evidence.media},
            original_url=where_seen(cluster, cluster.likely_original),
            version=dict(evidence.tool_versions).get("provenance", ""),
        )
    )
