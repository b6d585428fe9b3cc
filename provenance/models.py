"""The plain values that pass between stages.

Every dataclass that crosses a module boundary lives here.  Times are aware UTC datetimes with an
explicit precision; media positions are integer milliseconds (``*_ms``); durations are float seconds
(``*_s``).  ``to_jsonable`` is the one serialiser used by the CLI and the reports.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

if TYPE_CHECKING:
    from .custody.models import PageCapture, Stamp

Precision = Literal["second", "minute", "hour", "day", "month", "year"]
TimeSource = Literal["platform", "container", "exif", "capture", "filename"]
MediaKind = Literal["video", "image"]
AddStatus = Literal["added", "exists", "failed"]

_PRECISION_SPAN = {
    "second": timedelta(seconds=1),
    "minute": timedelta(minutes=1),
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
}


@dataclass(frozen=True, slots=True)
class Timestamp:
    """A point in time as a source states it: the value, how precise it is, and who said so.

    A day-precision date stands for the whole day; compare through ``earliest()``/``latest()``,
    never through ``value`` alone.  ``utc_offset_min`` is the offset the source gave (None when the
    source gave a local time without one, in which case ``value`` is that local time marked UTC and
    ``local`` is True).
    """

    value: datetime
    precision: Precision
    source: TimeSource
    utc_offset_min: int | None = None
    local: bool = False

    def earliest(self) -> datetime:
        return self.value

    def latest(self) -> datetime:
        if self.precision == "month":
            year, month = self.value.year + self.value.month // 12, self.value.month % 12 + 1
            return self.value.replace(year=year, month=month) - timedelta(microseconds=1)
        if self.precision == "year":
            return self.value.replace(year=self.value.year + 1) - timedelta(microseconds=1)
        return self.value + _PRECISION_SPAN[self.precision] - timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class GeoPoint:
    lat: float
    lon: float
    alt_m: float | None
    source: Literal["container", "exif"]


@dataclass(frozen=True, slots=True)
class MediaFile:
    """A file kept in the archive, addressed by the SHA-256 of its bytes."""

    sha256: str
    path: Path
    size_bytes: int
    kind: MediaKind
    ext: str


@dataclass(frozen=True, slots=True)
class MediaInfo:
    """What a file says about itself (container tags, stream facts, EXIF for photos)."""

    sha256: str
    kind: MediaKind
    container: str
    duration_s: float | None
    width: int
    height: int
    fps: float | None = None
    video_codec: str | None = None
    audio_codec: str | None = None
    bit_rate: int | None = None
    rotation_deg: int = 0
    created_at: Timestamp | None = None
    location: GeoPoint | None = None
    make: str | None = None
    model: str | None = None
    software: str | None = None
    raw_tags: tuple[tuple[str, str], ...] = ()
    # Tags that were present but could not be used (an impossible date, a malformed GPS field): the
    # field stays empty and the reason is said here, so a reader knows the file claimed something.
    caveats: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Box:
    """The content inside black bars or blurred fill, in pixels of the decoded frame."""

    x: int
    y: int
    width: int
    height: int


@dataclass(frozen=True, slots=True, eq=False)
class Frame:
    """One sampled frame: its presentation time and a small grey image."""

    t_ms: int
    grey: np.ndarray


@dataclass(frozen=True, slots=True, eq=False)
class Fingerprint:
    """The perceptual hashes of one media file's sampled frames, for one hasher.

    ``hashes`` has shape (n, bits // 8), uint8; ``quality`` is 0-100 per frame and frames below
    the hasher's quality floor never count as evidence.
    """

    sha256: str
    hasher: str
    rate_hz: float
    times_ms: np.ndarray
    hashes: np.ndarray
    quality: np.ndarray
    content_box: Box | None = None

    @property
    def frame_count(self) -> int:
        return int(self.times_ms.shape[0])


@dataclass(frozen=True, slots=True)
class Segment:
    """A stretch of the query found in a reference, with the times on both sides in ms."""

    query_start_ms: int
    query_end_ms: int
    ref_start_ms: int
    ref_end_ms: int
    frames_matched: int
    mean_distance: float
    speed: float = 1.0
    # How the query was altered to meet the reference: "none", "hflip" (mirrored), "zoom1.25" (the
    # query is a crop: its central 1/1.25 was compared), or both joined by "+".
    variant: str = "none"


@dataclass(frozen=True, slots=True)
class Match:
    """A reference media that shares footage with the query."""

    query_sha256: str | None
    ref_sha256: str
    ref_path: Path
    hasher: str
    segments: tuple[Segment, ...]
    query_coverage: float
    ref_coverage: float
    score: float


@dataclass(frozen=True, slots=True)
class Keyframe:
    """A representative frame of one shot."""

    t_ms: int
    shot_index: int
    sharpness: float
    path: Path | None = None


Transition = Literal["start", "cut", "fade", "dissolve"]


@dataclass(frozen=True, slots=True)
class Shot:
    """A run of frames between two boundaries; ``transition`` says how it begins."""

    index: int
    start_ms: int
    end_ms: int
    transition: Transition
    keyframes: tuple[Keyframe, ...]


@dataclass(frozen=True, slots=True)
class Capture:
    """One archived appearance of a media on the web: who posted it, where, when, and how we kept it.

    ``capture_id`` is ``"<extractor_key>:<platform id>"``; for generic pages and direct files, whose
    "id" is only a file or page name, it is ``"url:<sha256 of the normalised URL>"``.  Archiving the
    same post twice finds the first capture.
    """

    capture_id: str
    url: str
    webpage_url: str | None
    extractor: str | None
    platform_id: str | None
    uploader: str | None
    uploader_id: str | None
    channel: str | None
    title: str | None
    description: str | None
    duration_s: float | None
    view_count: int | None
    like_count: int | None
    published_at: Timestamp | None
    captured_at: datetime
    tool_versions: tuple[tuple[str, str], ...]
    final_url: str | None = None
    http_status: int | None = None
    sha256: str | None = None
    files: tuple[tuple[str, str], ...] = ()  # (name inside the capture folder, sha256)
    folder: str | None = None  # the capture folder, relative to the archive root


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    kind: str
    message: str

    @staticmethod
    def of(exc: Exception) -> ErrorInfo:
        """The error of a failed item: ours carry a kind; an OSError is the disk's (full, read-only)."""
        one_line = getattr(exc, "one_line", None)
        if one_line is not None:
            return ErrorInfo(kind=getattr(exc, "kind", "error"), message=one_line())
        reason = getattr(exc, "strerror", None) or str(exc)
        return ErrorInfo(
            kind="io_error", message=f"{getattr(exc, 'filename', '') or ''}: {reason}".lstrip(": ")
        )


@dataclass(frozen=True, slots=True)
class AddResult:
    """What happened to one input of `add`."""

    path: str
    status: AddStatus
    sha256: str | None = None
    kind: MediaKind | None = None
    error: ErrorInfo | None = None


@dataclass(frozen=True, slots=True)
class ArchiveResult:
    """What happened to one URL of `archive`; ``capture`` is the stored capture when there is one."""

    url: str
    status: Literal["archived", "exists", "failed"]
    capture_id: str | None = None
    capture: Capture | None = None
    error: ErrorInfo | None = None


@dataclass(frozen=True, slots=True)
class ArchivedMedia:
    """A row of `list`: a media file in the archive and what is known of it."""

    sha256: str
    kind: MediaKind
    path: Path
    size_bytes: int
    original_name: str
    duration_s: float | None
    width: int
    height: int
    added_at: datetime
    fingerprints: tuple[str, ...] = field(default=())


DerivationKind = Literal["same_footage", "excerpt", "contains", "overlap"]
DerivationBasis = Literal["published_at", "completeness"]


@dataclass(frozen=True, slots=True)
class Availability:
    """What rechecks of an archived post found: its latest status (`available`, `removed`, `private`,
    `geo_blocked`, `account_gone`, `changed`, `unknown`) and, once it is gone, between which times it
    went: ``last_seen_available`` (a recheck that found it, else the capture) and ``first_seen_gone``."""

    status: str
    checked_at: datetime
    last_seen_available: datetime
    first_seen_gone: datetime | None = None
    http_status: int | None = None
    words: str | None = None
    checks: int = 1


@dataclass(frozen=True, slots=True)
class Appearance:
    """Where a cluster's media was seen: a capture of a web post, or a local file (no URL, no
    published time).  ``segments``: query = this media, reference = the cluster's likely original."""

    sha256: str
    capture_id: str | None
    url: str | None
    source_path: str | None
    extractor: str | None
    uploader: str | None
    title: str | None
    published_at: Timestamp | None
    captured_at: datetime | None
    tool_versions: tuple[tuple[str, str], ...] = ()
    segments: tuple[Segment, ...] = ()
    availability: Availability | None = None  # None: never rechecked (or a local file)


@dataclass(frozen=True, slots=True)
class Derivation:
    """Where a copy's footage likely came from.  ``segments``: query = the copy (``to``), reference =
    its source (``from``); ``kind`` is how the footage relates, ``basis`` what set the direction."""

    from_sha256: str
    to_sha256: str
    kind: DerivationKind
    basis: DerivationBasis
    mirrored: bool
    segments: tuple[Segment, ...]


@dataclass(frozen=True, slots=True)
class OtherTime:
    """A time that is not an upload time (container creation, EXIF, capture): shown, never ordered."""

    sha256: str
    capture_id: str | None
    time: Timestamp
    meaning: str


@dataclass(frozen=True, slots=True)
class Cluster:
    """Archived media connected by shared footage (``cluster_id``: SHA-256 of the sorted member
    SHA-256s), appearances earliest first; ``ambiguous_with``: those whose published interval
    overlaps the earliest's.  ``why`` says how ``likely_original`` (a member) was chosen."""

    cluster_id: str
    members: tuple[str, ...]
    appearances: tuple[Appearance, ...]
    earliest: Appearance | None
    ambiguous_with: tuple[Appearance, ...]
    derivations: tuple[Derivation, ...]
    likely_original: str
    why: str
    other_times: tuple[OtherTime, ...] = ()
    caveats: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Still:
    """A picture of a member for the report: a shot keyframe, or a sampled frame when none."""

    sha256: str
    t_ms: int
    jpeg: bytes
    source: Literal["keyframe", "frame", "photo"]


@dataclass(frozen=True, slots=True)
class Evidence:
    """Everything the HTML report shows about one cluster, gathered by the pipeline."""

    query: str
    cluster: Cluster
    media: tuple[ArchivedMedia, ...]
    keyframes: tuple[Still, ...]
    thumbnails: tuple[Still, ...]
    tool_versions: tuple[tuple[str, str], ...]
    generated_at: datetime
    # Custody of the members' captures: the pages kept and the RFC 3161 stamps obtained.
    pages: tuple[PageCapture, ...] = ()
    stamps: tuple[Stamp, ...] = ()


@dataclass(frozen=True, slots=True)
class VerifyRow:
    """One output row of `verify`: the input row's columns, then what the archive says about its URL."""

    columns: tuple[tuple[str, str], ...]
    url: str
    status: Literal["archived", "exists", "failed"]
    capture_id: str | None = None
    sha256: str | None = None
    cluster_id: str | None = None
    earliest_url: str | None = None
    earliest_published_at: Timestamp | None = None
    copies: int = 0
    error: ErrorInfo | None = None


@dataclass(frozen=True, slots=True)
class Progress:
    """Reported through ``on_event`` while a long job runs: ``done`` of ``total`` items of ``stage``."""

    stage: str
    done: int
    total: int | None
    item: str = ""


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def utc_iso(value: datetime) -> str:
    """ISO 8601 in UTC with a ``Z``; naive datetimes are taken as UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    text = value.astimezone(UTC).isoformat()
    return text.replace("+00:00", "Z")


def to_jsonable(obj: Any, *, top: bool = True) -> Any:
    """Turn models into JSON values: datetimes ISO 8601 with Z, paths str, arrays lists.

    A top-level dataclass gets ``"type"``: its class name in snake_case, part of the JSON contract.
    """
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        out: dict[str, Any] = {"type": _snake(type(obj).__name__)} if top else {}
        for f in dataclasses.fields(obj):
            out[f.name] = to_jsonable(getattr(obj, f.name), top=False)
        return out
    if isinstance(obj, datetime):
        return utc_iso(obj)
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (np.integer, np.floating)):
        return obj.item()
    if isinstance(obj, bytes):
        return obj.hex()
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v, top=False) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v, top=False) for v in obj]
    return obj
