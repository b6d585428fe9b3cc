"""Fixity: is every kept file still the one recorded?  `check` and `check --repair`.

Every media, capture file, page file, time-stamp file and keyframe the catalog accounts for is
streamed through SHA-256 and compared with its row; the archive's folders are walked for files no
row accounts for and for leftovers of killed runs; every kept time-stamp token is verified again
over its manifest.  Nothing is changed unless `repair` is asked, and then only derived data
(keyframes, the match cache) and leftovers are touched, never media or captures.

Hashing runs on a few threads (hashlib releases the GIL on large buffers), with a bounded number of
files in flight, so memory stays at workers x one read buffer whatever the archive's size.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import threading
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from ..models import Progress
from ..store import pid_alive
from .models import CheckProblem, CheckReport, KeptFile, RepairAction
from .timestamps import manifest_entries, reverify, unchecked

if TYPE_CHECKING:
    from ..pipeline.archive import Archive, OnEvent

READ_BYTES = 4 << 20  # per read: large enough that the hash, not the system call, is the cost
WALKED = ("media", "captures", "keyframes")


def hash_file(path: Path, buffer: bytearray) -> tuple[str, int]:
    """SHA-256 and size of a file, read into ``buffer`` (no allocation per read)."""
    digest = hashlib.sha256()
    view = memoryview(buffer)
    size = 0
    with path.open("rb", buffering=0) as fh:
        if hasattr(os, "posix_fadvise"):
            os.posix_fadvise(fh.fileno(), 0, 0, os.POSIX_FADV_SEQUENTIAL)
        while n := fh.readinto(view):  # type: ignore[attr-defined]
            digest.update(view[:n])
            size += n
    return digest.hexdigest(), size


_local = threading.local()


def _hash_worker(path: Path) -> tuple[str, int]:
    buffer = getattr(_local, "buffer", None)
    if buffer is None:
        buffer = _local.buffer = bytearray(READ_BYTES)
    return hash_file(path, buffer)


def _hash_all(
    root: Path, files: list[KeptFile], workers: int
) -> Iterator[tuple[KeptFile, tuple[str, int] | OSError]]:
    """(file, (sha256, size) or the OSError) for each file, in order; at most 2 x workers in flight."""
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="check") as pool:
        pending: deque[tuple[KeptFile, Future[tuple[str, int]]]] = deque()
        queue = iter(files)
        for kept in queue:
            pending.append((kept, pool.submit(_hash_worker, root / kept.path)))
            if len(pending) >= 2 * workers:
                break
        while pending:
            kept, future = pending.popleft()
            try:
                yield kept, future.result()
            except OSError as exc:
                yield kept, exc
            nxt = next(queue, None)
            if nxt is not None:
                pending.append((nxt, pool.submit(_hash_worker, root / nxt.path)))


def _workers() -> int:
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:
        cpus = os.cpu_count() or 1
    return max(1, min(4, cpus))


def _stat_problem(root: Path, kept: KeptFile) -> CheckProblem | None:
    """A problem seen without reading the file: gone, not a file, or another size."""
    path = root / kept.path
    try:
        stat = path.stat()
    except FileNotFoundError:
        return CheckProblem(
            "missing", kept.path, kept.role, "recorded in the catalog, not on disk", kept.sha256
        )
    except OSError as exc:
        return CheckProblem("unreadable", kept.path, kept.role, exc.strerror or str(exc), kept.sha256)
    if not path.is_file():
        return CheckProblem("changed", kept.path, kept.role, "not a regular file any more", kept.sha256)
    if kept.size_bytes is not None and stat.st_size != kept.size_bytes:
        detail = f"{stat.st_size} bytes, {kept.size_bytes} recorded"
        return CheckProblem("changed", kept.path, kept.role, detail, kept.sha256)
    return None


def _hashed_problem(kept: KeptFile, result: tuple[str, int] | OSError) -> CheckProblem | None:
    if isinstance(result, OSError):
        return CheckProblem("unreadable", kept.path, kept.role, result.strerror or str(result), kept.sha256)
    sha, _ = result
    if kept.sha256 is not None and sha != kept.sha256:
        return CheckProblem(
            "changed", kept.path, kept.role, "the bytes are not the ones recorded", kept.sha256, sha
        )
    return None


def _strays(root: Path, known: set[str]) -> list[CheckProblem]:
    """Files in media/, captures/ and keyframes/ that no row accounts for; half-written files."""
    found = []
    for top in WALKED:
        for dirpath, _dirs, names in os.walk(root / top):
            for name in names:
                rel = (Path(dirpath) / name).relative_to(root).as_posix()
                if rel in known:
                    continue
                role = {"media": "media", "captures": "capture", "keyframes": "keyframe"}[top]
                if name.startswith(".") and name.endswith(".part"):
                    found.append(CheckProblem("staging", rel, "staging", "a write that never finished"))
                else:
                    found.append(CheckProblem("stray", rel, role, "on disk, not in the catalog"))  # type: ignore[arg-type]
    return found


def _staging(root: Path) -> list[CheckProblem]:
    staging = root / "tmp"
    if not staging.is_dir():
        return []
    found = []
    for leftover in sorted(staging.iterdir()):
        pid = leftover.name.split("-", 1)[0]
        if pid.isdigit() and pid_alive(int(pid)):
            continue  # a run that is still going
        found.append(
            CheckProblem("staging", leftover.relative_to(root).as_posix(), "staging", "left by a killed run")
        )
    return found


def _timestamp_problems(archive: Archive, kept: dict[str, KeptFile], damaged: set[str]) -> list[CheckProblem]:
    """Kept tokens verified again over their manifests; manifests compared with the catalog."""
    found = []
    for stamp in archive.catalog.stamps(stamped_only=True):
        if stamp.token_path in damaged or stamp.manifest_path in damaged:
            continue  # already reported as missing or changed
        verification = reverify(archive, stamp)
        if not (verification.verified or unchecked(verification)):
            detail = f"the token of {stamp.tsa_url} does not verify over its manifest: {verification.detail}"
            found.append(CheckProblem("timestamp", stamp.token_path or "", "timestamp", detail))
            continue
        manifest = (archive.root / (stamp.manifest_path or "")).read_bytes()
        for path, sha in manifest_entries(manifest):
            recorded = kept.get(path)
            if recorded is not None and recorded.sha256 not in (None, sha):
                detail = f"the catalog's checksum differs from the one stamped in {stamp.manifest_path}"
                found.append(CheckProblem("timestamp", path, recorded.role, detail, sha, recorded.sha256))
    return found


def check_archive(
    archive: Archive,
    *,
    sample: float = 1.0,
    repair: bool = False,
    seed: int | None = None,
    on_event: OnEvent | None = None,
) -> CheckReport:
    """Re-hash the archive's files against the catalog; see the module docstring.

    ``sample`` in (0, 1]: the share of files read and hashed (chosen at random; ``seed`` repeats a
    choice); every file is still looked for and its size compared.  ``repair`` rebuilds derived data.
    """
    if not 0.0 < sample <= 1.0:
        from ..errors import UsageError

        raise UsageError(f"--sample {sample}: give a share of files in (0, 1], e.g. 0.1")
    started = time.monotonic()
    root = archive.root
    kept = archive.catalog.kept_files()
    by_path = {k.path: k for k in kept}
    problems: list[CheckProblem] = [
        CheckProblem("catalog", "catalog.sqlite", "other", line)
        for line in archive.catalog.integrity_problems()
    ]
    present = []
    for k in by_path.values():
        problem = _stat_problem(root, k)
        (problems.append(problem) if problem else present.append(k))
    chosen = present if sample >= 1.0 else _sample(present, sample, seed)
    hashed_bytes = 0
    for done, (k, result) in enumerate(_hash_all(root, chosen, _workers()), start=1):
        problem = _hashed_problem(k, result)
        if problem:
            problems.append(problem)
        if not isinstance(result, OSError):
            hashed_bytes += result[1]
        if on_event:
            on_event(Progress("check", done, len(chosen), k.path))
    damaged = {p.path for p in problems}
    problems += _strays(root, set(by_path)) + _staging(root) + _timestamp_problems(archive, by_path, damaged)
    repairs = tuple(repair_derived(archive, problems)) if repair else ()
    total = sum((root / k.path).stat().st_size for k in present if (root / k.path).is_file())
    return CheckReport(
        files=len(by_path),
        bytes_total=total,
        hashed_files=len(chosen),
        hashed_bytes=hashed_bytes,
        sample=sample,
        seconds=time.monotonic() - started,
        problems=tuple(problems),
        repairs=repairs,
    )


def _sample(files: list[KeptFile], share: float, seed: int | None) -> list[KeptFile]:
    count = max(1, round(len(files) * share)) if files else 0
    picked = set(random.Random(seed).sample(range(len(files)), count))
    return [f for n, f in enumerate(files) if n in picked]


def repair_derived(archive: Archive, problems: list[CheckProblem]) -> list[RepairAction]:
    """Rebuild what is derived: keyframes whose files are gone or changed are exported again from
    intact media, keyframe files no row accounts for are removed, cached matches of damaged media
    are dropped (made again once the media is restored), leftovers of killed runs are removed,
    the search index is made anew.
    Media, captures, pages and tokens are never touched."""
    from ..pipeline.shots import keyframes_of
    from ..settings import settings_key

    actions: list[RepairAction] = []
    damaged_media = {
        p.path for p in problems if p.role == "media" and p.kind in ("missing", "changed", "unreadable")
    }
    owners = {k.path: k.owner for k in archive.catalog.kept_files()}
    for problem in problems:
        path = archive.root / problem.path
        if problem.kind == "staging":
            shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
            actions.append(RepairAction("removed_staging", problem.path, problem.detail))
        elif problem.kind == "stray" and problem.role == "keyframe":
            path.unlink(missing_ok=True)
            actions.append(RepairAction("removed_stray_keyframe", problem.path, "derived file with no row"))
    broken_keyframes = {
        owners[p.path]
        for p in problems
        if p.role == "keyframe" and p.kind in ("missing", "changed", "unreadable")
    }
    for sha in sorted(broken_keyframes):
        media = archive.catalog.get_media(sha)
        if media is None or str(media.path) in damaged_media:
            continue  # keyframes of damaged media would show the damage: restore the media first
        archive.catalog.record_keyframes(sha, settings_key(archive.settings.keyframes), [])
        found = keyframes_of(archive, sha).keyframes
        actions.append(
            RepairAction(
                "reexported_keyframes", f"keyframes/{sha}", f"{len(found)} keyframes from intact media"
            )
        )
    for sha in sorted({owners[p] for p in damaged_media if p in owners}):
        if dropped := archive.catalog.drop_matches_of([sha]):
            actions.append(
                RepairAction("dropped_matches", sha, f"{dropped} cached match rows of damaged media")
            )
    # The search index is derived from the catalog's fingerprints alone: made anew, it cannot hold
    # a damaged segment (one would be noticed and indexed again anyway; this makes it certain).
    for hasher, index in archive.reindex():
        actions.append(
            RepairAction(
                "rebuilt_index", f"index/{hasher}", f"{len(index)} frames of {len(index.media)} media"
            )
        )
    return actions
