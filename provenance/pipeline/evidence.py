"""What the HTML report shows about a cluster: the timeline plus pictures and custody facts.

Pictures come from `keyframes`: the shot keyframes of the likely original (kept in the archive, see
`shots.py`) and one frame per member at the footage it shares, else the sampled grey frame of
`frames`.  Every picture is optional: a report without pictures is still a report.
"""

from __future__ import annotations

import io
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from PIL import Image

from ..download import tool_versions
from ..errors import BadInputError, ProvenanceError
from ..frames import sample_frames
from ..keyframes import export_keyframes
from ..models import ArchivedMedia, Cluster, Evidence, Keyframe, Still
from .archive import Archive, OnEvent
from .clusters import build_timeline
from .shots import keyframes_of

KEYFRAMES_SHOWN = 6  # shot keyframes of the likely original in the report
THUMB_SIDE = 480  # longest side of each embedded picture, pixels


def _jpeg(image: Image.Image) -> bytes:
    image.thumbnail((THUMB_SIDE, THUMB_SIDE))
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def _exported(path: Path, media: ArchivedMedia, times_ms: list[int]) -> list[Still]:
    """Frames at these times, upright and in colour, through `keyframes.export_keyframes`."""
    wanted = [Keyframe(t_ms=t, shot_index=n, sharpness=0.0) for n, t in enumerate(times_ms)]
    with tempfile.TemporaryDirectory(prefix="provenance-report-") as tmp:
        written = export_keyframes(path, wanted, Path(tmp))
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


def _thumbnail(archive: Archive, media: ArchivedMedia, t_ms: int) -> Still | None:
    if not media.has_file:
        return None  # imported fingerprints: no footage to show
    path = archive.root / media.path
    if media.kind == "video":
        try:
            return _exported(path, media, [t_ms])[0]
        except (ProvenanceError, OSError, IndexError):
            pass  # fall back to the sampled frame
    try:
        return _sampled(archive, path, media, t_ms)
    except (ProvenanceError, OSError):
        return None  # a missing picture is shown as such; the facts still stand


def _shot_keyframes(archive: Archive, media: ArchivedMedia) -> list[Still]:
    """Up to KEYFRAMES_SHOWN of the media's stored shot keyframes, spread over its length."""
    if media.kind != "video" or not media.has_file:
        return []
    try:
        found = keyframes_of(archive, media.sha256).keyframes
    except (ProvenanceError, OSError):
        return []
    stills = []
    for k in found[:: max(1, len(found) // KEYFRAMES_SHOWN)][:KEYFRAMES_SHOWN]:
        with Image.open(k.path) as img:  # type: ignore[arg-type]
            stills.append(Still(media.sha256, k.t_ms, _jpeg(img), "keyframe"))
    return stills


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
    original = next(m for m in media if m.sha256 == cluster.likely_original)
    thumbs = (_thumbnail(archive, m, _shown_at(cluster, m)) for m in media)
    folders = [c.folder or "" for sha in cluster.members for c in archive.catalog.captures(sha256=sha)]
    return Evidence(
        query=target,
        cluster=cluster,
        media=media,
        keyframes=tuple(_shot_keyframes(archive, original)),
        thumbnails=tuple(t for t in thumbs if t is not None),
        tool_versions=tool_versions(),
        generated_at=datetime.now(UTC),
        pages=tuple(p for f in folders if (p := archive.catalog.page_of(f)) is not None),
        stamps=tuple(s for f in folders for s in archive.catalog.stamps(f, stamped_only=True)),
    )
