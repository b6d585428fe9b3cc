"""Orchestration: the archive handle and the jobs a user runs on it (add, match, info).

Only this module knows the order of stages.  Workers (threads: decoding releases the GIL) compute;
only the calling thread writes to the catalog.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from . import store
from .catalog import Catalog
from .errors import BadInputError, MissingExtraError, ProvenanceError, UsageError
from .fingerprint import fingerprint_frames
from .frames import detect_kind, sample_frames
from .hashing import HASHERS, Hasher
from .index import HashIndex
from .match import match_frames
from .models import AddResult, ArchivedMedia, ErrorInfo, Fingerprint, Match, MediaFile, MediaInfo, Progress
from .settings import Settings, load_settings

OnEvent = Callable[[Progress], None]
DEFAULT_ARCHIVE = Path("provenance-archive")
# Files picked up when a folder is added; files named explicitly are always tried.
MEDIA_EXTENSIONS = {
    "3gp",
    "avi",
    "flv",
    "gif",
    "m2ts",
    "m4v",
    "mkv",
    "mov",
    "mp4",
    "mpeg",
    "mpg",
    "mts",
    "ogv",
    "ts",
    "webm",
    "wmv",
    "bmp",
    "heic",
    "heif",
    "jpeg",
    "jpg",
    "mpo",
    "png",
    "tif",
    "tiff",
    "webp",
}


class Archive:
    """An open archive folder: its root, its catalog and its settings."""

    def __init__(self, root: Path, settings: Settings) -> None:
        self.root = root
        self.settings = settings
        store.prepare_root(root)
        self.catalog = Catalog(root / "catalog.sqlite")
        store.sweep_staging(root)
        self._index: tuple[tuple[str, int, int], HashIndex] | None = None

    def close(self) -> None:
        self.catalog.close()

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def hashers(self) -> list[Hasher]:
        """The configured hashers that can run here (PDQ only with the [pdq] extra)."""
        names = self.settings.hashing.hashers
        unknown = [n for n in names if n not in HASHERS]
        if unknown:
            raise UsageError(f"unknown hasher {unknown[0]!r}; known: {', '.join(HASHERS)}")
        return [HASHERS[n] for n in names if HASHERS[n].available]

    def index(self) -> HashIndex:
        """The search index for the match hasher, rebuilt only when the catalog's fingerprints changed."""
        hasher = _match_hasher(self.settings)
        rate = self.settings.sampling.rate_hz
        checkpoint = (hasher.name, *self.catalog.fingerprint_checkpoint(hasher.name, rate))
        if self._index is None or self._index[0] != checkpoint:
            self._index = (checkpoint, HashIndex(hasher, self.catalog.iter_fingerprints(hasher.name, rate)))
        return self._index[1]


def _match_hasher(settings: Settings) -> Hasher:
    name = settings.match.hasher
    if name not in HASHERS:
        raise UsageError(f"unknown match hasher {name!r}; known: {', '.join(HASHERS)}")
    hasher = HASHERS[name]
    if not hasher.available:
        raise MissingExtraError(
            f"match hasher {name} is not installed", hint=f"pip install 'provenance[{hasher.extra}]'"
        )
    return hasher


def resolve_archive_root(archive: str | os.PathLike[str] | None) -> Path:
    if archive:
        return Path(archive)
    return Path(os.environ.get("PROVENANCE_ARCHIVE") or DEFAULT_ARCHIVE)


def open_archive(path: str | os.PathLike[str] | None = None, settings: Settings | None = None) -> Archive:
    root = resolve_archive_root(path)
    return Archive(root, settings or load_settings(root))


# -- add ---------------------------------------------------------------------------------------------


