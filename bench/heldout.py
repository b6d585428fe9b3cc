"""Matching on footage the settings never saw: every video of ../shared/media, a held-out half.

Sources: every video of ../shared/media/videos (its middle MAX_SOURCE_S at most, fit within 480x480)
in seven conditions, each archived on its own (a fresh archive per condition, default Settings):
``full``; the middle 2 s and 4 s (``win2s``, ``win4s``); forced down to 176x144 and 320x240 (``qcif``,
``qvga``: old-phone sizes); darkened (luma x 0.3: ``dark``) and flattened (contrast x 0.3: ``lowcon``).
Copies: the edit families of bench/robustness.py plus those of issue 10 (rotation, 90-degree turn,
grayscale, colour grade, frame-rate conversion, aspect stretch, picture-in-picture, lower third + ticker,
a player's screen recording, blur + noise, 100 kb/s at 240p).  Each (video, condition) gets
``--edits`` families in turn (a seeded rotation), so every family meets every kind of source.

The sources are split by a fixed seed into a tuning half and a held-out half, same-footage files of
the media README on one side; settings may be chosen on the tuning half only.  Matched = the true
source is listed; segment within 1 s = both ends of the best segment, reference and query side,
within 1 s of the written truth; any other listed source that is not the same footage is a false
match.  Everything generated is cached in bench/out/heldout-v4/.

    python bench/heldout.py [--quick] [--conditions full,win2s,...] [--edits K] [--peers [--videohash]]
                            [--explain] [--no-write]
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
from negatives import related_to
from peers import PeerRun, Verdict, frame_rule_peers, videohash_peer
from robustness import CRF, EDITS, FONT, Copy, _judge, even, ffmpeg, probe, simple_edits

from provenance import add_files, find_matches, open_archive
from provenance.contentbox import find_content_box
from provenance.fingerprint import INDEX_FRACTION, hash_views
from provenance.frames import sample_frames
from provenance.hashing import HASHERS, hamming
from provenance.match import hash_query, query_sampling
from provenance.settings import Settings

HERE = Path(__file__).resolve().parent
OUT = HERE / "out" / "heldout-v4"  # the recipe version: change a recipe below and bump it
VIDEOS = HERE.parents[1] / "shared" / "media" / "videos"
RESULTS = HERE / "RESULTS.md"
SECTION = "## Held-out matching (bench/heldout.py)"
SEED = 10
MAX_SOURCE_S = 6.0  # short, as the footage investigators get; keeps a run within the hour
CONDITIONS = ("full", "win2s", "win4s", "qcif", "qvga", "dark", "lowcon")
# How each condition is made from the ``full`` source: (ffmpeg input args, output filter, window s).
CONDITION_RECIPES: dict[str, tuple[str, float | None]] = {
    "full": ("null", None),
    "win2s": ("null", 2.0),
    "win4s": ("null", 4.0),
    "qcif": ("scale=176:144,setsar=1", None),
    "qvga": ("scale=320:240,setsar=1", None),
    "dark": ("lutyuv=y=val*0.3", None),
    "lowcon": ("lutyuv=y=128+(val-128)*0.3", None),
}
OLD_FAMILIES = EDITS  # the edit families of bench/robustness.py
NEW_FAMILIES = (
    "rotate_4deg",
    "rotate_90",
    "grayscale",
    "color_grade",
    "fps_convert",
    "stretch_4x3_to_16x9",
    "pip_50pct",
    "lower_third_ticker",
    "player_ui",
    "blur_noise",
    "240p_100k",
)
FAMILIES = OLD_FAMILIES + NEW_FAMILIES
# Footage never archived around partial copies and behind picture-in-picture: ffmpeg's own patterns.
FILLER_BEFORE = ("mandelbrot", 3.0)
FILLER_AFTER = ("cellauto", 2.0)  # its random start drawn from SEED, so every run is the same
SHORTEST_COPY_S = 2.0
# Quick encodes without audio: the copies are many and small.
X264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-an"]


@dataclass(frozen=True, slots=True)
class Item:
    """One archived source: a video in one condition."""

    video: str
    condition: str
    path: Path
    half: str  # "tuning" or "held-out"


def halves(videos: Sequence[str], seed: int = SEED) -> dict[str, str]:
    """Video name -> half, by a seeded shuffle of same-footage groups (a pair never straddles)."""
    groups = sorted({min(related_to(v) & set(videos)) for v in videos})
    random.Random(seed).shuffle(groups)
    tuning = set(groups[: len(groups) // 2])
    return {v: "tuning" if min(related_to(v) & set(videos)) in tuning else "held-out" for v in videos}


def make_full(video: Path) -> Path:
    """The middle MAX_SOURCE_S (or all) of a video, fit within 480x480."""
    width, height, duration, _ = probe(video)
    scale = min(1.0, 480 / max(width, height))
    start = max(0.0, round((duration - MAX_SOURCE_S) / 2, 2))
    cut = ["-ss", f"{start:g}", "-t", f"{MAX_SOURCE_S:g}"] if duration > MAX_SOURCE_S else []
    vf = f"scale={even(width * scale)}:{even(height * scale)},setsar=1,format=yuv420p"
    return ffmpeg([*cut, "-i", str(video), "-vf", vf, *X264, *CRF], OUT / "full" / f"{video.name}.mp4")


def make_condition(full: Path, condition: str) -> Path | None:
    """The full source in another condition; None when a window would be the whole source."""
    if condition == "full":
        return full
    vf, window_s = CONDITION_RECIPES[condition]
    duration = probe(full)[2]
    cut: list[str] = []
    if window_s is not None:
        if duration < window_s + 0.5:
            return None
        cut = ["-ss", f"{(duration - window_s) / 2:.2f}", "-t", f"{window_s:g}"]
    return ffmpeg([*cut, "-i", str(full), "-vf", vf, *X264, *CRF], OUT / condition / full.name)


def _pip(width: int, height: int, share: float, seed: int) -> list[str]:
    """The footage at ``share`` of the frame's width over a moving pattern, as news channels show it.
    Its two colours and its line are drawn from ``seed`` (lavfi draws random colours anew on every
    run, whatever its own seed)."""
    w, h = even(width * share), even(height * share)
    draw = random.Random(seed)
    c0, c1 = (f"0x{draw.randrange(1 << 24):06x}" for _ in range(2))
    bg = f"gradients=s={width}x{height}:speed=0.03:r=25:seed={seed}:c0={c0}:c1={c1}"
    graph = f"[1:v]scale={w}:{h},setsar=1[fg];[0:v][fg]overlay=x=W*0.06:y=H*0.12:shortest=1,setsar=1"
    return ["-f", "lavfi", "-i", bg, "-filter_complex", graph]


def _lower_third() -> str:
    """A band over the bottom quarter: a headline and a ticker crawling along its foot."""
    band = "drawbox=x=0:y=ih*0.75:w=iw:h=ih*0.25:color=0x102060@0.9:t=fill"
    if not FONT.is_file():
        return band
    headline = (
        f"drawtext=fontfile={FONT}:fontcolor=white:fontsize=h*0.07:x=w*0.04:y=h*0.78:"
        "text='LIVE  STORM HITS COAST'"
    )
    ticker = (
        f"drawtext=fontfile={FONT}:fontcolor=yellow:fontsize=h*0.05:y=h*0.91:x=w-mod(t*w/4\\,w+tw):"
        "text='markets close higher  +++  weather warning for the north  +++  more at eleven'"
    )
    return f"{band},{headline},{ticker}"


def _player(width: int, height: int) -> str:
    """A screen recording of a desktop player: title bar, dark window, progress bar, buttons."""
    cw, ch = even(width * 1.3), even(height * 1.5)
    x, y = even(width * 0.15), even(height * 0.2)
    parts = [
        f"pad={cw}:{ch}:{x}:{y}:color=0x202024",
        f"drawbox=x=0:y=0:w=iw:h={even(height * 0.1)}:color=0xd0d0d8:t=fill",
        f"drawbox=x={x}:y={y + height + 8}:w={width}:h=6:color=0x606060:t=fill",
        f"drawbox=x={x}:y={y + height + 8}:w={width}*t/20:h=6:color=red:t=fill",
        f"drawbox=x={x}:y={y + height + 22}:w=18:h=18:color=white:t=fill",
    ]
    if FONT.is_file():
        parts.append(
            f"drawtext=fontfile={FONT}:fontcolor=black:fontsize=h*0.04:x=12:y=h*0.03:"
            "text='video.mp4 - Player'"
        )
    scale = min(1.0, 480 / cw)
    return ",".join([*parts, f"scale={even(cw * scale)}:{even(ch * scale)},setsar=1"])


def new_edits(
    width: int, height: int, fps: str, share: float, seed: int
) -> dict[str, tuple[list[str], float]]:
    """The families issue 10 adds, of the whole clip: name -> (ffmpeg args after the input, pace)."""
    rate = 24 if float(Fraction(fps)) >= 27 else 30  # 25 -> 30, 30/60 -> 24 fps
    low = min(240, even(height))
    return {
        "rotate_4deg": (["-vf", "rotate=4*PI/180:fillcolor=black"], 1.0),
        "rotate_90": (["-vf", "transpose=1"], 1.0),
        "grayscale": (["-vf", "hue=s=0"], 1.0),
        "color_grade": (["-vf", "eq=contrast=1.25:gamma=1.3:saturation=1.6"], 1.0),
        "fps_convert": (["-vf", f"fps={rate}"], 1.0),
        "stretch_4x3_to_16x9": (["-vf", f"scale={even(width * 4 / 3)}:{height},setsar=1"], 1.0),
        "pip_50pct": (_pip(width, height, share, seed), 1.0),
        "lower_third_ticker": (["-vf", _lower_third()], 1.0),
        "player_ui": (["-vf", _player(width, height)], 1.0),
        "blur_noise": (["-vf", "gblur=sigma=2,noise=alls=14:allf=t+u"], 1.0),
        "240p_100k": (
            ["-vf", f"scale=-2:{low},setsar=1", "-b:v", "100k", "-maxrate", "120k", "-bufsize", "200k"],
            1.0,
        ),
    }


def _whole_copy(item: Item, family: str, share: float) -> Copy:
    width, height, duration, fps = probe(item.path)
    seed = zlib.crc32(f"{item.condition}/{item.path.name}".encode())
    edits = {**simple_edits(width, height), **new_edits(width, height, fps, share, seed)}
    if family not in edits:  # a 2.35:1 source is not pillarboxed: letterboxed instead
        family = "letterbox"
    args, pace = edits[family]
    quality = [] if "-b:v" in args else CRF
    extra_inputs = args[: args.index("-filter_complex")] if family == "pip_50pct" else []
    rest = args[len(extra_inputs) :]
    out = OUT / "copies" / item.condition / f"{item.path.stem}--{family}.mp4"
    ffmpeg([*extra_inputs, "-i", str(item.path), *rest, *X264, *quality], out)
    return Copy(item.video, f"{item.condition}:{family}", out, 0.0, duration, 0.0, duration * pace)


def _head_trim(item: Item) -> Copy:
    """30 % of the head cut, but at least SHORTEST_COPY_S left (a 2 s source loses 0.5 s)."""
    duration = probe(item.path)[2]
    trim = round(max(min(0.3 * duration, duration - SHORTEST_COPY_S), min(0.5, duration / 4)), 2)
    out = OUT / "copies" / item.condition / f"{item.path.stem}--head_trim_30pct.mp4"
    ffmpeg(["-ss", f"{trim:g}", "-i", str(item.path), *X264, *CRF], out)
    return Copy(item.video, f"{item.condition}:head_trim_30pct", out, trim, duration, 0.0, duration - trim)


def _partial(item: Item) -> Copy:
    """The source's middle (9 s, 60 %, but at least SHORTEST_COPY_S) between ffmpeg patterns."""
    width, height, duration, fps = probe(item.path)
    length = round(min(duration, max(SHORTEST_COPY_S, min(9.0, duration * 0.6))), 2)
    mid = round((duration - length) / 2, 2)
    (before, before_s), (after, after_s) = FILLER_BEFORE, FILLER_AFTER
    size = f"s={width}x{height}:r={fps}"
    inputs = ["-f", "lavfi", "-t", f"{before_s:g}", "-i", f"{before}={size}"]
    inputs += ["-ss", f"{mid:g}", "-t", f"{length + 0.5:g}", "-i", str(item.path)]
    inputs += ["-f", "lavfi", "-t", f"{after_s:g}", "-i", f"{after}={size}:seed={SEED}"]
    chains = [
        f"[{i}:v]setsar=1,fps={fps},format=yuv420p,trim=duration={seconds:g},setpts=PTS-STARTPTS[v{i}];"
        for i, seconds in enumerate((before_s, length, after_s))
    ]
    graph = "".join(chains) + "[v0][v1][v2]concat=n=3:v=1[v]"
    out = OUT / "copies" / item.condition / f"{item.path.stem}--partial_in_longer.mp4"
    ffmpeg([*inputs, "-filter_complex", graph, "-map", "[v]", *X264, *CRF], out)
    return Copy(
        item.video, f"{item.condition}:partial_in_longer", out, mid, mid + length, before_s, before_s + length
    )


