"""How long does fingerprinting a video take, against just decoding it with FFmpeg?

Makes (once, cached in bench/out/) a 1280x720 30 fps h264+aac clip from the real 720p trailers in
../shared/media (a lavfi mandelbrot/testsrc2 mix when that folder is absent), then times, as the median
of --runs runs each:

- ``ffmpeg -i clip -f null -``: the bare decode the fingerprint is measured against;
- ``ffmpeg -i clip -an -f null -``: the same without audio, since fingerprints decode video only;
- ``fingerprint_media`` with every available hasher and the default SamplingSettings, and its two
  parts: decoding + sampling (``sample_frames``) and hashing (``fingerprint_frames``).

    python bench/speed.py [--runs 3] [--seconds 60] [--clip PATH]
"""

from __future__ import annotations

import argparse
import os
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
# The encode a downloaded 720p web video typically has: x264 High profile with B-frames and
# its default GOP (keyint 250, scene-cut keyframes), AAC stereo.
ENCODE = ["-c:v", "libx264", "-preset", "medium", "-crf", "20", "-pix_fmt", "yuv420p",
          "-c:a", "aac", "-b:a", "128k", "-ar", "48000", "-ac", "2", "-movflags", "+faststart"]


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
        # The trailers are looped end to end until the clip is long enough.
        loops = int(seconds // 80) + 1
        inputs = [arg for _ in range(loops) for name in SOURCES for arg in ("-i", str(VIDEOS / name))]
        n = 2 * loops
        chains = [
            f"[{i}:v]scale=1280:720,setsar=1,setpts=(PTS-STARTPTS)/1.25,fps=30[v{i}];"
            f"[{i}:a]aresample=48000,atempo=1.25,aformat=channel_layouts=stereo[a{i}];"
            for i in range(n)
        ]
        joined = "".join(f"[v{i}][a{i}]" for i in range(n))
        graph = "".join(chains) + f"{joined}concat=n={n}:v=1:a=1[v][a]"
        args = [*inputs, "-filter_complex", graph, "-map", "[v]", "-map", "[a]"]
    else:
        video = (
            "mandelbrot=size=1280x720:rate=30[m];testsrc2=size=1280x720:rate=30[t];"
            "[m][t]blend=all_mode=average,noise=alls=12:allf=t"
        )
        args = ["-f", "lavfi", "-i", video, "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"]
    tmp = path.with_suffix(".part.mp4")
    cmd = [ffmpeg_exe(), "-nostdin", "-y", "-hide_banner", "-loglevel", "error", *args,
           "-t", f"{seconds:g}", "-r", "30", *ENCODE, str(tmp)]
    subprocess.run(cmd, check=True)
    os.replace(tmp, path)
    return path


def median_time(run: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def ffmpeg_decode(clip: Path, *extra: str) -> Callable[[], object]:
    cmd = [ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", "-i", str(clip), *extra,
           "-f", "null", "-"]
    return lambda: subprocess.run(cmd, check=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per measurement; the median is shown")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the generated clip")
    parser.add_argument("--clip", type=Path, help="time this video instead of the generated clip")
    args = parser.parse_args(argv)

    clip = args.clip or make_clip(args.seconds)
    hashers = [h for h in HASHERS.values() if h.available]
    opts = SamplingSettings()
    frames = sample_frames(clip, "video", opts)  # warm-up: page cache, imports, codec init

    decode_s = median_time(ffmpeg_decode(clip), args.runs)
    video_s = median_time(ffmpeg_decode(clip, "-an"), args.runs)
    total_s = median_time(lambda: fingerprint_media(clip, "video", "x", hashers, opts), args.runs)
    sample_s = median_time(lambda: sample_frames(clip, "video", opts), args.runs)
    hash_s = median_time(lambda: fingerprint_frames("x", frames, hashers, opts.rate_hz), args.runs)

    print(f"clip: {clip} ({clip.stat().st_size / 1e6:.1f} MB, {len(frames)} frames sampled)")
    print(f"hashers: {', '.join(h.name for h in hashers)}; {os.cpu_count()} CPUs; median of {args.runs}")
    print()
    print(f"| {'step':<40} | {'seconds':>7} | {'/ decode':>8} | {'/ decode -an':>12} |")
    print(f"|{'-' * 42}|{'-' * 8}:|{'-' * 9}:|{'-' * 13}:|")
    rows = [
        ("ffmpeg -i clip -f null - (decode)", decode_s),
        ("ffmpeg -i clip -an -f null - (video)", video_s),
        ("fingerprint_media (all hashers)", total_s),
        ("  decode + sample (sample_frames)", sample_s),
        ("  hashing (fingerprint_frames)", hash_s),
    ]
    for name, seconds in rows:
        print(f"| {name:<40} | {seconds:7.2f} | {seconds / decode_s:7.2f}x | {seconds / video_s:11.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
