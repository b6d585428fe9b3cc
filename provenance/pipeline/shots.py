"""Keyframes for reverse image search: shots found once per archived media and kept in the archive.

Finding shots decodes the whole video again, so it runs when asked (`keyframes`, `report`), not on
every `add`; for archived media the result is stored under keyframes/<sha256>/ with catalog rows,
and asked again it is read back (unless the keyframe settings changed).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, replace
from pathlib import Path

from .. import store
from ..errors import NotMediaError
from ..keyframes import contact_sheet, export_keyframes, find_shots
from ..models import Keyframe
from ..settings import settings_key
from .archive import Archive
from .query import Target, require_file, resolve_target


@dataclass(frozen=True, slots=True)
class KeyframeSet:
    """The keyframes of one target, with their files (absolute paths) and the contact sheet."""

    target: Target
    keyframes: tuple[Keyframe, ...]
    sheet: Path | None
    stored_in_archive: bool


def _stored(archive: Archive, target: Target) -> list[Keyframe]:
    """Keyframes of an archived media: read back, or found, exported into the archive and recorded."""
    key = settings_key(archive.settings.keyframes)
    kept = archive.catalog.keyframes(target.sha256, key)
    if kept and all((archive.root / k.path).is_file() for k in kept):  # type: ignore[operator]
        return [replace(k, path=archive.root / k.path) for k in kept]  # type: ignore[operator]
    shots = find_shots(target.path, archive.settings.keyframes)
    folder = archive.root / "keyframes" / target.sha256
    written = export_keyframes(target.path, shots, folder)
    current = {k.path for k in written}
    for old in folder.glob("*.jpg"):  # keyframes of earlier settings: derived data, replaced
        if old not in current:
            old.unlink(missing_ok=True)
    relative = [replace(k, path=k.path.relative_to(archive.root)) for k in written]  # type: ignore[union-attr]
    sums = {str(k.path): store.sha256_file(archive.root / k.path) for k in relative}  # type: ignore[operator]
    archive.catalog.record_keyframes(target.sha256, key, relative, sums)
    return written


def keyframes_of(
    archive: Archive, target: str, *, out_dir: Path | None = None, sheet: Path | None = None
) -> KeyframeSet:
    """Shot keyframes of a video (file, URL or sha256): the sharpest frame of each shot, as JPEGs.

    Archived media keep theirs in the archive (copied to ``out_dir`` when one is given); other
    files are exported to ``out_dir``, by default ./keyframes-<first 12 digits of the sha256>.
    """
    resolved = resolve_target(archive, target)
    require_file(resolved, "take keyframes from")
    if resolved.kind != "video":
        raise NotMediaError(f"{target}: a photo has no shots; it is its own keyframe")
    keep = resolved.archived is not None and not archive.catalog.read_only  # derived: kept when it can be
    if keep:
        found = _stored(archive, resolved)
        if out_dir is not None:
            out_dir.mkdir(parents=True, exist_ok=True)
            found = [replace(k, path=Path(shutil.copy2(k.path, out_dir / k.path.name))) for k in found]  # type: ignore[arg-type, union-attr]
    else:
        folder = out_dir or Path(f"keyframes-{resolved.sha256[:12]}")
        found = export_keyframes(resolved.path, find_shots(resolved.path, archive.settings.keyframes), folder)
    made = contact_sheet(found, sheet) if sheet is not None and found else None
    return KeyframeSet(resolved, tuple(found), made, keep)
