"""Clusters of media sharing footage, the order their appearances came in, where each copy came from.

Pure functions over values the pipeline gathers (matches between archived media, appearances,
other times): no decoding, no catalog.  Published times are compared as intervals
(`Timestamp.earliest()`/`latest()`), so a date without a time is the whole day, never midnight.
Times that are not upload times (container, EXIF, capture) are carried beside the ordering as
`OtherTime`s and never enter it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from .models import (
    Appearance,
    Cluster,
    Derivation,
    DerivationKind,
    DocumentLink,
    Match,
    OtherTime,
    Segment,
    Timestamp,
    XmpInfo,
    utc_iso,
)

# Share of one side's informative frames found in the other at which its footage counts as wholly
# present.  Frames are sampled at 2/s and each segment starts and ends at a matched sample, so an
# edited copy loses up to a sample at each cut; 0.8 keeps a 4 s excerpt with both ends clipped
# "whole", while a compilation that adds as much footage as it borrows (0.5) stays partial.
SAME_FOOTAGE = 0.8

PairMatches = Mapping[tuple[str, str], Match]  # (query sha256, reference sha256) -> Match


@dataclass(frozen=True, slots=True)
class _Pair:
    """One media's footage found in another: segments with query = child, reference = parent."""

    segments: tuple[Segment, ...]
    child_share: float  # how much of the child's footage the parent holds
    parent_share: float  # how much of the parent's footage the child shows


def cluster_id(members: Iterable[str]) -> str:
    return hashlib.sha256("\n".join(sorted(members)).encode("ascii")).hexdigest()


def connected_groups(media: Iterable[str], matches: Iterable[Match]) -> list[frozenset[str]]:
    """Connected components of media linked by matches with at least one segment; biggest first."""
    parent = {sha: sha for sha in media}

    def root(sha: str) -> str:
        while parent[sha] != sha:
            parent[sha] = parent[parent[sha]]
            sha = parent[sha]
        return sha

    for m in matches:
        q = m.query_sha256
        if q is None or q == m.ref_sha256 or not m.segments or q not in parent or m.ref_sha256 not in parent:
            continue
        parent[root(q)] = root(m.ref_sha256)
    groups: dict[str, set[str]] = {}
    for sha in parent:
        groups.setdefault(root(sha), set()).add(sha)
    return sorted((frozenset(g) for g in groups.values()), key=lambda g: (-len(g), min(g)))


def flip_segment(s: Segment) -> Segment:
    """The same stretch seen from the other side (query and reference swapped)."""
    return replace(
        s,
        query_start_ms=s.ref_start_ms,
        query_end_ms=s.ref_end_ms,
        ref_start_ms=s.query_start_ms,
        ref_end_ms=s.query_end_ms,
        speed=round(1.0 / s.speed, 3) if s.speed else 1.0,
    )


def pair(matches: PairMatches, child: str, parent: str) -> _Pair | None:
    """The child's footage in the parent, from whichever side the matcher found it."""
    found = matches.get((child, parent))
    if found is not None and found.segments:
        return _Pair(found.segments, found.query_coverage, found.ref_coverage)
    other = matches.get((parent, child))
    if other is not None and other.segments:
        segments = tuple(flip_segment(s) for s in other.segments)
        return _Pair(segments, other.ref_coverage, other.query_coverage)
    return None


def shared_ms(sha: str, members: Iterable[str], matches: PairMatches) -> int:
    """How much of this media's footage (ms, union of segments) other members also show."""
    spans = sorted(
        (s.query_start_ms, s.query_end_ms)
        for other in members
        if other != sha and (found := pair(matches, sha, other))
        for s in found.segments
    )
    total, end = 0, -1
    for start, stop in spans:
        if stop > end:
            total += stop - max(start, end)
            end = stop
    return total