def make_copy(item: Item, family: str, share: float) -> Copy:
    if family == "head_trim_30pct":
        return _head_trim(item)
    if family == "partial_in_longer":
        return _partial(item)
    return _whole_copy(item, family, share)


def assign_families(items: Sequence[Item], per_item: int, seed: int = SEED) -> list[tuple[Item, str, float]]:
    """Each item gets ``per_item`` families in turn from a seeded start, so families spread evenly
    over videos, conditions and halves; picture-in-picture takes 40, 50 or 60 % in turn."""
    order = list(range(len(items)))
    random.Random(seed).shuffle(order)
    chosen = []
    for rank, i in enumerate(order):
        for j in range(min(per_item, len(FAMILIES))):
            chosen.append(
                (items[i], FAMILIES[(rank * per_item + j) % len(FAMILIES)], (0.4, 0.5, 0.6)[rank % 3])
            )
    return chosen


Pairs = dict[tuple[str, str], Verdict]


def run_condition(items: Sequence[Item], copies: Sequence[Copy]) -> Pairs:
    """A fresh archive of one condition's sources, then one query per copy."""
    with tempfile.TemporaryDirectory(dir=OUT, prefix="archive-") as root, open_archive(root) as archive:
        added = list(add_files(archive, [i.path for i in items], jobs=2))
        if any(r.status not in ("added", "exists") for r in added):
            raise SystemExit(f"could not archive the sources: {[r for r in added if r.status != 'added']}")
        key_of: dict[str, str] = {}
        for item, result in zip(items, added, strict=True):
            key_of.setdefault(result.sha256 or "", item.video)
        # Two same-footage files may give byte-identical cuts (a re-encode without audio): one archived
        # file stands for both, named after the copy's own source when judging that copy.
        sha_of = {i.video: r.sha256 or "" for i, r in zip(items, added, strict=True)}
        pairs: Pairs = {(c.id, i.video): Verdict(False) for c in copies for i in items}
        for copy in copies:
            names = {**key_of, sha_of[copy.source]: copy.source}
            pairs.update(_judge(copy, find_matches(archive, str(copy.path))[1], names))
        return pairs


