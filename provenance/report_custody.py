"""Custody results for people and scripts: the JSON records of `check`, `timestamp`, `recheck`,
`export` and `verify-bag` (the --json contract in the README) and the lines the CLI prints."""

from __future__ import annotations

from collections import Counter
from typing import Any

from .custody.models import (
    AvailabilityCheck,
    BagReport,
    CheckProblem,
    CheckReport,
    ExportedBag,
    PageCapture,
    RepairAction,
    Stamp,
)
from .models import Availability, to_jsonable, utc_iso
from .report_timeline import gone_text

__all__ = ["gone_text"]


def problem_record(problem: CheckProblem) -> dict[str, Any]:
    return to_jsonable(problem)


def repair_record(action: RepairAction) -> dict[str, Any]:
    return to_jsonable(action)


def check_summary(report: CheckReport) -> dict[str, Any]:
    seconds = max(report.seconds, 1e-9)
    return {
        "type": "check_summary",
        "clean": report.clean,
        "files": report.files,
        "bytes_total": report.bytes_total,
        "hashed_files": report.hashed_files,
        "hashed_bytes": report.hashed_bytes,
        "sample": report.sample,
        "seconds": round(report.seconds, 3),
        "mb_per_s": round(report.hashed_bytes / 1e6 / seconds, 1),
        "problems": len(report.problems),
        "by_kind": dict(sorted(Counter(p.kind for p in report.problems).items())),
        "repairs": len(report.repairs),
    }


def problem_line(problem: CheckProblem) -> str:
    return f"{problem.kind:<10} {problem.role:<9} {problem.path}: {problem.detail}"


def check_summary_line(report: CheckReport) -> str:
    s = check_summary(report)
    sampled = "" if report.sample >= 1.0 else f" (a {report.sample:.0%} sample)"
    verdict = "clean" if report.clean else ", ".join(f"{n} {kind}" for kind, n in s["by_kind"].items())
    return (
        f"{s['files']} files, {s['hashed_files']} hashed{sampled}: {s['hashed_bytes'] / 1e6:.1f} MB"
        f" in {s['seconds']:.1f} s ({s['mb_per_s']} MB/s); {verdict}"
    )


def stamp_record(stamp: Stamp, url: str | None = None) -> dict[str, Any]:
    v = stamp.verification
    return {
        "type": "stamp",
        "capture_id": stamp.capture_id,
        "url": url,
        "capture_folder": stamp.capture_folder,
        "tsa_url": stamp.tsa_url,
        "state": stamp.state,
        "attempted_at": utc_iso(stamp.attempted_at),
        "gen_time": utc_iso(v.gen_time) if v and v.gen_time else None,
        "verified": v.verified if v else False,
        "root_trusted": v.root_trusted if v else False,
        "root_subject": v.root_subject if v else None,
        "serial_number": v.serial_number if v else None,
        "manifest_path": stamp.manifest_path,
        "manifest_sha256": stamp.manifest_sha256,
        "token_path": stamp.token_path,
        "chain_path": stamp.chain_path,
        "verification_path": stamp.verification_path,
        "error": stamp.error,
    }


def stamp_line(stamp: Stamp, url: str | None = None) -> str:
    v = stamp.verification
    if stamp.state == "failed":
        return f"failed   {url or stamp.capture_id}: {stamp.error}"
    trust = "trusted root" if v and v.root_trusted else "root not in timestamp.ca_files"
    when = utc_iso(v.gen_time) if v and v.gen_time else "-"
    return f"stamped  {when}  {url or stamp.capture_id}  by {stamp.tsa_url} ({trust})"


def page_record(page: PageCapture | None) -> dict[str, Any] | None:
    return to_jsonable(page, top=False) if page else None


def availability_check_record(check: AvailabilityCheck) -> dict[str, Any]:
    return to_jsonable(check)


def availability_record(availability: Availability | None) -> dict[str, Any] | None:
    return to_jsonable(availability, top=False) if availability else None


def availability_line(check: AvailabilityCheck) -> str:
    status = f"{check.status:<12}"
    http = f" HTTP {check.http_status}" if check.http_status else ""
    words = f": {check.words}" if check.words else ""
    detail = f" ({check.detail})" if check.detail else ""
    return f"{status}{check.url}{http}{words}{detail}"


def export_record(bag: ExportedBag) -> dict[str, Any]:
    return to_jsonable(bag)


def bag_report_record(report: BagReport) -> dict[str, Any]:
    return {
        "type": "bag_report",
        "path": report.path,
        "valid": report.valid,
        "files": report.files,
        "bytes_total": report.bytes_total,
        "timestamps_checked": report.timestamps_checked,
        "timestamps_verified": report.timestamps_verified,
        "problems": [{"path": p.path, "detail": p.detail} for p in report.problems],
        "bag_info": dict(report.bag_info),
    }