# How complete a media's footage is: (ms shared with other members, ms to the end of its footage as
# far as its matches show).  The first says which copy shows most of what the cluster has in common;
# the second breaks the tie of a pair, where the shared seconds are the same on both sides.
Completeness = tuple[int, int]
NONE: Completeness = (0, 0)


def completeness(sha: str, members: Iterable[str], matches: PairMatches) -> Completeness:
    extent = max((s.query_end_ms for (q, _), m in matches.items() if q == sha for s in m.segments), default=0)
    extent = max([extent, *(s.ref_end_ms for (_, r), m in matches.items() if r == sha for s in m.segments)])
    return shared_ms(sha, members, matches), extent


def _negate(c: Completeness) -> Completeness:
    return (-c[0], -c[1])


def _start(ts: Timestamp | None) -> datetime | None:
    return ts.earliest() if ts else None


def order_appearances(appearances: Iterable[Appearance]) -> tuple[Appearance, ...]:
    """Those with a published time by interval start (then end), then those without, as captured."""
    given = list(appearances)
    timed = [a for a in given if a.published_at]
    untimed = [a for a in given if not a.published_at]
    timed.sort(key=lambda a: (a.published_at.earliest(), a.published_at.latest(), _tiebreak(a)))  # type: ignore[union-attr]
    untimed.sort(key=_tiebreak)
    return (*timed, *untimed)


def _tiebreak(a: Appearance) -> tuple[str, str, str]:
    return (utc_iso(a.captured_at) if a.captured_at else "~", a.capture_id or "", a.source_path or "")


def earliest_of(ordered: Sequence[Appearance]) -> tuple[Appearance | None, tuple[Appearance, ...]]:
    """The appearance whose published interval starts first, and every other one overlapping it."""
    timed = [a for a in ordered if a.published_at]
    if not timed:
        return None, ()
    first = timed[0]
    end = first.published_at.latest()  # type: ignore[union-attr]
    return first, tuple(a for a in timed[1:] if a.published_at.earliest() <= end)  # type: ignore[union-attr]


def first_seen(members: Iterable[str], appearances: Iterable[Appearance]) -> dict[str, datetime | None]:
    """Each member's earliest published interval start (None when no appearance of it has one)."""
    seen: dict[str, datetime | None] = dict.fromkeys(members)
    for a in appearances:
        start = _start(a.published_at)
        if start is not None and a.sha256 in seen:
            current = seen[a.sha256]
            seen[a.sha256] = start if current is None else min(current, start)
    return seen


def _kind(found: _Pair) -> DerivationKind:
    whole_child, whole_parent = found.child_share >= SAME_FOOTAGE, found.parent_share >= SAME_FOOTAGE
    if whole_child:
        return "same_footage" if whole_parent else "excerpt"
    return "contains" if whole_parent else "overlap"


def derivations(
    members: Sequence[str],
    seen: Mapping[str, datetime | None],
    complete: Mapping[str, Completeness],
    matches: PairMatches,
) -> tuple[Derivation, ...]:
    """One edge per copy, from its likeliest source among the members that came before it.

    "Before" is by first published time; members without one come after those with one, and
    among themselves (or at the same time) the more complete footage comes first.  A copy's
    source is the earlier member holding the largest share of its footage.
    """
    far = datetime.max.replace(tzinfo=None)

    def rank(sha: str) -> tuple[datetime, Completeness, str]:
        start = seen.get(sha)
        return (start.replace(tzinfo=None) if start else far, _negate(complete.get(sha, NONE)), sha)

    order = sorted(members, key=rank)
    edges = []
    for position, child in enumerate(order):
        options = [(p, found) for p in order[:position] if (found := pair(matches, child, p))]
        if not options:
            continue
        source, found = max(
            options, key=lambda o: (o[1].child_share, complete.get(o[0], NONE), -order.index(o[0]))
        )
        child_start, source_start = seen.get(child), seen.get(source)
        timed = child_start is not None and source_start is not None and source_start < child_start
        edges.append(
            Derivation(
                from_sha256=source,
                to_sha256=child,
                kind=_kind(found),
                basis="published_at" if timed else "completeness",
                mirrored=any("hflip" in s.variant for s in found.segments),
                segments=found.segments,
            )
        )
    return tuple(edges)


