"""Questions asked of the archive about one target: what matches it, what it says about itself."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from .. import store
from ..errors import BadInputError
from ..frames import detect_kind, sample_frames
from ..models import ArchivedMedia, Capture, Match, MediaInfo
from .archive import Archive
from .measure import describe

# yt-dlp and the matching stack (the index, alignment) are imported where they are used, so that
# `info` of a file starts without them.


@dataclass(frozen=True, slots=True)
class Target:
    """What a command was pointed at: a file (archived or not) or an archived media by sha256.
    ``label`` is how the user named it, printable (store.printable)."""

    label: str
    path: Path
    kind: str
    sha256: str
    archived: ArchivedMedia | None
    captures: tuple[Capture, ...] = ()


def is_url(text: str) -> bool:
    return text.lower().startswith(("http://", "https://"))


def resolve_target(archive: Archive, target: str) -> Target:
    """A path to a file, an archived URL, or the sha256 (or a unique prefix of 8+ hex digits) of
    archived media."""
    if is_url(target):
        return _archived_url(archive, target)
    resolved = _file_or_sha256(archive, target)
    captures = tuple(archive.catalog.captures(sha256=resolved.sha256)) if resolved.archived else ()
    return replace(resolved, captures=captures)


def _archived_url(archive: Archive, url: str) -> Target:
    """A URL archived before: found by the address as given, else by asking the site which post it is."""
    captures = archive.catalog.captures(url=url)
    if not captures:
        from .. import download

        capture_id = download.capture_id_for(url, archive.settings.download)
        captures = archive.catalog.captures(capture_id=capture_id) if capture_id else []
    if not captures:
        raise BadInputError(f"{url}: not in the archive", hint=f"run: provenance archive {url}")
    sha256 = captures[-1].sha256 or ""
    media = archive.catalog.get_media(sha256)
    if media is None:
        raise BadInputError(f"{url}: its capture has no media in the archive")
    return Target(
        url,
        archive.root / media.path,
        media.kind,
        sha256,
        media,
        tuple(archive.catalog.captures(sha256=sha256)),
    )


def _file_or_sha256(archive: Archive, target: str) -> Target:
    path = Path(target)
    if path.is_file() or path.exists():
        kind = detect_kind(path)
        sha256 = store.sha256_file(path)
        return Target(store.printable(target), path, kind, sha256, archive.catalog.get_media(sha256))
    if 8 <= len(target) <= 64 and all(c in "0123456789abcdefABCDEF" for c in target):
        found = archive.catalog.find_sha256_prefix(target)
        if len(found) == 1:
            media = archive.catalog.get_media(found[0])
            assert media is not None
            return Target(target, archive.root / media.path, media.kind, media.sha256, media)
        if len(found) > 1:
            raise BadInputError(f"{target}: several archived media start with this; give more digits")
    raise BadInputError(f"{target}: no such file, URL or archived sha256")


def find_matches(archive: Archive, target: str) -> tuple[Target, list[Match]]:
    """Every archived media that shares footage with the target, best first."""
    from ..match import query_sampling
    from .imported import match_decoded, match_prints, searchable, stored_prints

    resolved = resolve_target(archive, target)
    where = searchable(archive)
    if resolved.archived is not None and not resolved.archived.has_file:  # imported: its stored hashes
        return resolved, match_prints(stored_prints(archive, resolved.sha256), where)
    sampling = query_sampling(archive.settings.sampling, archive.settings.match)
    frames = sample_frames(resolved.path, resolved.kind, sampling)  # type: ignore[arg-type]
    return resolved, match_decoded(resolved.sha256, frames, where)


def media_info(archive: Archive, target: str) -> tuple[Target, MediaInfo]:
    resolved = resolve_target(archive, target)
    require_file(resolved, "describe")
    return resolved, describe(resolved.path, resolved.kind, resolved.sha256)


def require_file(target: Target, task: str) -> None:
    """Refuse, in one line, a task that needs the footage when the target is only imported hashes."""
    media = target.archived
    if media is not None and media.imported is not None:
        raise BadInputError(
            f"{target.label}: imported fingerprints from {media.imported.source!r}; "
            f"the archive has no file of it to {task}",
            hint="match, earliest and clusters work on it",
        )