@dataclass(frozen=True, slots=True)
class Outcome:
    copy: Copy
    half: str
    found: bool
    in_1s: bool
    false: list[str]
    detail: str


def outcomes_of(copies: Sequence[Copy], pairs: Pairs, half_of: Mapping[str, str]) -> list[Outcome]:
    found = []
    for copy in copies:
        truth = pairs[copy.id, copy.source]
        listed = [k[1] for k, v in pairs.items() if k[0] == copy.id and v.matched]
        false = [name for name in listed if name not in related_to(copy.source)]
        worst = max(truth.ref_err_s or 0.0, truth.query_err_s or 0.0)
        found.append(
            Outcome(
                copy, half_of[copy.source], truth.matched, truth.matched and worst <= 1.0, false, truth.detail
            )
        )
    return found


def _cell(rows: Sequence[Outcome]) -> str:
    if not rows:
        return "-"
    hit = sum(o.found for o in rows)
    timed = sum(o.in_1s for o in rows)
    return f"{hit}/{len(rows)} ({hit / len(rows):.0%}) · {timed} in 1 s"


def table(
    outcomes: Sequence[Outcome], label: str, key: Callable[[Outcome], str], keys: Sequence[str]
) -> list[str]:
    lines = [f"| {label} | tuning: found · in 1 s | held-out: found · in 1 s |", "|---|---|---|"]
    for k in [*keys, "all"]:
        mine = [o for o in outcomes if k in (key(o), "all")]
        if mine:
            cells = [_cell([o for o in mine if o.half == h]) for h in ("tuning", "held-out")]
            lines.append(f"| {k} | {cells[0]} | {cells[1]} |")
    return lines


