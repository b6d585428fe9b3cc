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

from .store import printable

if TYPE_CHECKING:
    from .custody.models import PageCapture, Stamp

Precision = Literal["second", "minute", "hour", "day", "month", "year"]
# "imported": a time that came with an imported hash list, as that list's source asserts it.
TimeSource = Literal[
    "platform", "container", "exif", "capture", "filename", "telemetry", "xmp", "iptc", "imported"
]
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
    source: Literal["container", "exif", "telemetry"]


# -- what a file says about itself beyond its container tags (provenance/metadata/) ----------------

# How a stated time's zone is known: given with it ("zone"), from satellites ("satellite": GPS UTC),
# UTC by the format's rule but set from a camera clock nobody checked ("header": the MP4 movie header),
# or a wall clock without any zone ("local").
TimeBasis = Literal["zone", "satellite", "header", "local"]


@dataclass(frozen=True, slots=True)
class TimeClaim:
    """One time a file states, kept whether or not it becomes ``created_at``.

    ``origin`` names the exact place (``"udta date"``, ``"GPMF GPSU"``, ``"EXIF DateTimeOriginal +
    OffsetTimeOriginal"``); ``text`` is the value as written; ``meaning`` says what moment it is
    (``capture``, ``file written``, ``edited``, ``metadata changed``).
    """

    origin: str
    time: Timestamp
    basis: TimeBasis
    text: str
    meaning: str = "capture"


@dataclass(frozen=True, slots=True)
class XmpEvent:
    """One step of an XMP edit history (``xmpMM:History``), as the editing software wrote it."""

    action: str | None
    when: str | None
    software_agent: str | None
    changed: str | None = None
    instance_id: str | None = None
    parameters: str | None = None


@dataclass(frozen=True, slots=True)
class XmpInfo:
    """The XMP packet of a photo or video: who made it, its document ids and its edit history.

    Copies of one document share ``document_id`` or ``original_document_id``; a derived file names
    its source in ``derived_from_*`` and in the instance ids of its history.
    """

    creator_tool: str | None = None
    document_id: str | None = None
    instance_id: str | None = None
    original_document_id: str | None = None
    derived_from_document_id: str | None = None
    derived_from_instance_id: str | None = None
    derived_from_original_document_id: str | None = None
    create_date: str | None = None
    modify_date: str | None = None
    metadata_date: str | None = None
    title: str | None = None
    description: str | None = None
    history: tuple[XmpEvent, ...] = ()
    ingredient_ids: tuple[str, ...] = ()
    properties: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class IptcInfo:
    """IPTC IIM fields of a photo (newsroom captions, places, keywords, credits)."""

    headline: str | None = None
    caption: str | None = None
    keywords: tuple[str, ...] = ()
    city: str | None = None
    sublocation: str | None = None
    province_state: str | None = None
    country: str | None = None
    country_code: str | None = None
    byline: str | None = None
    credit: str | None = None
    source: str | None = None
    copyright: str | None = None
    object_name: str | None = None
    date_created: str | None = None
    time_created: str | None = None
    properties: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class MakerNotes:
    """What a camera maker's private tags say: serial numbers, owner, the clock's time zone.

    ``time_zone_min`` is the offset the camera was set to (minutes east of UTC, daylight saving
    included when ``dst`` says so).
    """

    maker: str
    body_serial: str | None = None
    lens_serial: str | None = None
    lens_model: str | None = None
    owner: str | None = None
    firmware: str | None = None
    time_zone_min: int | None = None
    dst: bool | None = None
    properties: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class AppleIds:
    """Apple identifiers that tie a Live Photo's still to its video, and shots of one burst."""

    content_identifier: str | None = None
    media_group_uuid: str | None = None
    burst_uuid: str | None = None


@dataclass(frozen=True, slots=True)
class GpsFix:
    """A telemetry GPS position: media time (s into the file), satellite UTC, place, fix quality."""

    t_s: float
    utc: datetime | None
    lat: float
    lon: float
    alt_m: float | None
    fix: int | None = None  # 0 none, 2 2-D, 3 3-D (GoPro GPSF)
    dop: float | None = None  # dilution of precision (GoPro GPSP / 100)