def label(a: Appearance) -> str:
    if a.imported_from and not a.url:
        return f"{a.sha256[:12]} (imported from {a.imported_from})"
    return a.url or a.source_path or a.sha256[:12]


def when(ts: Timestamp) -> str:
    text = ts.value.strftime("%Y-%m-%d") if ts.precision == "day" else utc_iso(ts.value)
    return f"{text} ({ts.precision} precision, {ts.source})"


def likely_original(
    members: Sequence[str],
    earliest: Appearance | None,
    ambiguous: Sequence[Appearance],
    complete: Mapping[str, Completeness],
) -> tuple[str, str]:
    """The earliest appearance with the most complete footage, and a sentence saying why."""
    if len(members) == 1:
        return members[0], "No other archived media shares this footage."
    if earliest is None:
        best = max(sorted(members), key=lambda sha: complete.get(sha, NONE))
        return best, (
            f"No appearance has a published time; {best[:12]} shows the most complete footage "
            f"({complete.get(best, NONE)[0] / 1000:.1f} s shared with the other copies)."
        )
    candidates = [earliest, *ambiguous]
    chosen = max(candidates, key=lambda a: (complete.get(a.sha256, NONE), -candidates.index(a)))
    seconds = complete.get(chosen.sha256, NONE)[0] / 1000
    assert earliest.published_at is not None
    if chosen is earliest:
        why = (
            f"{label(earliest)} is the earliest appearance, published {when(earliest.published_at)}, "
            f"and shows the most complete footage ({seconds:.1f} s shared with the other copies)."
        )
        if ambiguous:
            others = ", ".join(label(a) for a in ambiguous)
            why += f" Its published time overlaps that of {others}, so which came first is not certain."
        return earliest.sha256, why
    assert chosen.published_at is not None
    return chosen.sha256, (
        f"{label(earliest)} has the earliest published time ({when(earliest.published_at)}), but it "
        f"overlaps that of {label(chosen)} ({when(chosen.published_at)}), which shows more of the footage "
        f"({seconds:.1f} s against {complete.get(earliest.sha256, NONE)[0] / 1000:.1f} s): "
        "the fuller copy is the likelier original."
    )


def caveats(
    ordered: Sequence[Appearance],
    ambiguous: Sequence[Appearance],
    edges: Sequence[Derivation],
    complete: Mapping[str, Completeness],
    other_times: Sequence[OtherTime],
) -> tuple[str, ...]:
    """What a reader must keep in mind when weighing this timeline."""
    notes = [
        "Published times are what each site states: uploaders and platforms can edit or backdate them, "
        "and a re-upload may carry the original's date."
    ]
    if ambiguous:
        notes.append(
            f"The first appearance is ambiguous: {len(ambiguous)} other published time(s) overlap the "
            "earliest (a date without a time stands for the whole day)."
        )
    generic = [a for a in ordered if a.published_at and (a.extractor or "").lower() == "generic"]
    if generic:
        notes.append(
            f"{len(generic)} time(s) come from a plain page or file without platform metadata; such a time "
            "may be the server's Last-Modified header, which says when the file last changed there, not "
            "when it was first published."
        )
    untimed = [a for a in ordered if not a.published_at]
    if untimed:
        notes.append(
            f"{len(untimed)} appearance(s) have no published time (local files, pages without a date) and "
            "are listed after the ordered ones."
        )
    if any(
        e.basis == "published_at" and complete.get(e.to_sha256, NONE) > complete.get(e.from_sha256, NONE)
        for e in edges
    ):
        notes.append(
            "A later upload shows more of the footage than the earlier one it is drawn from: both may "
            "come from a source that is not in the archive."
        )
    imported = sorted({a.imported_from for a in ordered if a.imported_from})
    if imported:
        notes.append(
            f"{sum(1 for a in ordered if a.imported_from)} appearance(s) come from hash lists imported from "
            f"{', '.join(imported)}: their URLs and published times are what that source asserts, and "
            "the archive holds their fingerprints, not their footage."
        )
    if other_times:
        notes.append(
            "Container creation times, EXIF dates and capture times are listed apart: they say when a file "
            "was encoded or recorded, or when it was archived, not when it was published; re-encoding "
            "often resets them."
        )
    return tuple(notes)


