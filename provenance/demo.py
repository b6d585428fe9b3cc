"""The built-in demo: the whole job, offline, on clips made with the bundled ffmpeg.

Three source clips and one unrelated clip are generated, edited copies are made from the sources
(downscaled and re-encoded, mirrored, cut), and every clip is published on a small video site served
on 127.0.0.1: a page per clip with a JSON-LD VideoObject saying who uploaded it and when (the sources
first, the copies a day later).  The demo archives every page with yt-dlp, matches each copy against
the archive and asks for its earliest appearance, which must be its source's page.  Then it stamps
every capture with a loopback RFC 3161 TSA (answered in Python: no `openssl` program needed) and
exports the first copy's cluster as a BagIt bag, which it verifies.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import imageio_ffmpeg

from .errors import UsageError
from .models import utc_iso
from .pipeline import Archive, OnEvent, archive_urls, build_timeline, find_matches, open_archive
from .report import describe_segment
from .settings import load_settings

MARKER = ".provenance-demo"
SIZE = "640x360"
H264 = ["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p"]
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
class DemoRow:
    """What the demo found for one edited copy."""

    copy: str
    edit: str
    source: str
    best_match: str | None
    score: float
    segment: str | None
    earliest_url: str | None
    earliest_published_at: str | None
    ok: bool


@dataclass(frozen=True, slots=True)
class DemoCustody:
    """The evidence steps of the demo: stamps from a loopback TSA and a bag of the first copy's cluster."""

    tsa_url: str | None
    captures: int
    stamped: int
    verified: int
    bag: str | None
    bag_valid: bool
    bag_files: int
    notes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DemoOutcome:
    archive: Path
    media: int
    rows: tuple[DemoRow, ...]
    custody: DemoCustody | None = None


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
    (out_dir / "site" / "media").mkdir(parents=True)
    (out_dir / "site" / "watch").mkdir(parents=True)
    (out_dir / MARKER).write_text("made by `provenance demo`; deleted by the next demo run\n")


def make_clips(media: Path) -> None:
    for name, source in {**SOURCES, **UNRELATED}.items():
        _ffmpeg("-f", "lavfi", "-i", source, "-t", "12", *H264, str(media / name))
    for name, (source, _, args) in EDITS.items():
        _ffmpeg("-i", str(media / source), *args, *H264, str(media / name))


def _upload_time(name: str) -> str:
    """Sources were posted on 1 March, an hour apart; their copies on 2 March."""
    names = [*SOURCES, *UNRELATED, *EDITS]
    day = 2 if name in EDITS else 1
    return f"2026-03-0{day}T{8 + names.index(name) % 12:02d}:15:00Z"


def write_pages(site: Path, base: str) -> list[str]:
    """A JSON-LD VideoObject page per clip (its contentUrl absolute, as sites give it); returns the
    page paths."""
    pages = []
    for name in [*SOURCES, *UNRELATED, *EDITS]:
        data = {
            "@context": "https://schema.org",
            "@type": "VideoObject",
            "name": name.removesuffix(".mp4"),
            "uploadDate": _upload_time(name),
            "contentUrl": f"{base}/media/{name}",
            "author": {"@type": "Person", "name": "copier" if name in EDITS else "original author"},
        }
        page = f"watch/{name.removesuffix('.mp4')}.html"
        script = f'<script type="application/ld+json">{json.dumps(data)}</script>'
        (site / page).write_text(
            f"<!DOCTYPE html><html><head><title>{name}</title>{script}</head><body></body></html>"
        )
        pages.append(page)
    return pages


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass  # the demo's output is its table


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # yt-dlp hangs up once it has sniffed enough of a file: not an error worth a traceback


