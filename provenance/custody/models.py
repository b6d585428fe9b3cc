"""The values custody passes between its modules, the catalog and the CLI.

They live here rather than in `provenance/models.py` because only custody, its catalog queries and
its commands use them (and that module is at its size limit); `Availability`, which the timeline
shows, is in `provenance/models.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

# What `check` can find.  `missing`: a catalog row whose file is gone; `changed`: the bytes are not
# the ones recorded; `stray`: a file no row accounts for; `staging`: a leftover of a killed run;
# `unreadable`: the file is there but cannot be read; `timestamp`: a token that no longer verifies
# over its manifest, or a manifest that disagrees with the catalog; `catalog`: SQLite's own check.
ProblemKind = Literal["missing", "changed", "stray", "staging", "unreadable", "timestamp", "catalog"]
# Where a file belongs: what a problem is about, and what `--repair` may touch (derived data only).
FileRole = Literal[
    "media",
    "capture",
    "page",
    "timestamp",
    "keyframe",
    "staging",
    "other",
]
DERIVED_ROLES = frozenset({"keyframe"})


@dataclass(frozen=True, slots=True)
class KeptFile:
    """A file the catalog accounts for: where it is (relative to the archive root) and its bytes."""

    path: str
    role: FileRole
    sha256: str | None  # None: recorded without a checksum (keyframes from before checksums)
    size_bytes: int | None
    owner: str  # the media sha256 or the capture folder it belongs to


@dataclass(frozen=True, slots=True)
class CheckProblem:
    kind: ProblemKind
    path: str
    role: FileRole
    detail: str
    expected_sha256: str | None = None
    actual_sha256: str | None = None


@dataclass(frozen=True, slots=True)
class RepairAction:
    """What `check --repair` did: only derived data (keyframes, the match cache) and leftovers."""

    action: Literal["reexported_keyframes", "dropped_matches", "removed_stray_keyframe", "removed_staging"]
    path: str
    detail: str


@dataclass(frozen=True, slots=True)
class CheckReport:
    files: int  # files the catalog accounts for
    bytes_total: int
    hashed_files: int
    hashed_bytes: int
    sample: float  # the share of files hashed (1.0: all)
    seconds: float
    problems: tuple[CheckProblem, ...]
    repairs: tuple[RepairAction, ...] = ()

    @property
    def clean(self) -> bool:
        return not self.problems


@dataclass(frozen=True, slots=True)
class PageCapture:
    """The post's page as the server sent it, kept in the capture folder (paths relative to the root)."""

    capture_folder: str
    capture_id: str
    url: str
    final_url: str | None
    http_status: int | None
    fetched_at: datetime
    warc_path: str
    wacz_path: str | None
    screenshot_path: str | None
    resources: int  # subresources kept beside the page
    tls_chain: tuple[str, ...] = ()  # subjects of the server's certificates, leaf first (https only)
    notes: tuple[str, ...] = ()  # what was left out and why (no Chromium, a resource too large)


@dataclass(frozen=True, slots=True)
class Verification:
    """What checking a token found; kept beside the token as JSON."""

    verified: bool
    detail: str
    gen_time: datetime | None = None
    serial_number: str | None = None
    tsa_name: str | None = None
    policy: str | None = None
    root_subject: str | None = None
    root_trusted: bool = False  # the root is among timestamp.ca_files (not only in the token)
    checked_at: datetime | None = None
    imprint_matches: bool = False  # the token stamps this manifest's hash (checked with or without a root)


@dataclass(frozen=True, slots=True)
class Stamp:
    """One attempt to have a capture's manifest stamped by one TSA."""

    capture_folder: str
    capture_id: str
    tsa_url: str
    state: Literal["stamped", "failed"]
    attempted_at: datetime
    manifest_path: str | None = None
    manifest_sha256: str | None = None
    token_path: str | None = None
    chain_path: str | None = None
    verification_path: str | None = None
    verification: Verification | None = None
    error: str | None = None


AvailabilityStatus = Literal[
    "available", "removed", "private", "geo_blocked", "account_gone", "changed", "unknown"
]


@dataclass(frozen=True, slots=True)
class AvailabilityCheck:
    """One row of a post's availability history."""

    capture_id: str
    url: str
    checked_at: datetime
    status: AvailabilityStatus
    http_status: int | None = None
    words: str | None = None  # the site's own words (an error message, the page's title)
    duration_s: float | None = None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class BagProblem:
    path: str
    detail: str


@dataclass(frozen=True, slots=True)
class BagReport:
    """What `verify-bag` found: valid when there is no problem."""

    path: str
    files: int
    bytes_total: int
    problems: tuple[BagProblem, ...]
    timestamps_checked: int = 0
    timestamps_verified: int = 0
    bag_info: tuple[tuple[str, str], ...] = field(default=())

    @property
    def valid(self) -> bool:
        return not self.problems


@dataclass(frozen=True, slots=True)
class ExportedBag:
    path: str
    cluster_id: str
    members: tuple[str, ...]
    files: int
    bytes_total: int
    captures: int
    timestamps: int
    pages: int