def _link(a: str, xa: XmpInfo, b: str, xb: XmpInfo) -> DocumentLink | None:
    """How b's XMP ties it to a's, strongest first; None when it does not."""
    if xa.instance_id and xb.derived_from_instance_id == xa.instance_id:
        return DocumentLink(a, b, "derived_from", xa.instance_id)
    if xa.document_id and xb.derived_from_document_id == xa.document_id:
        return DocumentLink(a, b, "derived_from", xa.document_id)
    history = {e.instance_id for e in xb.history if e.instance_id}
    if xa.instance_id and xa.instance_id != xb.instance_id and xa.instance_id in history:
        return DocumentLink(a, b, "later_save", xa.instance_id)
    return None


def document_links(xmp: Mapping[str, XmpInfo]) -> tuple[DocumentLink, ...]:
    """Links between media from their XMP ids (``xmp``: sha256 -> its XMP), directed where an id
    says which came first.  Pairs of members only: O(members^2) over a cluster, never the archive."""
    links: list[DocumentLink] = []
    shas = sorted(xmp)
    for i, a in enumerate(shas):
        for b in shas[i + 1 :]:
            xa, xb = xmp[a], xmp[b]
            found = _link(a, xa, b, xb) or _link(b, xb, a, xa)
            if found is None and xa.document_id and xa.document_id == xb.document_id:
                found = DocumentLink(a, b, "same_document", xa.document_id)
            original = xa.original_document_id
            if found is None and original and original == xb.original_document_id:
                found = DocumentLink(a, b, "same_original", original)
            if found is not None:
                links.append(found)
    return tuple(links)


def build_cluster(
    members: Iterable[str],
    appearances: Iterable[Appearance],
    matches: PairMatches,
    other_times: Iterable[OtherTime] = (),
    xmp: Mapping[str, XmpInfo] | None = None,
) -> Cluster:
    """The whole answer for one group of media: order, earliest, derivations, likely original."""
    shas = tuple(sorted(set(members)))
    ordered = order_appearances(a for a in appearances if a.sha256 in shas)
    earliest, ambiguous = earliest_of(ordered)
    complete = {sha: completeness(sha, shas, matches) for sha in shas}
    edges = derivations(shas, first_seen(shas, ordered), complete, matches)
    original, why = likely_original(shas, earliest, ambiguous, complete)
    shown = tuple(_with_segments(a, original, matches) for a in ordered)
    by_key = {_key(a): a for a in shown}
    others = tuple(sorted(other_times, key=lambda t: (t.time.earliest(), t.sha256)))
    return Cluster(
        cluster_id=cluster_id(shas),
        members=shas,
        appearances=shown,
        earliest=by_key[_key(earliest)] if earliest else None,
        ambiguous_with=tuple(by_key[_key(a)] for a in ambiguous),
        derivations=edges,
        likely_original=original,
        why=why,
        other_times=others,
        caveats=caveats(shown, ambiguous, edges, complete, others),
        document_links=document_links({sha: x for sha, x in (xmp or {}).items() if sha in shas}),
    )


def _key(a: Appearance) -> tuple[str, str | None, str | None]:
    return (a.sha256, a.capture_id, a.source_path)


def _with_segments(a: Appearance, original: str, matches: PairMatches) -> Appearance:
    found = pair(matches, a.sha256, original)
    return replace(a, segments=found.segments) if found else a