def family_of(o: Outcome) -> str:
    return o.copy.edit.split(":", 1)[1]


def condition_of(o: Outcome) -> str:
    return o.copy.edit.split(":", 1)[0]


def misses(outcomes: Sequence[Outcome], half: str) -> list[str]:
    lines = []
    for o in outcomes:
        if o.half != half:
            continue
        c = o.copy
        want = f"q {c.copy_start_s:.1f}-{c.copy_end_s:.1f} = ref {c.src_start_s:.1f}-{c.src_end_s:.1f} s"
        if not o.found:
            lines.append(f"- missed {c.id} ({want})")
        elif not o.in_1s:
            lines.append(f"- off by > 1 s {c.id} ({want}): {o.detail}")
        if o.false:
            lines.append(f"- false match {c.id} -> {', '.join(o.false)}")
    return lines or ["- none"]


def explain(copy: Copy, ref: Path, settings: Settings) -> str:
    """Why a copy may be missed: informative frames on each side, content boxes, and how close the
    copy's frames come to the reference frames they show (best over the matcher's views)."""
    hasher = HASHERS[settings.match.hasher]
    ref_frames = sample_frames(ref, "video", settings.sampling)
    q_frames = sample_frames(copy.path, "video", query_sampling(settings.sampling, settings.match))
    r_box, q_box = find_content_box(ref_frames), find_content_box(q_frames)
    r_ms, r_hashed = hash_views(ref_frames, r_box, [hasher], [(INDEX_FRACTION, False)])
    r_hash, r_quality = r_hashed[(hasher.name, (INDEX_FRACTION, False))]
    q_ms, q_views = hash_query(q_frames, hasher, settings.match)
    shown = copy.source_time(q_ms / 1000) * 1000
    near = np.abs(shown[:, None] - r_ms[None, :].astype(np.float64)) <= 500  # NaN compares False
    best = np.full(r_ms.size, 64)
    informative_q = 0
    for _, q_hash, q_quality in q_views:
        usable = (
            near & (q_quality >= hasher.min_quality)[:, None] & (r_quality >= hasher.min_quality)[None, :]
        )
        informative_q = max(informative_q, int((q_quality >= hasher.min_quality).sum()))
        dist = np.where(usable, hamming(q_hash[:, None, :], r_hash[None, :, :]), 64).min(axis=0)
        best = np.minimum(best, dist)
    shown_refs = best < 64
    within = int((best[shown_refs] <= settings.match.max_distance).sum())
    return (
        f"ref {int((r_quality >= hasher.min_quality).sum())}/{r_ms.size} informative, box {r_box}; "
        f"copy {informative_q}/{q_ms.size} informative, box {q_box}; true pairs: "
        f"{within}/{int(shown_refs.sum())} ref frames within {settings.match.max_distance}, "
        f"closest {np.sort(best[shown_refs])[:5].tolist()}"
    )


