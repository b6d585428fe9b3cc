"""Settings: one frozen section per stage.

A stage receives only its own section.  Values come from, in order of precedence: explicit
overrides (CLI flags), ``PROVENANCE_<SECTION>_<FIELD>`` environment variables, then
``<archive>/provenance.toml`` (``[sampling] rate_hz = 2.0``), then the defaults below.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import UsageError


@dataclass(frozen=True, slots=True)
class SamplingSettings:
    # 2 frames per second: a 5 s excerpt still gives ~10 frames of evidence while a one-hour video
    # stays at 7,200 index rows per hasher.
    rate_hz: float = 2.0
    # Frames are scaled in the decoder's scaler so that their longer side is this many pixels.  The
    # hashers work on 32x32 (pHash) and 64x64 (PDQ) images, but the footage may fill only part of
    # the frame: a 16:9 clip re-framed to 9:16 over a blurred fill is 256x144 inside 256x456, so
    # 256 keeps >= 64 pixels of footage in each direction for the common re-frames.
    frame_side: int = 256
    # A video that gives fewer than short_media_frames samples at rate_hz (under 8 s at 2 Hz) is
    # sampled again, densely enough to give that many, at most short_media_max_rate_hz (the query
    # rate): a 2 s clip gets 16 frames instead of 4, so a 1.5 s excerpt of it, or a copy whose frames
    # fall between the samples, still meets several.  The stored rate_hz stays the recipe's name;
    # frame times say where each sample is.  16 = what the query rate gives a 2 s clip; measured on
    # bench/heldout.py (tuning 71 -> 76, held-out 79 -> 82 of 101 copies with the other two fixes of
    # that change) and bench/negatives.py (no new false match); see bench/RESULTS.md.
    short_media_frames: int = 16
    short_media_max_rate_hz: float = 8.0
    # Decoding threads per file: keyframe-to-keyframe runs are decoded side by side, one decoder per
    # thread (bench/speed.py).  0 = one more than the CPUs this process may use, at most 8; 1 = one decoder.
    decode_threads: int = 0


@dataclass(frozen=True, slots=True)
class HashSettings:
    # The hash kinds stored for every file; "pdq256" is used only when the [pdq] extra is installed.
    hashers: tuple[str, ...] = ("phash64", "pdq256")
    # A frame whose grey levels vary less than this (standard deviation, 0-255) is flat (black,
    # white, a title card in one colour) and never counts as evidence.
    flat_std: float = 6.0


@dataclass(frozen=True, slots=True)
class MatchSettings:
    # The query is sampled this densely (the archive at sampling.rate_hz): a copy whose frames fall
    # between the archive's samples (a slowed copy, a cut at an odd time) still has query frames
    # within 1/(2 x 8) s of each archived sample, close enough in fast motion too.
    query_rate_hz: float = 8.0
    # The hasher used to answer `match` (must be one of HashSettings.hashers).
    hasher: str = "phash64"
    # Largest Hamming distance (of 64 bits) for two frames to count as the same picture.  Chosen with
    # bench/thresholds.py on ../shared/media: of 148,000 pairs of frames from unrelated sources none is
    # within 13 bits (0.001 % within 14, 0.4 % within 20), while re-encodes, rescales and the edited
    # trailer copy of the same frames stay within 12 (see bench/RESULTS.md).
    max_distance: int = 12
    # Two hits belong to the same segment when their time offsets (ref - query) differ by at most this.
    offset_tolerance_s: float = 1.0
    # A gap in the query longer than this starts a new segment.
    max_gap_s: float = 3.0
    # Query-side zooms, for copies cropped (zoom > 1) or showing more around the footage (< 1) than
    # the archived media: the query is also hashed on these central parts of its content box.  1.25
    # covers a crop of 10 % on each side (0.8 of the width remains); see bench/robustness.py.
    crop_zooms: tuple[float, ...] = (0.8, 0.9, 1.0, 1.12, 1.25)
    # Quarter turns (counter-clockwise) the query is also hashed in, at its plain zoom: a phone clip
    # uploaded sideways, or re-encoded with its rotation tag dropped or applied twice, is a frame
    # turned by 90 degrees, whose hashes are unrelated to the upright ones (16-28 bits on
    # bench/heldout.py).  1 and 3 undo a turn either way; () leaves them out (+2 views of 12).
    quarter_turns: tuple[int, ...] = (1, 3)
    # Footage shown inside a larger picture (a screen recording of a player's window, a
    # picture-in-picture over a news channel's background, a 9:16 re-frame whose blurred fill the
    # content box missed) is also searched inside that inset's box, at every zoom of crop_zooms,
    # when one is found on the query (provenance/inset.py; most videos have none).
    insets: bool = True
    # Where the query's content box cuts bars (or a fill), it is also searched on its whole frame:
    # bars may be the copy's own, never the footage's (the black corners of a frame turned a few
    # degrees, a flat black sky that a low-bitrate re-encode smoothed into "bars"), and the archived
    # file was hashed inside no box.  +1 view, only for such queries; false leaves it out.
    whole_frame: bool = True
    # A segment that rests on one picture (below) and misses that distance gets a second look when
    # the reference's file is in the archive: ORB keypoints of its middle frames on both sides must
    # agree with one homography (provenance/keypoints.py).  A copy turned a few degrees, stretched or
    # captioned is found again that way; false: the pHash rule alone.
    second_look: bool = True
    # Time-aligned frames needed for a match: 4 (1.5 s at 2 Hz); 3 where the query or the reference
    # offers under 7 (evidence_share below caps this count too, rounded up, but never under 3: two
    # frames fit some time line at any speed), fewer only where a side has fewer.  Any such segment
    # is reported, however small a part of a long video it is: a 5 s excerpt inside an hour of
    # footage is exactly what an investigator looks for.  3 was enough on small archives; among
    # 10^5-10^6 frames of natural footage (bench/scale_distractors.py) three time-aligned frames of
    # unrelated footage within 12 bits are met often (85 % of the false matches rest on exactly 3),
    # and the fourth frame takes 3/4 of them away, while no copy of bench/heldout.py's tuning half
    # that is found at the right time rests on 3 frames where its sides offer 7 or more
    # (bench/RESULTS.md, "Four frames where the sides offer them").
    min_frames: int = 4
    # ... and, against a reference sampled more densely (a short one: SamplingSettings.
    # short_media_frames), as many frames as cover min_evidence_s of it (3 frames at 2 Hz span 1 s),
    # though never more than evidence_share of the frames the shorter side offers: a 2 s clip
    # sampled at 8 Hz needs 8 of its 16 frames, a 1.5 s excerpt of it 6.  Adjacent frames 1/8 s
    # apart look alike, so 3 of them would vouch for less than 3 frames at 2 Hz do.  1 s is the span
    # of the 2 Hz rule; no other value was tried.  Checked with bench/heldout.py and bench/negatives.py
    # (6 false matches in 32,046 unrelated pairs, 7 before; bench/RESULTS.md).
    min_evidence_s: float = 1.0
    evidence_share: float = 0.5
    # When a side has fewer frames than that (a photo, a clip of a second), a match rests on one or
    # two frames and time alignment cannot vouch for it: those frames must be this close.  So must a
    # segment whose frames show one picture on either side (a still stretch, however long: match.py
    # `_vouched`).  On bench/negatives.py, 8,454 unrelated pairs included 4 photo-video pairs at
    # exactly 12 bits (through mirrored and zoomed views) and none closer; see bench/RESULTS.md for
    # what 8 keeps.
    few_frames_max_distance: int = 8
    # How the index is searched: "auto" scans small archives and, past ~2 million frame pairs a
    # query, finds candidate media by 16-bit chunks first (index/archive_index.py; what it misses is
    # measured by bench/scale.py); "exact" always scans every stored frame; "indexed" always takes
    # the two stages (for benchmarks that compare them on small archives).
    search: str = "auto"
    # The same two distances (of 256 bits) for imported whole-frame PDQ lists (vPDQ, PDQ banks): a query
    # frame hashed whole by our sampler against a frame hashed by vPDQ's own hasher.  Two PDQ
    # implementations and two decoders differ: on bench/pdq_frames.py (../shared/media), the same
    # footage is within 31 bits (vPDQ's own threshold) for 88 % of vPDQ's frames, within 48 for 95 %,
    # while no two unrelated sources have a frame pair closer than 72 bits.  48 keeps 24 bits of margin
    # and a match still needs min_frames time-aligned frames; one or two frames (a picture of a PDQ
    # bank) must be within 36 (92 % of same-footage frames).
    frame_max_distance: int = 48
    frame_few_frames_max_distance: int = 36


@dataclass(frozen=True, slots=True)
class KeyframeSettings:
    # Frames are analysed for shot changes at this size (longer side, pixels).
    analysis_side: int = 160
    # A boundary closer than this to a stronger one, or to either end, is dropped.
    min_shot_s: float = 1.0
    # Smallest change (0-1: 3/4 difference of contrast-normalised 32x18 grey thumbnails, 1/4 HSV
    # histogram) that can be a boundary.  On ../shared/media, single-shot clips stay <= 0.27 from
    # frame to frame; cuts measure 0.43-0.91.
    cut_threshold: float = 0.35
    # Keyframes kept per shot (the sharpest first).
    per_shot: int = 1


@dataclass(frozen=True, slots=True)
class DownloadSettings:
    retries: int = 3
    fragment_retries: int = 5
    socket_timeout_s: float = 20.0
    rate_limit: str | None = None
    cookies_file: str | None = None
    proxy: str | None = None
    user_agent: str | None = None
    format: str = "bestvideo*+bestaudio/best"


@dataclass(frozen=True, slots=True)
class BatchSettings:
    jobs: int = 1
    # Tries after the first for a URL that failed transiently (429, 5xx, a reset, a time-out), waiting
    # retry_base_s x 2^(n-1) (with jitter; at least the site's Retry-After; at most retry_max_wait_s).
    # Three tries over ~6 s ride out a site's passing hiccup without stalling a batch on a dead one.
    retries: int = 2
    retry_base_s: float = 2.0
    retry_max_wait_s: float = 60.0
    # How long `--dask ADDR` waits for the scheduler to answer before the batch is refused: a
    # scheduler on the same network answers in milliseconds; a wrong address should not hang a run.
    dask_connect_timeout_s: float = 10.0
    # `add` and `archive` match what they recorded against the archive at the end of the batch and
    # store the edges: matching later would decode every file a second time anyway, and doing it now
    # keeps `clusters`, `earliest` and `report` instant.  Off (`--no-match`) for runs that only
    # ingest; the first command that needs the matches computes them then.  It is not part of the
    # match key (clusters.match_key): when edges are made does not change what they are.
    match_on_add: bool = True


@dataclass(frozen=True, slots=True)
class TimestampSettings:
    # RFC 3161 time-stamping authorities, asked in turn; each one that answers gives the capture a
    # token of its own (independent witnesses).  Empty: nothing is ever sent anywhere.
    tsa_urls: tuple[str, ...] = ()
    # Stamp each new capture as `archive` records it (`archive --timestamp` sets it for one run).  A
    # TSA that fails is recorded as such and asked again by the next `provenance timestamp`.
    on_archive: bool = False
    # A TSA answers in well under a second; a TSA that hangs must not hold up an archive for long.
    timeout_s: float = 10.0
    # PEM files of the roots trusted for TSA certificates.  Without them a token is still checked
    # against the chain it carries, and the result says the root was not among the trusted ones.
    ca_files: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PageSettings:
    # Keep the post's page with each new capture: a WARC of what the server sent, packed as WACZ
    # (`archive --page` sets it for one run).
    keep: bool = False
    # A PNG of the page through headless Chromium, when it is installed.
    screenshot: bool = True
    chromium: str = "/usr/bin/chromium"
    # Subresources (images, styles, scripts) kept with the page so that it replays as it looked;
    # video and audio are left out (the media is archived on its own).  Bounds keep a hostile page
    # from filling the disk.
    max_resources: int = 40
    max_resource_bytes: int = 10_000_000
    max_total_bytes: int = 50_000_000
    timeout_s: float = 20.0
    # PEM file of extra roots trusted for https pages (a newsroom proxy's); the system's otherwise.
    ca_file: str | None = None


@dataclass(frozen=True, slots=True)
class RecheckSettings:
    # URLs asked at once, and the pause between two requests to the same host: a recheck of
    # thousands of posts on one platform stays at one request per host every `per_host_delay_s`.
    jobs: int = 4
    per_host_delay_s: float = 2.0
    # A platform's duration may be rounded to the second; more than this apart is other media.
    duration_tolerance_s: float = 1.5


@dataclass(frozen=True, slots=True)
class Settings:
    sampling: SamplingSettings = field(default_factory=SamplingSettings)
    hashing: HashSettings = field(default_factory=HashSettings)
    match: MatchSettings = field(default_factory=MatchSettings)
    keyframes: KeyframeSettings = field(default_factory=KeyframeSettings)
    download: DownloadSettings = field(default_factory=DownloadSettings)
    batch: BatchSettings = field(default_factory=BatchSettings)
    timestamp: TimestampSettings = field(default_factory=TimestampSettings)
    page: PageSettings = field(default_factory=PageSettings)
    recheck: RecheckSettings = field(default_factory=RecheckSettings)


def settings_key(*sections: object, version: int = 0) -> str:
    """A short stable key of some settings sections and a code version.  Derived data (cached
    matches, keyframes) is stored under it, so data made with other settings is made again."""
    text = json.dumps([version, *(dataclasses.asdict(section) for section in sections)], sort_keys=True)  # type: ignore[call-overload]
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _coerce(section: str, name: str, raw: Any, default: Any) -> Any:
    """The raw value as the type of the default; a value of another kind is a usage error."""
    wrong = UsageError(f"setting {section}.{name}: {raw!r} is not a {type(default).__name__}")
    if isinstance(default, bool):
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text not in ("1", "true", "yes", "on", "0", "false", "no", "off"):
            raise wrong
        return text in ("1", "true", "yes", "on")
    if isinstance(default, tuple):
        items = [str(i).strip() for i in (raw if isinstance(raw, list) else str(raw).split(","))]
        if default and isinstance(default[0], float):
            try:
                return tuple(float(i) for i in items if i)
            except ValueError:
                raise wrong from None
        if default and isinstance(default[0], int):
            try:
                return tuple(int(i) for i in items if i)
            except ValueError:
                raise wrong from None
        return tuple(i for i in items if i)
    if isinstance(raw, bool):  # TOML true/false is never a number
        raise wrong
    try:
        if isinstance(default, int):
            number = float(raw)
            if not number.is_integer():
                raise wrong
            return int(number)
        if isinstance(default, float):
            return float(raw)
    except (TypeError, ValueError):
        raise wrong from None
    return None if raw in (None, "") else str(raw)


# Bounds a value must keep to be meaningful; (section, field) -> (lowest, highest).
# The values of MatchSettings.search (see its comment).
SEARCH_MODES = ("auto", "exact", "indexed")

_BOUNDS = {
    ("sampling", "rate_hz"): (0.05, 60.0),
    ("sampling", "frame_side"): (32, 1024),
    ("sampling", "decode_threads"): (0, 64),
    ("sampling", "short_media_frames"): (0, 10000),
    ("sampling", "short_media_max_rate_hz"): (0.05, 60.0),
    ("match", "max_distance"): (0, 256),
    ("match", "query_rate_hz"): (0.05, 60.0),
    ("match", "offset_tolerance_s"): (0.0, 60.0),
    ("match", "max_gap_s"): (0.0, 3600.0),
    ("match", "min_frames"): (1, 1000),
    ("match", "min_evidence_s"): (0.0, 3600.0),
    ("match", "evidence_share"): (0.0, 1.0),
    ("match", "few_frames_max_distance"): (0, 256),
    ("match", "quarter_turns"): (1, 3),
    ("match", "frame_max_distance"): (0, 256),
    ("match", "frame_few_frames_max_distance"): (0, 256),
    ("batch", "jobs"): (1, 64),
    ("batch", "retries"): (0, 100),
    ("batch", "retry_base_s"): (0.0, 600.0),
    ("batch", "retry_max_wait_s"): (0.0, 3600.0),
    ("batch", "dask_connect_timeout_s"): (0.1, 600.0),
    ("download", "retries"): (0, 100),
    ("download", "fragment_retries"): (0, 100),
    ("download", "socket_timeout_s"): (0.1, 3600.0),
    ("timestamp", "timeout_s"): (0.1, 600.0),
    ("page", "max_resources"): (0, 1000),
    ("page", "max_resource_bytes"): (1, 1 << 32),
    ("page", "max_total_bytes"): (1, 1 << 34),
    ("page", "timeout_s"): (0.1, 600.0),
    ("recheck", "jobs"): (1, 64),
    ("recheck", "per_host_delay_s"): (0.0, 3600.0),
    ("recheck", "duration_tolerance_s"): (0.0, 3600.0),
}


def _check_bounds(section: str, name: str, value: Any) -> None:
    bounds = _BOUNDS.get((section, name))
    for item in value if isinstance(value, tuple) else (value,):  # a list's bounds hold for each item
        if bounds and not bounds[0] <= item <= bounds[1]:
            raise UsageError(f"setting {section}.{name} = {value!r} is outside {bounds[0]}..{bounds[1]}")


def load_settings(
    archive_root: Path | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Build Settings from the archive's provenance.toml, the environment and explicit overrides."""
    environ = os.environ if environ is None else environ
    from_file: dict[str, Any] = {}
    if archive_root is not None and (archive_root / "provenance.toml").is_file():
        try:
            from_file = tomllib.loads((archive_root / "provenance.toml").read_text("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise UsageError(f"{archive_root / 'provenance.toml'}: not valid TOML ({exc})") from None
    sections: dict[str, Any] = {}
    for section_field in dataclasses.fields(Settings):
        name = section_field.name
        default_section = section_field.default_factory()  # type: ignore[misc]
        values: dict[str, Any] = {}
        file_section = from_file.get(name, {})
        if not isinstance(file_section, dict):
            raise UsageError(f"{archive_root / 'provenance.toml'}: [{name}] must be a table of settings")
        for f in dataclasses.fields(default_section):
            default = getattr(default_section, f.name)
            raw: Any = dataclasses.MISSING
            if f.name in file_section:
                raw = file_section[f.name]
            env_key = f"PROVENANCE_{name.upper()}_{f.name.upper()}"
            if env_key in environ:
                raw = environ[env_key]
            if overrides and f.name in overrides.get(name, {}):
                raw = overrides[name][f.name]
            if raw is not dataclasses.MISSING:
                values[f.name] = _coerce(name, f.name, raw, default)
                _check_bounds(name, f.name, values[f.name])
        sections[name] = dataclasses.replace(default_section, **values)
    settings = Settings(**sections)
    if settings.match.search not in SEARCH_MODES:
        raise UsageError(
            f"setting match.search = {settings.match.search!r}: use one of {', '.join(SEARCH_MODES)}"
        )
    if settings.match.hasher not in settings.hashing.hashers:
        raise UsageError(
            f"setting match.hasher = {settings.match.hasher!r} is not among hashing.hashers"
            f" {list(settings.hashing.hashers)}: matches would look for hashes that are never stored"
        )
    return settings
