"""The archive folder: content-addressed originals, atomic writes, names never taken from titles.

Layout::

    <root>/catalog.sqlite              the catalog (see catalog.py)
    <root>/media/ab/cd/<sha256>.<ext>  original bytes, read-only once written
    <root>/captures/<capture-id>/      platform info.json, thumbnails, description
    <root>/keyframes/<sha256>/<ms>.jpg keyframes
    <root>/tmp/                        staging: files are written and fsynced here, then renamed

Staging lives in one folder (not beside each target) so that leftovers of a killed run are found
without walking the whole media tree; it is on the same file system, so the rename is atomic.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import shutil
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import ArchiveError, BadInputError, NotMediaError

CHUNK = 1 << 20
_SAFE_EXT = re.compile(r"^[a-z0-9]{1,8}$")


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def printable(text: str) -> str:
    """A file name as text that can be printed and stored on one line: bytes that are not UTF-8
    (which Python keeps as lone surrogates) and control characters (a newline, a terminal escape in
    a hostile name) are shown as ``\\xNN`` escapes instead of breaking output, lines or SQLite."""
    text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def display_path(path: Path | str) -> str:
    return printable(str(path))


def require_file(path: Path) -> int:
    """The size of a readable, non-empty regular file; the right error otherwise."""
    shown = display_path(path)
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise BadInputError(f"{shown}: no such file", hint="check the path") from None
    except OSError as exc:
        raise BadInputError(f"{shown}: cannot read ({exc.strerror or exc})") from None
    if not path.is_file():
        raise BadInputError(f"{shown}: not a regular file (a folder, a device, a pipe)")
    if stat.st_size == 0:
        raise NotMediaError(f"{shown}: empty file (0 bytes), not media")
    try:  # regular files only: opening a pipe would wait for a writer
        path.open("rb").close()
    except OSError as exc:
        raise BadInputError(
            f"{shown}: cannot read ({exc.strerror or exc})", hint="check its permissions"
        ) from None
    return stat.st_size


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(CHUNK):
                digest.update(chunk)
    except OSError as exc:
        raise BadInputError(f"{path}: cannot be read ({exc.strerror})") from None
    return digest.hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def safe_ext(name: str, fallback: str) -> str:
    """The file's own extension when it is short and plain, else the fallback (e.g. 'mp4')."""
    ext = Path(name).suffix.lower().lstrip(".")
    return ext if _SAFE_EXT.match(ext) else fallback


def media_relpath(sha256: str, ext: str) -> Path:
    if not re.fullmatch(r"[0-9a-f]{64}", sha256):
        raise ValueError(f"not a sha256: {sha256!r}")
    return Path("media") / sha256[:2] / sha256[2:4] / f"{sha256}.{ext}"


def prepare_root(root: Path) -> None:
    try:
        for sub in ("media", "captures", "keyframes", "tmp"):
            (root / sub).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ArchiveError(f"{root}: cannot create the archive folder ({exc.strerror})") from None


def sweep_staging(root: Path) -> int:
    """Remove staging files left by runs that are no longer alive; return how many."""
    removed = 0
    staging = root / "tmp"
    if not staging.is_dir():
        return 0
    for leftover in staging.iterdir():
        pid_text = leftover.name.split("-", 1)[0]
        if pid_text.isdigit() and pid_alive(int(pid_text)):
            continue
        if leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)
        removed += 1
    return removed


def pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# Intents: before a worker puts a media file or a capture folder in place, it leaves a note in staging
# saying what it is about to put where; the note goes once the catalog row is committed.  A run killed
# in between leaves the note behind, and the next run removes whatever the catalog never recorded, so
# no bytes stay in the archive without a row.  Notes are named like every staging file, so a live
# run's notes are told from a dead one's by the pid.
INTENT_SUFFIX = ".intent"


def write_intent(root: Path, target: Path) -> Path:
    """Note in staging that ``target`` (relative to the root) is about to be put in place."""
    note = staging_path(root, INTENT_SUFFIX)
    with note.open("w", encoding="utf-8") as fh:
        fh.write(target.as_posix())
        fh.flush()
        os.fsync(fh.fileno())
    return note


def _intents(root: Path) -> Iterator[tuple[Path, Path, bool]]:
    """(note, target, written by a live run) for every intent note in staging."""
    staging = root / "tmp"
    if not staging.is_dir():
        return
    for note in staging.glob(f"*{INTENT_SUFFIX}"):
        pid_text = note.name.split("-", 1)[0]
        try:
            target = Path(note.read_text(encoding="utf-8").strip())
        except (OSError, UnicodeDecodeError):
            target = Path()
        yield note, target, pid_text.isdigit() and pid_alive(int(pid_text))