@dataclass(frozen=True, slots=True)
class Telemetry:
    """A camera's sensor track (GoPro GPMF): devices, serial, GPS track ends, the track's length."""

    format: str
    devices: tuple[str, ...]
    track_duration_s: float | None
    payloads: int
    gps_fixes: int
    first_fix: GpsFix | None = None
    last_fix: GpsFix | None = None
    camera_serial: str | None = None
    model: str | None = None  # the camera model the settings name (GoPro MINF)
    streams: tuple[str, ...] = ()
    # The UTC time at the footage's start, from the GPS times less their media times.
    start_utc: datetime | None = None


@dataclass(frozen=True, slots=True)
class C2paAction:
    action: str
    software_agent: str | None = None
    when: str | None = None
    digital_source_type: str | None = None


@dataclass(frozen=True, slots=True)
class C2paIngredient:
    title: str | None
    relationship: str | None
    format: str | None = None
    document_id: str | None = None
    instance_id: str | None = None


@dataclass(frozen=True, slots=True)
class C2paInfo:
    """The active manifest of a Content Credentials (C2PA) store, and whether it validates.

    ``validation_state`` is the C2PA library's (``Invalid``, ``Valid``: signature and hashes hold,
    ``Trusted``: and the signer chains to a trust list); ``validation_errors`` lists the failure codes.
    """

    manifests: int
    active_manifest: str | None
    claim_generator: str | None
    title: str | None
    signer: str | None
    signer_issuer: str | None
    signing_time: str | None
    signature_alg: str | None
    actions: tuple[C2paAction, ...]
    ingredients: tuple[C2paIngredient, ...]
    validation_state: str | None
    validation_errors: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class EmbeddedImage:
    """A picture inside the file (EXIF thumbnail, maker-note preview, MPO image, movie thumbnail).

    ``distance_bits`` is the 64-bit dHash distance to the main picture; ``shows_main`` is False when
    it is too far to be the same picture: a thumbnail left from before an edit.
    """

    origin: str
    format: str | None
    width: int | None
    height: int | None
    size_bytes: int
    distance_bits: int | None = None
    shows_main: bool | None = None


@dataclass(frozen=True, slots=True)
class TrackFacts:
    """One track of an MP4/QuickTime file, from its own headers."""

    track_id: int
    handler: str
    handler_name: str | None
    duration_s: float | None
    start_s: float = 0.0  # empty edit before the media starts (a start delay)
    sample_format: str | None = None


@dataclass(frozen=True, slots=True)
class QuickTimeInfo:
    """The movie header and user-data atoms of an MP4/QuickTime file (what FFmpeg does not expose).

    ``user_data`` holds every readable ``moov/udta`` atom as (atom type, text): the 3GPP ``date``,
    ``auth``/``titl``/``dscp``, iMovie's ``clfn`` clip name, GoPro ``FIRM``/``LENS``...
    """

    major_brand: str | None
    movie_created: str | None
    movie_duration_s: float | None
    tracks: tuple[TrackFacts, ...]
    user_data: tuple[tuple[str, str], ...] = ()
    date: str | None = None
    author: str | None = None
    title: str | None = None
    clip_name: str | None = None


