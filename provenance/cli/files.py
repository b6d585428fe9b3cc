"""Commands on files and the archive's media: add, match, info, list."""

from __future__ import annotations

import click
from rich.table import Table
from rich.text import Text

from .. import pipeline, report
from ..errors import ExitCode
from .base import State, cli, dask_option, emit_json, err, match_overrides, no_match_option, out, progress_bar
from .metadata_tables import metadata_tables


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=str))
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(1, 64),
    default=None,
    help="Files processed at once, the CPUs shared among them (with --dask: the cluster's task slots).",
)
@click.option(
    "--refresh",
    is_flag=True,
    help="Describe and fingerprint archived files again (e.g. after installing an extra).",
)
@no_match_option
@dask_option
@click.option("--json", "as_json", is_flag=True, help="One JSON line per file.")
@click.pass_obj
def add(
    state: State,
    paths: tuple[str, ...],
    jobs: int | None,
    refresh: bool,
    no_match: bool,
    dask: str | None,
    as_json: bool,
) -> None:
    """Add video and photo files (or folders of them) to the archive.

    \b
    Each file is copied into the archive under its SHA-256, described, and fingerprinted.
    Adding a file that is already there reports `exists` and stores nothing twice; a file that
    cannot be used (not media, damaged, unreadable) is reported as `failed` and the others go on.
    At the end the new media are matched against the archive and the matches kept, so `clusters`
    answers at once (--no-match leaves that to `clusters`).
    \b
    Examples:
      provenance add ~/cases/strike/              # every video and photo under the folder
      provenance add clip.mp4 photo.heic --json   # one JSON line per file
      provenance add --refresh IMG_0042.heic      # describe again, e.g. after pip install 'provenance[heic]'
      provenance add /shared/case/ --dask tcp://scheduler:8786   # decoded on the cluster's workers
      provenance add ~/incoming/ --no-match       # ingest only; `clusters` matches later
    """
    counts = {"added": 0, "exists": 0, "failed": 0}
    with (
        state.open(overrides=match_overrides(no_match)) as opened,
        progress_bar("adding", not as_json and err.is_terminal) as on_event,
    ):
        for result in pipeline.add_files(
            opened, paths, jobs=jobs, refresh=refresh, on_event=on_event, dask=dask
        ):
            counts[result.status] += 1
            if result.error:
                err.print(f"provenance: {result.error.message}", markup=False)
            if as_json:
                emit_json(report.add_record(result))
            else:
                sha = (result.sha256 or "")[:12]
                out.print(f"{result.status:<7} {sha:<12} {result.path}", markup=False)
    if not as_json and sum(counts.values()) > 1:  # a single file's outcome is its own line already
        err.print(f"{counts['added']} added, {counts['exists']} already archived, {counts['failed']} failed")
    if counts["failed"]:
        ok = counts["added"] + counts["exists"]
        raise SystemExit(ExitCode.PARTIAL if ok else ExitCode.BAD_INPUT)


@cli.command()
@click.argument("target")
@click.option("--json", "as_json", is_flag=True, help="One JSON line per matching media, best first.")
@click.pass_obj
def match(state: State, target: str, as_json: bool) -> None:
    """List archived media that share footage with TARGET (a file, or an archived sha256).

    Each match gives a score in [0, 1] (how much of the query or of the archived media the
    shared footage covers) and the aligned segments: query time ~ archived media time.

    The query is searched as it is and mirrored, zoomed in and out, turned a quarter turn either
    way, cut to any player window, picture-in-picture or 9:16 re-frame's band of footage found on
    it, and, where it has bars, on its whole frame too (bars can be the copy's own: a slight
    turn's black corners); each segment names the view that met the footage (hflip, zoom1.25,
    rot90, inset, whole...).  A segment needs 4 frames in time order (3 against a clip of a few
    frames; min_frames) that show more than one picture; a still stretch (a static camera, a
    slide) is one picture however long, and must then be as close as a single frame
    (few_frames_max_distance), or, when the archived file is there, share enough keypoints with it
    (second_look).
    The [match] settings in <archive>/provenance.toml (quarter_turns, insets, max_distance, ...)
    change what is tried.
    """
    with state.open("existing") as opened:
        resolved, matches = pipeline.find_matches(opened, target)
        records = [
            report.match_record(
                m, opened.catalog.get_media(m.ref_sha256), opened.catalog.sources(m.ref_sha256)
            )
            for m in matches
        ]
    if as_json:
        for record in records:
            emit_json(record)
        return
    if not records:
        out.print(f"No archived media shares footage with {resolved.label}.", markup=False)
        return
    table = Table(title=Text(f"Footage shared with {resolved.label}"), title_justify="left")
    for column in ("score", "archived media", "sha256", "segments (query ~ archived)"):
        table.add_column(column)
    for m, record in zip(matches, records, strict=True):
        table.add_row(
            f"{m.score:.2f}",
            _name(record),
            m.ref_sha256[:12],
            "\n".join(report.describe_segment(s) for s in m.segments),
        )
    out.print(table)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON line per index made.")