def run_peers(items: Sequence[Item], copies: Sequence[Copy], videohash: bool) -> list[PeerRun]:
    """The peers of bench/peers.py (vPDQ rule, pHash rule[, videohash]) on one condition's files."""
    sources = {i.video: i.path for i in items}
    queries = [(c.id, c.path) for c in copies]
    runs = frame_rule_peers(sources, queries)
    return [*runs, videohash_peer(sources, queries)] if videohash else runs


def peer_table(outcomes: Sequence[Outcome], runs: Mapping[str, PeerRun]) -> list[str]:
    """Markdown: family x method -> copies found of their own source, tuning / held-out."""
    names = ["ours", *runs]
    lines = ["| edit family | " + " | ".join(f"{n}: tuning / held-out" for n in names) + " |"]
    lines.append("|---|" + "---|" * len(names))

    def found(o: Outcome, name: str) -> bool:
        return o.found if name == "ours" else runs[name].pairs[o.copy.id, o.copy.source].matched

    for family in [*FAMILIES, "all"]:
        mine = [o for o in outcomes if family in (family_of(o), "all")]
        cells = []
        for name in names:
            halves_found = [[found(o, name) for o in mine if o.half == h] for h in ("tuning", "held-out")]
            cells.append(" / ".join(f"{sum(f)}/{len(f)}" for f in halves_found))
        lines.append(f"| {family} | " + " | ".join(cells) + " |")
    wrong = {
        n: sum(v.matched and k[1] not in related_to(k[0].split("/")[0]) for k, v in r.pairs.items())
        for n, r in runs.items()
    }
    return [*lines, "", "Peers' false matches: " + ", ".join(f"{n} {k}" for n, k in wrong.items()) + "."]


