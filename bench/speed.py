"""How long does fingerprinting a video take, against just decoding it with FFmpeg?

Makes (once, cached in bench/out/) a 1280x720 30 fps h264+aac clip from the real 720p trailers in
../shared/media (a lavfi mandelbrot/testsrc2 mix when that folder is absent), then times, as the median
of --runs runs each (the steps take turns, so a busy moment on the machine hits all of them alike):

- ``ffmpeg -i clip -f null -``: the bare decode the fingerprint is measured against;
- ``ffmpeg -i clip -an -f null -``: the same without audio, since fingerprints decode video only;
- ``fingerprint_media`` with every available hasher and the default SamplingSettings, and its two
  parts: decoding + sampling (``sample_frames``) and hashing (``fingerprint_frames``).

Wall-clock seconds are the measure; CPU seconds (all threads and child processes) are shown beside
them, and the CPU time other processes took during the runs is reported, because on a shared machine
that, not the code, is what moves the wall-clock figures.  With --quiet-below N a round of runs
during which other processes kept more than N CPUs busy is thrown away and run again.

    python bench/speed.py [--runs 3] [--seconds 60] [--clip PATH] [--quiet-below 0.1]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import imageio_ffmpeg

from provenance.fingerprint import fingerprint_frames, fingerprint_media
from provenance.frames import sample_frames
from provenance.hashing import HASHERS
from provenance.settings import SamplingSettings

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
VIDEOS = HERE.parents[1] / "shared" / "media" / "videos"
# Both 1280x720 24 fps, ~52 s and ~55 s: real animation with cuts, motion, captions and fades.
SOURCES = ("openshot_sintel_trailer-720p.mp4", "moviepy_trailer_bbb.mp4")
# The encode a downloaded 720p web video typically has: x264 High profile with B-frames and its
# default GOP (keyint 250 plus scene-cut keyframes), AAC stereo.
ENCODE = [
    *("-c:v", "libx264", "-preset", "medium", "-crf", "20", "-pix_fmt", "yuv420p"),
    *("-c:a", "aac", "-b:a", "128k", "-ar", "48000", "-ac", "2", "-movflags", "+faststart"),
]


def ffmpeg_exe() -> str:
    return imageio_ffmpeg.get_ffmpeg_exe()


def make_clip(seconds: float) -> Path:
    """The benchmark clip, made once per length; real footage when ../shared/media is there."""
    real = all((VIDEOS / name).is_file() for name in SOURCES)
    path = OUT / f"clip-{'real' if real else 'lavfi'}-720p30-{seconds:g}s.mp4"
    if path.is_file():
        return path
    OUT.mkdir(parents=True, exist_ok=True)
    if real:
        # 24 -> 30 fps by playing 1.25x faster (setpts/atempo) rather than with fps=30, which would
        # repeat every 4th frame: a repeated frame costs the decoder almost nothing and flatters it.
        # The trailers follow each other, looped until the clip is long enough.
        n = 2 * (int(seconds // 80) + 1)
        inputs = [arg for i in range(n) for arg in ("-i", str(VIDEOS / SOURCES[i % 2]))]
        chains = "".join(
            f"[{i}:v]scale=1280:720,setsar=1,setpts=(PTS-STARTPTS)/1.25,fps=30[v{i}];"
            f"[{i}:a]aresample=48000,atempo=1.25,aformat=channel_layouts=stereo[a{i}];"
            for i in range(n)
        )
        joined = "".join(f"[v{i}][a{i}]" for i in range(n))
        graph = f"{chains}{joined}concat=n={n}:v=1:a=1[v][a]"
        args = [*inputs, "-filter_complex", graph, "-map", "[v]", "-map", "[a]"]
    else:
        video = (
            "mandelbrot=size=1280x720:rate=30[m];testsrc2=size=1280x720:rate=30[t];"
            "[m][t]blend=all_mode=average,noise=alls=5:allf=t"
        )
        args = ["-f", "lavfi", "-i", video, "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"]
    tmp = path.with_suffix(".part.mp4")
    cmd = [ffmpeg_exe(), "-nostdin", "-y", "-hide_banner", "-loglevel", "error", *args]
    subprocess.run([*cmd, "-t", f"{seconds:g}", "-r", "30", *ENCODE, str(tmp)], check=True)
    os.replace(tmp, path)
    return path


def cpu_s() -> float:
    """CPU seconds of this process (every thread) and of its finished child processes."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def machine_busy_s() -> float:
    """CPU seconds every process on the machine has used since boot (0 where /proc is missing)."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    except OSError:
        return 0.0
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields) - idle) / os.sysconf("SC_CLK_TCK")


def run_timed(step: Callable[[], object]) -> tuple[float, float]:
    """Wall-clock and CPU seconds of one call."""
    start_wall, start_cpu = time.perf_counter(), cpu_s()
    step()
    return time.perf_counter() - start_wall, cpu_s() - start_cpu


def ffmpeg_decode(clip: Path, *extra: str) -> Callable[[], object]:
    cmd = [ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", "-i", str(clip), *extra]
    return lambda: subprocess.run([*cmd, "-f", "null", "-"], check=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per measurement; the median is shown")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the generated clip")
    parser.add_argument("--clip", type=Path, help="time this video instead of the generated clip")
    parser.add_argument(
        "--quiet-below",
        type=float,
        metavar="CPUS",
        help="throw a round away when other processes kept more than CPUS busy (at most 10 x --runs)",
    )
    args = parser.parse_args(argv)

    clip = args.clip or make_clip(args.seconds)
    hashers = [h for h in HASHERS.values() if h.available]
    opts = SamplingSettings()
    frames = sample_frames(clip, "video", opts)  # warm-up: page cache, imports, codec init
    steps: dict[str, Callable[[], object]] = {
        "ffmpeg -i clip -f null - (decode)": ffmpeg_decode(clip),
        "ffmpeg -i clip -an -f null - (video)": ffmpeg_decode(clip, "-an"),
        "fingerprint_media (all hashers)": lambda: fingerprint_media(clip, "video", "x", hashers, opts),
        "  decode + sample (sample_frames)": lambda: sample_frames(clip, "video", opts),
        "  hashing (fingerprint_frames)": lambda: fingerprint_frames("x", frames, hashers, opts.rate_hz),
    }
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in steps}
    loads: list[float] = []
    discarded = 0
    while len(loads) < args.runs:
        busy0, cpu0, wall0 = machine_busy_s(), cpu_s(), time.perf_counter()
        round_times = {name: run_timed(step) for name, step in steps.items()}
        others = max(0.0, (machine_busy_s() - busy0 - (cpu_s() - cpu0)) / (time.perf_counter() - wall0))
        if args.quiet_below is not None and others > args.quiet_below and discarded < 10 * args.runs:
            discarded += 1
            continue
        loads.append(others)
        for name, timed in round_times.items():
            times[name].append(timed)

    print(f"clip: {clip} ({clip.stat().st_size / 1e6:.1f} MB, {len(frames)} frames sampled)")
    print(f"hashers: {', '.join(h.name for h in hashers)}; {os.cpu_count()} CPUs; median of {args.runs}")
    print(
        f"other processes kept {statistics.mean(loads):.2f} CPUs busy on average during the runs"
        + (f" ({discarded} busier rounds thrown away)" if discarded else "")
    )
    print()
    decode_s, video_s = (statistics.median(w for w, _ in times[name]) for name in list(steps)[:2])
    print(f"| {'step':<40} | {'wall s':>6} | {'CPU s':>5} | {'/ decode':>8} | {'/ decode -an':>12} |")
    print(f"|{'-' * 42}|{'-' * 7}:|{'-' * 6}:|{'-' * 9}:|{'-' * 13}:|")
    for name, runs in times.items():
        wall, cpu = statistics.median(w for w, _ in runs), statistics.median(c for _, c in runs)
        print(
            f"| {name:<40} | {wall:6.2f} | {cpu:5.2f} | {wall / decode_s:7.2f}x | {wall / video_s:11.2f}x |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