@click.pass_obj
def reindex(state: State, as_json: bool) -> None:
    """Make the search index anew from the catalog's fingerprints.

    \b
    The index (<archive>/index/) is derived data: `add` and `match` keep it in step with the
    catalog by themselves, and a damaged or half-written index file is noticed and indexed again.
    Run this after restoring an archive from a copy without its index/ folder, or to compact an
    index grown in many small steps. Nothing is decoded again: fingerprints come from the catalog.
    Example:
      provenance reindex
    """
    with state.open("existing") as opened:
        rebuilt = opened.reindex()
        for hasher, index in rebuilt:
            record = {
                "hasher": hasher,
                "media": len(index.media),
                "frames": len(index),
                "segments": len(index.segments),
            }
            if as_json:
                emit_json(record)
            else:
                out.print(
                    f"indexed {record['frames']} frames of {record['media']} media ({hasher})", markup=False
                )
        if not rebuilt and not as_json:
            out.print("Nothing to index: the archive holds no fingerprints.", markup=False)


@cli.command()
@click.argument("target")
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
@click.pass_obj
def info(state: State, target: str, as_json: bool) -> None:
    """Show what a file, archived URL or sha256 says about itself: streams, tags, time, place, device,
    XMP edit history, IPTC, maker notes, telemetry, Content Credentials, embedded thumbnails, and the
    captures of it in the archive.

    \b
    Every time the file states is listed with its origin and zone; `created` is the one chosen, and
    `created: why` says why.  Caveats name what the file claims but could not be used (a camera
    clock left on local time, a damaged metadata block, a thumbnail that shows another picture).
    Examples:
      provenance info clip.mp4
      provenance info photo.jpg --json | jq .xmp.history
      provenance info 3f2a9c0d41b7 --json
    """
    with state.open("optional") as opened:
        resolved, media_info = pipeline.media_info(opened, target)
        sources = opened.catalog.sources(resolved.sha256) if resolved.archived else []
    record = report.info_record(
        media_info,
        path=resolved.path,
        archived=resolved.archived is not None,
        sources=sources,
        captures=resolved.captures,
    )
    if as_json:
        emit_json(record)
        return
    table = Table(show_header=False, title=Text(resolved.label), title_justify="left")
    table.add_column("field", style="bold")
    table.add_column("value")
    created = record["created_at"]
    location = record["location"]
    rows = [
        ("sha256", record["sha256"]),
        ("kind", record["kind"]),
        ("archived", "yes" if record["archived"] else "no"),
        *((k, "" if v is None else str(v)) for k, v in record["container"].items()),
        ("created", f"{created['value']} ({created['precision']}, {created['source']})" if created else "-"),
        ("created: why", record["created_at_why"] or "-"),
        ("location", f"{location['lat']:.5f}, {location['lon']:.5f}" if location else "-"),
        *((k, v or "-") for k, v in record["device"].items()),
    ]
    for key, value in rows:
        table.add_row(key, value)
    out.print(table)
    for caveat in record["caveats"]:
        out.print(f"caveat: {caveat}", markup=False)
    for section in metadata_tables(record):
        out.print(section)
    if record["captures"]:
        captures = Table(
            "published", "precision", "uploader", "url", "captured", title="captures", title_justify="left"
        )
        for c in record["captures"]:
            captures.add_row(
                c["published_at"] or "-",
                c["published_precision"] or "-",
                c["uploader"] or "-",
                c["url"],
                c["captured_at"],
            )
        out.print(captures)
    if record["raw_tags"]:
        tags = Table("tag", "value", title="raw tags", title_justify="left")
        for key, value in record["raw_tags"].items():
            tags.add_row(key, value[:200])
        out.print(tags)


@cli.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="One JSON line per archived media.")
@click.pass_obj
def list_media(state: State, as_json: bool) -> None:
    """List the media in the archive, oldest first."""
    with state.open("existing") as opened:
        media = opened.catalog.list_media()
        if as_json:
            for item in media:
                emit_json(report.media_record(item, opened.root))
            return
    table = Table("sha256", "kind", "name", "duration", "size", "fingerprints", "added")
    for item in media:
        duration = f"{item.duration_s:.1f}s" if item.duration_s else "-"
        origin = item.imported
        table.add_row(
            item.sha256[:12],
            item.kind,
            f"imported from {origin.source}: {origin.external_id[:16]}" if origin else item.original_name,
            duration,
            f"{item.width}x{item.height}",
            ",".join(item.fingerprints),
            item.added_at.strftime("%Y-%m-%d %H:%M"),
        )
    out.print(table)
    err.print(f"{len(media)} media in {opened.root}")


def _name(record: dict) -> str:
    """A match's name column: the file name, or where imported fingerprints came from."""
    origin = record.get("imported")
    if origin:
        return f"imported from {origin['source']}: {origin['external_id'][:16]}"
    return record["name"] or ""