def stale_intents(root: Path) -> list[tuple[Path, Path]]:
    """(note, target) of intents left by runs that are no longer alive."""
    return [(note, target) for note, target, live in _intents(root) if not live]


def remove_unrecorded(root: Path, notes: list[Path], recorded: Callable[[Path], bool]) -> None:
    """Undo intents: remove each noted target the catalog has not recorded, then the notes.

    A target another live run has also noted is left alone (it may be about to record it).
    """
    mine = set(notes)
    others = {target for note, target, live in _intents(root) if live and note not in mine}
    for note in notes:
        try:
            target = Path(note.read_text(encoding="utf-8").strip())
        except (OSError, UnicodeDecodeError):
            note.unlink(missing_ok=True)
            continue
        if _inside(root, target) and target not in others and not recorded(target):
            place = root / target
            if place.is_dir():
                shutil.rmtree(place, ignore_errors=True)
            else:
                place.unlink(missing_ok=True)
        note.unlink(missing_ok=True)


def _inside(root: Path, target: Path) -> bool:
    """Only media and capture paths are ever noted; anything else in a note is not ours to remove."""
    parts = target.parts
    return (
        bool(parts) and parts[0] in ("media", "captures") and ".." not in parts and not target.is_absolute()
    )


def clear_intents(notes: list[Path]) -> None:
    """The targets are recorded: the notes go."""
    for note in notes:
        note.unlink(missing_ok=True)


def staging_path(root: Path, suffix: str = "") -> Path:
    """A fresh name in the staging folder, prefixed with our pid so a later run can tell it is stale."""
    return root / "tmp" / f"{os.getpid()}-{secrets.token_hex(8)}{suffix}"


def fsync_path(folder: Path) -> None:
    """Flush a file or folder (a folder: the names in it) to the disk."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def staged_copy(root: Path, src: Path, expected_sha256: str) -> Iterator[Path]:
    """Copy ``src`` into staging while hashing it; yield the staged path; remove it on exit.

    The copy is checked against ``expected_sha256`` so a file that changed while being added is
    refused instead of being archived under the wrong address.
    """
    staged = staging_path(root, src.suffix.lower() if _SAFE_EXT.match(src.suffix.lower()[1:]) else "")
    digest = hashlib.sha256()
    try:
        with src.open("rb") as fin, staged.open("wb") as fout:
            while chunk := fin.read(CHUNK):
                digest.update(chunk)
                fout.write(chunk)
            fout.flush()
            os.fsync(fout.fileno())
        if digest.hexdigest() != expected_sha256:
            raise BadInputError(f"{src}: the file changed while it was being added; add it again")
        yield staged
    finally:
        staged.unlink(missing_ok=True)


def commit_media(root: Path, staged: Path, sha256: str, ext: str) -> Path:
    """Move a staged, verified copy to its content address (read-only); return the relative path.

    When the address is already taken by a complete earlier copy (a run killed after the rename but
    before the catalog commit), that copy is kept: same address, same bytes.
    """
    rel = media_relpath(sha256, ext)
    target = root / rel
    if target.exists() and target.stat().st_size == staged.stat().st_size:
        return rel
    target.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(staged, 0o444)
    os.replace(staged, target)
    fsync_path(target.parent)
    return rel


def write_atomic(target: Path, data: bytes) -> Path:
    """Write a small file (info.json, a keyframe, a report) under a temporary name beside it, fsync,
    rename: a reader never sees half a file, and a failed write leaves the old one in place."""
    return write_chunks_atomic(target, [data])


def write_lines_atomic(target: Path, lines: Iterable[str]) -> Path:
    """Stream text lines (UTF-8) the same way: a file too large to hold in memory (an exported hash
    list) is written whole or not at all."""
    return write_chunks_atomic(target, (line.encode("utf-8") for line in lines))


def write_chunks_atomic(target: Path, chunks: Iterable[bytes]) -> Path:
    staged = target.parent / f".{target.name}.{secrets.token_hex(4)}.part"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with staged.open("wb") as fh:
            for chunk in chunks:
                fh.write(chunk)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(staged, target)
        fsync_path(target.parent)
    except OSError as exc:
        raise ArchiveError(
            f"{target}: cannot write ({exc.strerror or exc})", hint="check the folder"
        ) from None
    finally:
        staged.unlink(missing_ok=True)
    return target
