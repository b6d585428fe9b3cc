"""The archive handle: an archive folder opened with its catalog and settings."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from .. import store
from ..catalog import Catalog
from ..errors import ArchiveError, MissingExtraError, UsageError
from ..hashing import HASHERS, Hasher
from ..models import Progress
from ..settings import Settings, load_settings

if TYPE_CHECKING:  # the index is imported by the commands that search, not by `info` or `add --help`
    from ..index import ArchiveIndex, ArchiveStore

OnEvent = Callable[[Progress], None]
DEFAULT_ARCHIVE = Path("provenance-archive")


# How a command opens the archive: "create" it when missing (add, archive, verify), require an
# "existing" one (match, list, earliest, clusters, report: an empty archive made by a mistyped path
# would answer "nothing matches"), or use it when there is one ("optional": info and keyframes of a
# file work without an archive, and leave nothing on disk), or "inspect" an existing one as it is
# (check: nothing is created and leftovers of killed runs are not swept, so that they can be reported).
OpenMode = Literal["create", "existing", "optional", "inspect"]


class Archive:
    """An open archive folder: its root, its catalog and its settings."""

    def __init__(self, root: Path, settings: Settings, mode: OpenMode = "create") -> None:
        self.root = root
        self.settings = settings
        catalog_path = root / "catalog.sqlite"
        if mode != "create" and not catalog_path.is_file():
            if mode in ("existing", "inspect"):
                raise ArchiveError(
                    f"{root}: no archive here", hint="add files or archive URLs first, or give --archive DIR"
                )
            self.catalog = Catalog(Path(":memory:"))  # nothing archived, nothing written
        elif catalog_path.is_file() and not os.access(root, os.W_OK):
            # A read-only archive (a mounted copy of a case): read it, never tidy or write it.
            if mode == "create":
                raise ArchiveError(f"{root}: the archive is read-only", hint="copy it somewhere writable")
            self.catalog = Catalog(catalog_path, read_only=True)
        elif mode == "inspect":
            self.catalog = Catalog(catalog_path)
        else:
            store.prepare_root(root)
            self.catalog = Catalog(catalog_path)
            # What a killed run put in place but never recorded goes first, then its staging files.
            self.forget_unrecorded([note for note, _ in store.stale_intents(root)])
            store.sweep_staging(root)
        self._indexes: dict[str, tuple[tuple[int, int], ArchiveIndex]] = {}

    def forget_unrecorded(self, notes: list[Path]) -> None:
        """Remove the files and folders these intent notes name that the catalog has not recorded."""
        store.remove_unrecorded(
            self.root, notes, lambda target: Catalog.is_recorded(self.catalog.path, target)
        )

    def close(self) -> None:
        try:
            self.flush_indexes()
        finally:
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
        usable = [HASHERS[n] for n in names if HASHERS[n].available]
        if not usable:
            extras = sorted({HASHERS[n].extra for n in names if HASHERS[n].extra})
            raise MissingExtraError(
                f"none of the hashers {list(names)} is installed",
                hint=" or ".join(f"pip install 'provenance[{e}]'" for e in extras) or "set hashing.hashers",
            )
        return usable

    def index(self) -> ArchiveIndex:
        """The search index for the match hasher, in step with the catalog's fingerprints."""
        return self.cached_index(_match_hasher(self.settings))

    def cached_index(self, hasher: Hasher) -> ArchiveIndex:
        """The index of one hasher's fingerprints (the archive's rate; imported ones at any rate).

        Kept in ``<archive>/index/`` (derived data, index/archive_index.py): opened from its files,
        brought in step with the catalog when that changed, new segments written when the archive is
        closed.  An archive in memory (none on disk) or read-only keeps its index in memory."""
        rate = self.settings.sampling.rate_hz
        checkpoint = self.catalog.fingerprint_checkpoint(hasher.name, rate)
        cached = self._indexes.get(hasher.name)
        if cached is not None and cached[0] == checkpoint:
            return cached[1]
        alive = {fid: sha for sha, fid in self.catalog.fingerprint_ids(hasher.name, rate).items()}
        source = lambda ids: self.catalog.fingerprints_by_id(hasher.name, rate, ids)  # noqa: E731
        if cached is None:
            index = self._index_store(hasher).open(alive, source, search=self.settings.match.search)
        else:
            index = cached[1]
            index.sync(alive, source)
        self._indexes[hasher.name] = (checkpoint, index)
        return index

    def _index_store(self, hasher: Hasher) -> ArchiveStore:
        from ..index import ArchiveStore

        rate = self.settings.sampling.rate_hz
        writable = self.catalog.path != Path(":memory:") and not self.catalog.read_only
        return ArchiveStore(self.root / "index" / f"{hasher.name}@{rate:g}", hasher, rate, writable=writable)

    def flush_indexes(self) -> None:
        """Write the index segments made in memory since the archive was opened."""
        for name, (_, index) in self._indexes.items():
            self._index_store(HASHERS.get(name) or index.hasher).flush(index)

    def reindex(self) -> list[tuple[str, ArchiveIndex]]:
        """Make every hasher's index anew from the catalog's fingerprints: (hasher name, index)."""
        self._indexes.clear()
        rebuilt = []
        for hasher in HASHERS.values():
            self._index_store(hasher).clear()
            if self.catalog.fingerprint_checkpoint(hasher.name, self.settings.sampling.rate_hz)[1]:
                rebuilt.append((hasher.name, self.cached_index(hasher)))
        self.flush_indexes()
        return rebuilt


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


def open_archive(
    path: str | os.PathLike[str] | None = None, settings: Settings | None = None, *, mode: OpenMode = "create"
) -> Archive:
    root = resolve_archive_root(path)
    return Archive(root, settings or load_settings(root), mode)
