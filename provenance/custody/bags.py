"""A case as a BagIt bag (RFC 8493, the Library of Congress's format), and the check of one.

`export` puts one cluster's evidence in a bag: its media, every capture of them (platform files,
pages, time-stamp tokens with their manifests and chains), the HTML report, and `case.json` (the
cluster, its captures, stamps, pages and availability histories).  Paths inside ``data/`` are the
archive's own, so a stamped manifest's paths name the bag's files.  Every file is checked against
the catalog while it is copied: a damaged file stops the export and is named.  The bag is written
under a temporary name beside the target and renamed once complete.

`verify-bag` validates a received bag with the `bagit` package (every payload file against
manifest-sha256.txt, the tag files against tagmanifest-sha256.txt) and names each file that fails;
it then verifies each time-stamp token in the bag over its manifest, and each manifest line over
the bag's files.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import bagit

from ..errors import BadInputError, UsageError
from ..models import Cluster, utc_iso
from ..report import write_html
from ..report_timeline import cluster_record
from .models import BagProblem, BagReport, ExportedBag
from .timestamps import load_roots, manifest_entries, unchecked, verify_token

if TYPE_CHECKING:
    from ..pipeline.archive import Archive, OnEvent

CASE_NAME = "case.json"
REPORT_NAME = "report.html"
_HEX = re.compile(r"[0-9a-f]{8,64}")
COPY_BYTES = 4 << 20


def _copy_verified(src: Path, dst: Path, expected: str | None, rel: str) -> int:
    """Copy a file while hashing it; refuse one whose bytes are not the recorded ones."""
    digest = hashlib.sha256()
    dst.parent.mkdir(parents=True, exist_ok=True)
    size = 0
    try:
        with src.open("rb") as fin, dst.open("wb") as fout:
            while chunk := fin.read(COPY_BYTES):
                digest.update(chunk)
                fout.write(chunk)
                size += len(chunk)
    except FileNotFoundError:
        raise BadInputError(f"{rel}: missing from the archive", hint="run provenance check") from None
    if expected is not None and digest.hexdigest() != expected:
        raise BadInputError(
            f"{rel}: the bytes are not the ones recorded, not exported", hint="run provenance check"
        )
    return size


def find_cluster(archive: Archive, target: str, on_event: OnEvent | None = None) -> Cluster:
    """A cluster by (a prefix of) its id, else the cluster of a URL, file or media sha256."""
    from ..pipeline.clusters import build_timeline, list_clusters

    if _HEX.fullmatch(target.lower()):
        found = [
            c
            for c in list_clusters(archive, singletons=True, on_event=on_event)
            if c.cluster_id.startswith(target.lower())
        ]
        if len(found) == 1:
            return found[0]
    _, cluster = build_timeline(archive, target, on_event=on_event)
    if cluster is None:
        raise BadInputError(
            f"{target}: no archived media shares this footage", hint="give a cluster id or an archived URL"
        )
    return cluster


def _case(archive: Archive, cluster: Cluster, captures: list[Any]) -> dict[str, Any]:
    from ..report_custody import availability_check_record, page_record, stamp_record

    return {
        "format": "provenance case 1",
        "generated_at": utc_iso(datetime.now(UTC)),
        "cluster": cluster_record(cluster),
        "captures": [
            {
                "capture_id": c.capture_id,
                "url": c.url,
                "folder": c.folder,
                "sha256": c.sha256,
                "captured_at": utc_iso(c.captured_at),
                "files": [{"name": n, "sha256": s} for n, s in c.files],
                "page": page_record(archive.catalog.page_of(c.folder or "")),
                "timestamps": [
                    stamp_record(s, c.url) for s in archive.catalog.stamps(c.folder, stamped_only=True)
                ],
                "availability": [
                    availability_check_record(a) for a in archive.catalog.availability_history(c.capture_id)
                ],
            }
            for c in captures
        ],
    }


def export_bag(archive: Archive, target: str, out: Path, *, on_event: OnEvent | None = None) -> ExportedBag:
    """Write the cluster of ``target`` (a cluster id, an archived URL, a file or a sha256) as a bag."""
    from .. import __version__
    from ..pipeline.evidence import gather_evidence

    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UsageError(f"{out}: exists and is not empty; give a new folder for the bag")
    cluster = find_cluster(archive, target, on_event)
    members = set(cluster.members)
    captures = [c for c in archive.catalog.all_captures() if c.sha256 in members]
    folders = {c.folder for c in captures}
    wanted = [
        k
        for k in archive.catalog.kept_files()
        if (k.role == "media" and k.owner in members)
        or (k.role in ("capture", "page", "timestamp") and k.owner in folders)
    ]
    out.parent.mkdir(parents=True, exist_ok=True)
    work = out.parent / f".{out.name}.partial-{secrets.token_hex(4)}"
    work.mkdir()
    try:
        total = sum(_copy_verified(archive.root / k.path, work / k.path, k.sha256, k.path) for k in wanted)
        evidence = gather_evidence(archive, cluster.likely_original, on_event=on_event)
        write_html(evidence, work / REPORT_NAME)
        (work / CASE_NAME).write_text(
            json.dumps(_case(archive, cluster, captures), indent=2, ensure_ascii=False) + "\n"
        )
        info = {
            "Source-Organization": "provenance",
            "Bag-Software-Agent": f"provenance {__version__} (bagit {bagit.VERSION})",
            "External-Description": f"Footage cluster {cluster.cluster_id}: {len(members)} media, "
            f"{len(cluster.appearances)} appearances",
            "External-Identifier": cluster.cluster_id,
            "Bagging-Date": datetime.now(UTC).strftime("%Y-%m-%d"),
        }
        bagit.make_bag(str(work), info, processes=1, checksums=["sha256"])
        if out.exists():
            out.rmdir()
        work.rename(out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    stamps = sum(len(archive.catalog.stamps(c.folder, stamped_only=True)) for c in captures)
    pages = sum(1 for c in captures if archive.catalog.page_of(c.folder or ""))
    return ExportedBag(
        str(out),
        cluster.cluster_id,
        tuple(sorted(members)),
        len(wanted) + 2,
        total,
        len(captures),
        stamps,
        pages,
    )


def _detail_problems(error: bagit.BagValidationError) -> list[BagProblem]:
    found = []
    for d in error.details or []:
        if isinstance(d, bagit.ChecksumMismatch):
            found.append(
                BagProblem(d.path, f"changed: {d.algorithm} {d.found}, the manifest says {d.expected}")
            )
        elif isinstance(d, bagit.FileMissing):
            found.append(BagProblem(d.path, "in the manifest, missing from the bag"))
        elif isinstance(d, bagit.UnexpectedFile):
            found.append(BagProblem(d.path, "in the bag, not in the manifest"))
        else:
            found.append(BagProblem(getattr(d, "path", ""), str(d)))
    return found


def _named_problems(bag: bagit.Bag) -> list[BagProblem]:
    """Each payload file against the manifest, for a failure bagit reports without naming files
    (a Payload-Oxum of another size)."""
    root = Path(bag.path)
    found = []
    listed = set()
    for rel, sums in bag.entries.items():
        if not rel.startswith("data/") or "sha256" not in sums:
            continue
        listed.add(rel)
        path = root / rel
        if not path.is_file():
            found.append(BagProblem(rel, "in the manifest, missing from the bag"))
        elif (sha := _sha_of(path)) != sums["sha256"]:
            found.append(BagProblem(rel, f"changed: sha256 {sha}, the manifest says {sums['sha256']}"))
    for path in (root / "data").rglob("*"):
        rel = path.relative_to(root).as_posix()
        if path.is_file() and rel not in listed:
            found.append(BagProblem(rel, "in the bag, not in the manifest"))
    return found


def _sha_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(COPY_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def verify_bag(path: Path, *, ca_files: tuple[str, ...] = ()) -> BagReport:
    """Validate a bag and the time-stamps inside it; the report names every file that fails."""
    try:
        bag = bagit.Bag(str(path))
    except bagit.BagError as exc:
        raise BadInputError(f"{path}: not a BagIt bag ({exc})") from None
    problems: list[BagProblem] = []
    try:
        bag.validate(processes=1)
    except bagit.BagValidationError as exc:
        problems = _detail_problems(exc) or _named_problems(bag) or [BagProblem("", str(exc.message))]
    files = [p for p in (path / "data").rglob("*") if p.is_file()]
    checked = verified = 0
    case = path / "data" / CASE_NAME
    if case.is_file() and not any(p.path == f"data/{CASE_NAME}" for p in problems):
        checked, verified, stamp_problems = _verify_stamps(path, case, load_roots(ca_files), bag.entries)
        problems += stamp_problems
    return BagReport(
        str(path),
        len(files),
        sum(p.stat().st_size for p in files),
        tuple(problems),
        checked,
        verified,
        tuple((str(k), str(v)) for k, v in bag.info.items()),
    )


def _verify_stamps(path: Path, case: Path, roots: list, entries: dict) -> tuple[int, int, list[BagProblem]]:
    try:
        captures = json.loads(case.read_text("utf-8")).get("captures", [])
    except (OSError, ValueError, AttributeError):
        return 0, 0, [BagProblem(f"data/{CASE_NAME}", "not readable as JSON")]
    checked = verified = 0
    problems = []
    for capture in captures:
        for stamp in capture.get("timestamps", []):
            token, manifest = (
                path / "data" / str(stamp["token_path"]),
                path / "data" / str(stamp["manifest_path"]),
            )
            checked += 1
            try:
                result = verify_token(token.read_bytes(), manifest.read_bytes(), roots)
            except OSError:
                problems.append(
                    BagProblem(f"data/{stamp['token_path']}", "a listed time-stamp token is missing")
                )
                continue
            if not (result.verified or unchecked(result)):
                problems.append(
                    BagProblem(f"data/{stamp['token_path']}", f"does not verify: {result.detail}")
                )
                continue
            verified += result.verified
            for rel, sha in manifest_entries(manifest.read_bytes()):
                listed = entries.get(f"data/{rel}", {}).get("sha256")
                if listed != sha:
                    problems.append(
                        BagProblem(f"data/{rel}", f"not the file stamped in {stamp['manifest_path']}")
                    )
    return checked, verified, problems