def expand_inputs(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Files as given, folders walked for media files (sorted, hidden files skipped)."""
    out: list[Path] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            found = sorted(
                p
                for p in path.rglob("*")
                if p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
                and p.suffix.lower().lstrip(".") in MEDIA_EXTENSIONS
            )
            if not found:
                raise BadInputError(f"{path}: folder holds no video or photo files")
            out.extend(found)
        else:
            out.append(path)
    return out


@dataclass(frozen=True, slots=True)
class _Prepared:
    media: MediaFile
    info: MediaInfo
    fingerprints: tuple[Fingerprint, ...]
    source: str


def describe(path: Path, kind: str, sha256: str) -> MediaInfo:
    """What the file says about itself: container tags for videos, EXIF for photos."""
    if kind == "image":
        from .exif import read_exif

        return read_exif(path, sha256)
    from .probe import probe_media

    return probe_media(path, sha256)


def _prepare(archive: Archive, path: Path, hashers: Sequence[Hasher]) -> _Prepared | AddResult:
    """Steps 1-6 of adding one file, safe to run in a worker thread (no catalog writes)."""
    source = str(path.resolve())
    # 1. What it is, from headers only: refuse non-media before reading it all.
    kind = detect_kind(path)
    # 2. Its content address.
    sha256 = store.sha256_file(path)
    # 3. Already archived with every fingerprint? Then only this source is new.
    if Catalog.is_complete(
        archive.catalog.path, sha256, [h.name for h in hashers], archive.settings.sampling.rate_hz
    ):
        return AddResult(path=str(path), status="exists", sha256=sha256, kind=kind)
    ext = store.safe_ext(path.name, "jpg" if kind == "image" else "mp4")
    # 4. A verified copy in staging: what is measured below is exactly what is kept.
    with store.staged_copy(archive.root, path, sha256) as staged:
        # 5. Describe and fingerprint the staged bytes.
        info = describe(staged, kind, sha256)
        frames = sample_frames(staged, kind, archive.settings.sampling)
        fingerprints = fingerprint_frames(sha256, frames, hashers, archive.settings.sampling.rate_hz)
        # 6. Into its content address, read-only.
        rel = store.commit_media(archive.root, staged, sha256, ext)
    media = MediaFile(sha256=sha256, path=rel, size_bytes=path.stat().st_size, kind=kind, ext=ext)
    return _Prepared(media, info, tuple(fingerprints), source)


def _failed(path: Path, exc: ProvenanceError) -> AddResult:
    return AddResult(path=str(path), status="failed", error=ErrorInfo(kind=exc.kind, message=exc.one_line()))


def add_files(
    archive: Archive,
    paths: Iterable[str | os.PathLike[str]],
    *,
    jobs: int | None = None,
    on_event: OnEvent | None = None,
) -> Iterator[AddResult]:
    """Add files and folders to the archive; yield one result per file as each finishes.

    A file's failure never stops the others.  Each file is recorded in one transaction (step 7)
    after its bytes are in place, so a run killed at any point leaves no half-written rows.
    """
    files = expand_inputs(paths)
    hashers = archive.hashers()
    workers = max(1, jobs or archive.settings.batch.jobs)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures: list[tuple[Path, Future[_Prepared | AddResult]]] = [
            (p, pool.submit(_prepare, archive, p, hashers)) for p in files
        ]
        try:
            for done, (path, future) in enumerate(futures, start=1):
                result = _finish(archive, path, future)
                if on_event:
                    on_event(Progress("add", done, len(files), str(path)))
                yield result
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


def _finish(archive: Archive, path: Path, future: Future[_Prepared | AddResult]) -> AddResult:
    try:
        prepared = future.result()
    except ProvenanceError as exc:
        return _failed(path, exc)
    if isinstance(prepared, AddResult):
        archive.catalog.add_source(prepared.sha256 or "", str(path.resolve()))
        return prepared
    # 7. Record media, info, fingerprints and source in one transaction.
    archive.catalog.record_media(prepared.media, prepared.info, prepared.fingerprints, prepared.source)
    return AddResult(path=str(path), status="added", sha256=prepared.media.sha256, kind=prepared.media.kind)


# -- match and info ----------------------------------------------------------------------------------


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