def report(outcomes: Sequence[Outcome], items: Sequence[Item], settings: Settings) -> list[str]:
    videos = sorted({i.video for i in items})
    half_of = {i.video: i.half for i in items}
    tuning = [v for v in videos if half_of[v] == "tuning"]
    held = [v for v in videos if half_of[v] == "held-out"]
    unrelated = sum(
        len([i for i in items if i.condition == condition_of(o) and i.video not in related_to(o.copy.source)])
        for o in outcomes
    )
    false = sum(len(o.false) for o in outcomes)
    return [
        f"Sources: {len(videos)} videos x {len(CONDITIONS)} conditions = {len(items)} archived sources "
        f"(one archive per condition); {len(outcomes)} edited copies.",
        "",
        f"Tuning half ({len(tuning)}): {', '.join(tuning)}.",
        "",
        f"Held-out half ({len(held)}): {', '.join(held)}.",
        "",
        f"Settings: `{settings.match}`; `{settings.sampling}`.",
        "",
        *table(outcomes, "edit family", family_of, FAMILIES),
        "",
        *table(outcomes, "source condition", condition_of, CONDITIONS),
        "",
        f"False matches: {false} of {unrelated} unrelated (copy, source) pairs.",
        "",
        "Held-out misses:",
        "",
        *misses(outcomes, "held-out"),
        "",
        "Tuning misses:",
        "",
        *misses(outcomes, "tuning"),
    ]


