"""What the HTML report shows about a cluster: the timeline plus pictures and custody facts.

Pictures come from `keyframes` (shot keyframes of the likely original, one frame per member at the
footage it shares) when that module offers `find_shots`/`export_keyframes`, else from the sampled
grey frames of `frames`.  Every picture is optional: a report without pictures is still a report.
"""

from __future__ import annotations

import importlib
import io
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

from PIL import Image

from ..download import tool_versions
from ..errors import BadInputError, ProvenanceError
from ..frames import sample_frames
from ..models import ArchivedMedia, Cluster, Evidence, Keyframe, Still
from .archive import Archive, OnEvent
from .clusters import build_timeline

KEYFRAMES_SHOWN = 6  # shot keyframes of the likely original in the report
THUMB_SIDE = 480  # longest side of each embedded picture, pixels


def _keyframes_module() -> ModuleType | None:
    """`provenance.keyframes` when it offers shot detection and export (it is optional here)."""
    try:
        module = importlib.import_module("provenance.keyframes")
    except ImportError:
        return None
    return module if hasattr(module, "find_shots") and hasattr(module, "export_keyframes") else None


def _jpeg(image: Image.Image) -> bytes:
    image.thumbnail((THUMB_SIDE, THUMB_SIDE))
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def _exported(module: ModuleType, path: Path, media: ArchivedMedia, times_ms: list[int]) -> list[Still]:
    """Frames at these times, upright and in colour, through `keyframes.export_keyframes`."""
    wanted = [Keyframe(t_ms=t, shot_index=n, sharpness=0.0) for n, t in enumerate(times_ms)]
    with tempfile.TemporaryDirectory(prefix="provenance-report-") as tmp:
        written = module.export_keyframes(path, wanted, Path(tmp))
        stills = []
        for k in written:
            with Image.open(k.path) as img:
                stills.append(Still(media.sha256, k.t_ms, _jpeg(img), "keyframe"))
    return stills


def _sampled(archive: Archive, path: Path, media: ArchivedMedia, t_ms: int) -> Still:
    """The sampled (grey, small) frame nearest t_ms: what the fingerprint saw."""
    frames = sample_frames(path, media.kind, archive.settings.sampling)
    frame = min(frames, key=lambda f: abs(f.t_ms - t_ms))
    source = "photo" if media.kind == "image" else "frame"
    return Still(media.sha256, frame.t_ms, _jpeg(Image.fromarray(frame.grey)), source)


def _thumbnail(archive: Archive, module: ModuleType | None, media: ArchivedMedia, t_ms: int) -> Still | None:
    path = archive.root / media.path
    if module is not None and media.kind == "video":
        try:
            return _exported(module, path, media, [t_ms])[0]
        except (ProvenanceError, OSError, IndexError):
            pass  # fall back to the sampled frame
    try:
        return _sampled(archive, path, media, t_ms)
    except (ProvenanceError, OSError):
        return None  # a missing picture is shown as such; the facts still stand


def _shot_keyframes(archive: Archive, module: ModuleType | None, media: ArchivedMedia) -> list[Still]:
    if module is None or media.kind != "video":
        return []
    path = archive.root / media.path
    try:
        found = module.find_shots(path, archive.settings.keyframes)
        step = max(1, len(found) // KEYFRAMES_SHOWN)
        return _exported(module, path, media, [k.t_ms for k in found[::step][:KEYFRAMES_SHOWN]])
    except (ProvenanceError, OSError):
        return []


def _shown_at(cluster: Cluster, media: ArchivedMedia) -> int:
    """Where a member shows the shared footage: the middle of its first segment against the original
    (a compilation's first seconds may be other footage), else the middle of the file."""
    for a in cluster.appearances:
        if a.sha256 == media.sha256 and a.segments:
            s = a.segments[0]
            return (s.query_start_ms + s.query_end_ms) // 2
    return int((media.duration_s or 0.0) * 500)


def gather_evidence(archive: Archive, target: str, *, on_event: OnEvent | None = None) -> Evidence:
    """The cluster of the target with the pictures and custody facts the report shows."""
    _, cluster = build_timeline(archive, target, on_event=on_event)
    if cluster is None:
        raise BadInputError(
            f"{target}: no archived media shares this footage", hint="archive the copies first"
        )
    media = tuple(m for sha in cluster.members if (m := archive.catalog.get_media(sha)) is not None)
    module = _keyframes_module()
    original = next(m for m in media if m.sha256 == cluster.likely_original)
    thumbs = (_thumbnail(archive, module, m, _shown_at(cluster, m)) for m in media)
    return Evidence(
        query=target,
        cluster=cluster,
        media=media,
        keyframes=tuple(_shot_keyframes(archive, module, original)),
        thumbnails=tuple(t for t in thumbs if t is not None),
        tool_versions=tool_versions(),
        generated_at=datetime.now(UTC),
    )
