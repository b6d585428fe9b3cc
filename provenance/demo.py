"""The built-in demo: the whole job, offline, on clips made with the bundled ffmpeg.

Three source clips and one unrelated clip are generated, edited copies are made from the sources
(downscaled and re-encoded, mirrored, cut), everything is added to a fresh archive, and each copy is
matched against it.  The rows say whether the best match is the true source, with the segment.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import imageio_ffmpeg

from .errors import UsageError
from .pipeline import Archive, add_files, find_matches, open_archive
from .report import describe_segment
from .settings import load_settings

MARKER = ".provenance-demo"
SIZE = "640x360"
# name -> lavfi source (each distinct footage, 12 s at 25 fps)
SOURCES = {
    "fractal_zoom.mp4": f"mandelbrot=s={SIZE}:rate=25",
    "sierpinski_pan.mp4": f"sierpinski=s={SIZE}:rate=25:seed=3:jump=40,hue=H=t/3",
    "pattern_pan.mp4": f"testsrc2=s={SIZE}:rate=25,rotate=a=t/3:fillcolor=navy",
}
UNRELATED = {"unrelated_life.mp4": f"life=s={SIZE}:rate=25:seed=11:mold=10:ratio=0.3,scale={SIZE}"}
# copy name -> (source, description, ffmpeg arguments between input and output)
EDITS = {
    "copy_360p_lowbitrate.mp4": (
        "fractal_zoom.mp4",
        "downscaled to 320x180, 150 kb/s",
        ["-vf", "scale=320:180", "-b:v", "150k"],
    ),
    "copy_mirrored.mp4": ("pattern_pan.mp4", "mirrored left-right", ["-vf", "hflip"]),
    "copy_excerpt_4-9s.mp4": ("sierpinski_pan.mp4", "cut: seconds 4-9 only", ["-ss", "4", "-t", "5"]),
}


@dataclass(frozen=True, slots=True)
class DemoOutcome:
    archive: Path
    media: int
    rows: list[dict[str, Any]]


def _ffmpeg(*args: str) -> None:
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"ffmpeg failed: {proc.stderr.strip().splitlines()[-1:]}")


def _fresh_folder(out_dir: Path) -> None:
    if out_dir.exists():
        if not (out_dir / MARKER).exists():
            raise UsageError(f"{out_dir}: exists and is not a demo folder; choose another --out")
        shutil.rmtree(out_dir)
    (out_dir / "clips").mkdir(parents=True)
    (out_dir / MARKER).write_text("made by `provenance demo`; deleted by the next demo run\n")


def make_clips(clips: Path) -> None:
    for name, source in {**SOURCES, **UNRELATED}.items():
        _ffmpeg(
            "-f",
            "lavfi",
            "-i",
            source,
            "-t",
            "12",
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-pix_fmt",
            "yuv420p",
            str(clips / name),
        )
    for name, (source, _, args) in EDITS.items():
        _ffmpeg(
            "-i",
            str(clips / source),
            *args,
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-pix_fmt",
            "yuv420p",
            str(clips / name),
        )


def _row(archive: Archive, clips: Path, name: str) -> dict[str, Any]:
    source, edit, _ = EDITS[name]
    _, matches = find_matches(archive, str(clips / name))
    others = [m for m in matches if archive.catalog.get_media(m.ref_sha256).original_name != name]  # type: ignore[union-attr]
    best = others[0] if others else None
    best_name = archive.catalog.get_media(best.ref_sha256).original_name if best else None  # type: ignore[union-attr]
    return {
        "copy": name,
        "edit": edit,
        "source": source,
        "best_match": best_name,
        "score": best.score if best else 0.0,
        "segment": describe_segment(best.segments[0]) if best else None,
        "ok": best_name == source and len(others) == 1,
    }


def run_demo(out_dir: Path, *, on_event: Any = None) -> DemoOutcome:
    """Make the clips, archive them, match every edited copy; the rows say what matched what."""
    _fresh_folder(out_dir)
    clips = out_dir / "clips"
    make_clips(clips)
    root = out_dir / "archive"
    with open_archive(root, load_settings(root)) as archive:
        results = list(add_files(archive, [clips], on_event=on_event))
        failed = [r for r in results if r.status == "failed"]
        if failed:
            raise RuntimeError(f"demo clip could not be added: {failed[0].error}")
        rows = [_row(archive, clips, name) for name in EDITS]
        return DemoOutcome(archive=root, media=len(results), rows=rows)