def build(videos: Sequence[Path], conditions: Sequence[str], per_item: int) -> tuple[list[Item], list[Copy]]:
    half_of = halves([v.name for v in videos])
    with ThreadPoolExecutor(max_workers=2) as pool:
        fulls = list(pool.map(make_full, videos))
        made = [
            (v, c, pool.submit(make_condition, full, c))
            for v, full in zip(videos, fulls, strict=True)
            for c in conditions
        ]
        items = [
            Item(v.name, c, path, half_of[v.name]) for v, c, f in made if (path := f.result()) is not None
        ]
        jobs = assign_families(items, per_item)
        copies = list(pool.map(lambda job: make_copy(*job), jobs))
    return items, copies


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="every 4th video, conditions full/win2s/qcif/dark"
    )
    parser.add_argument("--edits", type=int, default=2, help="edit families per (video, condition)")
    parser.add_argument("--conditions", help=f"a comma-separated subset of {','.join(CONDITIONS)}")
    parser.add_argument("--peers", action="store_true", help="also the vPDQ rule and the pHash rule")
    parser.add_argument("--videohash", action="store_true", help="with --peers: videohash too (slow)")
    parser.add_argument("--explain", action="store_true", help="explain every miss (slower)")
    parser.add_argument("--no-write", action="store_true", help=f"do not update {RESULTS.name}")
    args = parser.parse_args(argv)
    clock = time.perf_counter()
    videos = sorted(VIDEOS.iterdir())
    conditions = CONDITIONS
    if args.quick:
        videos, conditions = videos[::4], ("full", "win2s", "qcif", "dark")
    if args.conditions:
        conditions = tuple(c for c in CONDITIONS if c in args.conditions.split(","))
    items, copies = build(videos, conditions, args.edits)
    made = time.perf_counter() - clock
    print(f"{len(items)} sources, {len(copies)} copies made in {made:.0f} s", file=sys.stderr)
    pairs: Pairs = {}
    peers: dict[str, PeerRun] = {}
    for condition in conditions:
        mine = [c for c in copies if c.edit.startswith(condition + ":")]
        sources = [i for i in items if i.condition == condition]
        pairs.update(run_condition(sources, mine))
        for run in run_peers(sources, mine, args.videohash) if args.peers else []:
            peers.setdefault(run.name, PeerRun(run.name, run.status)).pairs.update(run.pairs)
        print(f"{condition}: {len(mine)} copies matched", file=sys.stderr)
    settings = Settings()
    outcomes = outcomes_of(copies, pairs, {i.video: i.half for i in items})
    body = report(outcomes, items, settings)
    if peers:
        ok = {n: r for n, r in peers.items() if r.status == "ok"}
        body += [
            "",
            "Ours and the peers (bench/peers.py), copies found / copies:",
            "",
            *peer_table(outcomes, ok),
        ]
        body += [f"{n}: {r.status}" for n, r in peers.items() if r.status != "ok"]
    if args.explain:
        path_of = {(i.video, i.condition): i.path for i in items}
        body += ["", "Why (every miss):", ""]
        for o in outcomes:
            if not o.found:
                ref = path_of[o.copy.source, condition_of(o)]
                body.append(f"- {o.copy.id} [{o.half}]: {explain(o.copy, ref, settings)}")
    body += ["", f"Time: copies made (or cached) {made:.0f} s, total {time.perf_counter() - clock:.0f} s."]
    print("\n".join(body))
    if not args.no_write:
        command = " ".join(["python bench/heldout.py", *(argv if argv is not None else sys.argv[1:])])
        code = subprocess.run(
            ["git", "-C", str(HERE), "describe", "--always", "--dirty"], capture_output=True, text=True
        ).stdout.strip()
        write_section([f"`{command.strip()}` on {dt.date.today().isoformat()}, code at {code}:", "", *body])
    return 0


def write_section(body: Sequence[str]) -> None:
    """Replace this benchmark's section of RESULTS.md (or append it); other sections stay."""
    text = RESULTS.read_text("utf-8") if RESULTS.is_file() else "# Benchmark results\n"
    section = "\n".join([SECTION, "", *body]).rstrip("\n") + "\n"
    start = text.find(SECTION)
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        after = text.find("\n## ", start + len(SECTION))
        text = text[:start] + section + (text[after:] if after >= 0 else "")
    RESULTS.write_text(text, "utf-8")


if __name__ == "__main__":
    sys.exit(main())