@dataclass(frozen=True, slots=True)
class MatroskaInfo:
    """The Segment Info of a Matroska/WebM file: which programs wrote it, and when (``DateUTC``)."""

    muxing_app: str | None
    writing_app: str | None
    date_utc: str | None = None
    title: str | None = None


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
    # Every time the file states, with its origin and zone; why ``created_at`` is the one chosen.
    times: tuple[TimeClaim, ...] = ()
    created_at_why: str | None = None
    xmp: XmpInfo | None = None
    iptc: IptcInfo | None = None
    makernotes: MakerNotes | None = None
    apple: AppleIds | None = None
    telemetry: Telemetry | None = None
    c2pa: C2paInfo | None = None
    thumbnails: tuple[EmbeddedImage, ...] = ()
    quicktime: QuickTimeInfo | None = None
    matroska: MatroskaInfo | None = None


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
    # query is a crop: its central 1/1.25 was compared), or both joined by "+"; "rot90" / "rot270"
    # (the query turned by that many degrees counter-clockwise: a copy played sideways); "inset"
    # (only a rectangle inside the query's picture: a player's window, a picture-in-picture, a 9:16
    # re-frame's band of footage); "whole" (the query's whole frame, bars or fill included).
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
    def of(exc: BaseException, subject: str = "") -> ErrorInfo:
        """The error of a failed item, naming it (``subject``: the file or URL as given).

        Ours carry a kind; an OSError is the disk's (full, read-only); anything else is a fault of
        ours met on this input ("internal"), reported for this item alone so the batch goes on.
        """
        subject = printable(subject)  # a file name that is not UTF-8 must not break output or SQLite
        one_line = getattr(exc, "one_line", None)
        if one_line is not None:
            message = printable(one_line())
            named = not subject or subject in message
            return ErrorInfo(
                kind=getattr(exc, "kind", "error"), message=message if named else f"{subject}: {message}"
            )
        if isinstance(exc, OSError):
            reason = exc.strerror or str(exc)
            where = subject or printable(str(exc.filename or ""))
            return ErrorInfo(kind="io_error", message=f"{where}: {printable(reason)}".lstrip(": "))
        text = printable(str(exc).splitlines()[0]) if str(exc) else ""
        detail = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
        return ErrorInfo(
            kind="internal", message=f"{subject or 'item'}: internal error ({detail}); please report it"
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
class ListedAppearance:
    """Where a hash list says its media was seen: a URL, and when it was published there."""

    url: str | None
    published_at: Timestamp | None = None


@dataclass(frozen=True, slots=True)
class ListContext:
    """What an export made with ``--with-context`` adds: names, uploaders and titles (identifying)."""

    names: tuple[str, ...] = ()
    uploaders: tuple[str, ...] = ()
    titles: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, eq=False)
class HashlistEntry:
    """One media of a hash list: its fingerprints and what came with them, without the file.

    ``external_id`` names the media within its source (the file's SHA-256 when the list gives one);
    ``content_sha256`` is the file's SHA-256 as the list states it, never checked here.
    """

    external_id: str
    content_sha256: str | None
    kind: MediaKind
    duration_s: float | None
    fingerprints: tuple[Fingerprint, ...]
    appearances: tuple[ListedAppearance, ...] = ()
    context: ListContext | None = None


@dataclass(frozen=True, slots=True)
class ImportedFrom:
    """Where the fingerprints of a media without bytes came from: an imported hash list."""

    source: str
    external_id: str
    content_sha256: str | None
    hashlist_id: int
    imported_at: datetime
    appearances: tuple[ListedAppearance, ...] = ()
    context: ListContext | None = None


@dataclass(frozen=True, slots=True)
class ImportedList:
    """A row of `hashes list`: one import of a hash list and what of it is in the archive now."""

    hashlist_id: int
    source: str
    name: str
    format: str
    file_sha256: str
    imported_at: datetime
    media: int
    frames: int


@dataclass(frozen=True, slots=True)
class ImportSummary:
    """What `import_hashlist` did: media new, changed (a newer list) or already there, frames read."""

    source: str
    name: str
    format: str
    status: Literal["imported", "unchanged"]
    hashlist_id: int | None
    media_added: int
    media_updated: int
    media_unchanged: int
    frames: int
    imported_at: datetime


@dataclass(frozen=True, slots=True)
class ExportSummary:
    """What an export wrote, and what its format could not carry (``left_out``: one sentence each)."""

    format: str
    media: int
    frames: int
    with_context: bool
    left_out: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ArchivedMedia:
    """A row of `list`: a media file in the archive and what is known of it.  ``imported`` is set
    for fingerprints imported from a hash list: such a media has no file (``path`` is empty)."""

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
    imported: ImportedFrom | None = None

    @property
    def has_file(self) -> bool:
        return self.imported is None


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
    # The source of the hash list this appearance came with: its URL and time are that source's word.
    imported_from: str | None = None
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


DocumentRelation = Literal["derived_from", "later_save", "same_document", "same_original"]


@dataclass(frozen=True, slots=True)
class DocumentLink:
    """Two media tied by their XMP document ids: evidence of derivation that needs no pixels.

    ``derived_from``: the copy names the source's instance or document in ``xmpMM:DerivedFrom``;
    ``later_save``: the copy's edit history passes through the source's instance; ``same_document``
    / ``same_original``: both carry the same DocumentID / OriginalDocumentID (no direction: from is
    the smaller sha256).  ``document_id`` is the shared id.
    """

    from_sha256: str
    to_sha256: str
    relation: DocumentRelation
    document_id: str


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
    document_links: tuple[DocumentLink, ...] = ()


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