@contextmanager
def serve(site: Path) -> Iterator[str]:
    """The site on 127.0.0.1 (a free port) while the block runs; yields its base URL."""
    server = _QuietServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _row(archive: Archive, media: Path, name: str, page_url: str) -> DemoRow:
    source, edit, _ = EDITS[name]
    query, matches = find_matches(archive, str(media / name))
    names = {m.ref_sha256: archive.catalog.get_media(m.ref_sha256) for m in matches}
    others = [m for m in matches if m.ref_sha256 != query.sha256]  # the copy itself is archived too
    best = others[0] if others else None
    best_name = names[best.ref_sha256].original_name if best else None  # type: ignore[union-attr]
    _, cluster = build_timeline(archive, page_url)
    earliest = cluster.earliest if cluster else None
    if earliest is None:
        return DemoRow(name, edit, source, best_name, best.score if best else 0.0, None, None, None, False)
    published = earliest.published_at
    # Archived from the site, each media is named after its page.
    source_page = source.removesuffix(".mp4") + ".html"
    return DemoRow(
        copy=name,
        edit=edit,
        source=source,
        best_match=best_name,
        score=best.score if best else 0.0,
        segment=describe_segment(best.segments[0]) if best else None,
        earliest_url=earliest.url,
        earliest_published_at=utc_iso(published.value) if published else None,
        ok=best_name == source_page and len(others) == 1 and (earliest.url or "").endswith(source_page),
    )


def run_demo(out_dir: Path, *, on_event: OnEvent | None = None) -> DemoOutcome:
    """Make the clips, publish them on a loopback site, archive the pages, match every edited copy and
    find its earliest appearance; the rows say what was found."""
    _fresh_folder(out_dir)
    site = out_dir / "site"
    make_clips(site / "media")
    root = out_dir / "archive"
    with serve(site) as base, open_archive(root, load_settings(root)) as archive:
        pages = write_pages(site, base)
        urls = [f"{base}/{page}" for page in pages]
        results = list(archive_urls(archive, urls, on_event=on_event))
        failed = [r for r in results if r.status == "failed"]
        if failed:
            raise RuntimeError(f"demo page could not be archived: {failed[0].error}")
        rows = tuple(
            _row(archive, site / "media", name, f"{base}/watch/{name.removesuffix('.mp4')}.html")
            for name in EDITS
        )
        first_copy = f"{base}/watch/{next(iter(EDITS)).removesuffix('.mp4')}.html"
        custody = _custody(archive, out_dir, first_copy)
        return DemoOutcome(archive=root, media=len(archive.catalog.list_media()), rows=rows, custody=custody)


def _custody(archive: Archive, out_dir: Path, copy_url: str) -> DemoCustody:
    """Stamp every capture with a TSA answered in Python on 127.0.0.1 (no `openssl` program needed),
    then export the first copy's cluster as a BagIt bag and verify it.  A step that cannot run is
    said in the notes; the demo goes on."""
    from .custody import loopback_tsa
    from .custody.bags import export_bag, verify_bag
    from .custody.timestamps import stamp_captures
    from .errors import ProvenanceError

    notes, stamps, tsa_url = [], [], None
    try:
        with loopback_tsa.serve() as (tsa_url, authority):
            (out_dir / "demo-tsa-root.pem").write_bytes(authority.root_pem())
            stamps = stamp_captures(archive, tsa_urls=[tsa_url])
    except (ProvenanceError, OSError, ValueError) as exc:
        notes.append(f"no time-stamps: {exc}")
    bag, valid, files = None, False, 0
    try:
        made = export_bag(archive, copy_url, out_dir / "case")
        report = verify_bag(Path(made.path), ca_files=(str(out_dir / "demo-tsa-root.pem"),))
        bag, valid, files = made.path, report.valid, report.files
    except (ProvenanceError, OSError) as exc:
        notes.append(f"no bag: {exc}")
    return DemoCustody(
        tsa_url=tsa_url,
        captures=len(archive.catalog.all_captures()),
        stamped=sum(1 for s in stamps if s.state == "stamped"),
        verified=sum(1 for s in stamps if s.verification and s.verification.verified),
        bag=bag,
        bag_valid=valid,
        bag_files=files,
        notes=tuple(notes),
    )
