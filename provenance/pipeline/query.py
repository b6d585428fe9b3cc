"""Questions asked of the archive about one target: what matches it, what it says about itself."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .. import store
from ..errors import BadInputError
from ..frames import detect_kind, sample_frames
from ..match import match_frames
from ..models import ArchivedMedia, Match, MediaInfo
from .archive import Archive
from .ingest import describe


@dataclass(frozen=True, slots=True)
class Target:
    """What a command was pointed at: a file (archived or not) or an archived media by sha256."""

    label: str
    path: Path
    kind: str
    sha256: str
    archived: ArchivedMedia | None


def resolve_target(archive: Archive, target: str) -> Target:
    """A path to a file, or the sha256 (or a unique prefix of 8+ hex digits) of archived media."""
    path = Path(target)
    if path.is_file() or path.exists():
        kind = detect_kind(path)
        sha256 = store.sha256_file(path)
        return Target(target, path, kind, sha256, archive.catalog.get_media(sha256))
    if 8 <= len(target) <= 64 and all(c in "0123456789abcdefABCDEF" for c in target):
        found = archive.catalog.find_sha256_prefix(target)
        if len(found) == 1:
            media = archive.catalog.get_media(found[0])
            assert media is not None
            return Target(target, archive.root / media.path, media.kind, media.sha256, media)
        if len(found) > 1:
            raise BadInputError(f"{target}: several archived media start with this; give more digits")
    raise BadInputError(f"{target}: no such file, and no archived media has this sha256")


def find_matches(archive: Archive, target: str) -> tuple[Target, list[Match]]:
    """Every archived media that shares footage with the target, best first."""
    resolved = resolve_target(archive, target)
    frames = sample_frames(resolved.path, resolved.kind, archive.settings.sampling)  # type: ignore[arg-type]
    index = archive.index()
    paths = {m.sha256: archive.root / m.path for m in archive.catalog.list_media()}
    matches = match_frames(
        resolved.sha256, frames, index, paths, archive.settings.match, archive.settings.sampling.rate_hz
    )
    return resolved, matches


def media_info(archive: Archive, target: str) -> tuple[Target, MediaInfo]:
    resolved = resolve_target(archive, target)
    return resolved, describe(resolved.path, resolved.kind, resolved.sha256)
