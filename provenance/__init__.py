"""provenance: keep, describe and fingerprint footage; find every copy and where it came from.

The Python API mirrors the CLI::

    from provenance import open_archive, add_files, build_timeline, find_matches

    with open_archive("cases/strike") as archive:
        for result in add_files(archive, ["downloads/"]):
            print(result.status, result.path)
        query, matches = find_matches(archive, "suspect_copy.mp4")
        target, cluster = build_timeline(archive, "suspect_copy.mp4")
        report = check_archive(archive)        # fixity: report.problems, [] when intact
"""

from __future__ import annotations

from .lazy import lazy_exports

__version__ = "0.1.0"

# Where each public name lives, imported on first use (lazy.py).
_EXPORTS: dict[str, str] = {
    "recheck_urls": ".custody.availability",
    "export_bag": ".custody.bags",
    "verify_bag": ".custody.bags",
    "check_archive": ".custody.fixity",
    "stamp_captures": ".custody.timestamps",
    "ArchiveError": ".errors",
    "BadInputError": ".errors",
    "CorruptMediaError": ".errors",
    "DownloadError": ".errors",
    "MissingExtraError": ".errors",
    "NotMediaError": ".errors",
    "ProvenanceError": ".errors",
    "UsageError": ".errors",
    "AddResult": ".models",
    "Appearance": ".models",
    "ArchivedMedia": ".models",
    "ArchiveResult": ".models",
    "Capture": ".models",
    "Cluster": ".models",
    "Derivation": ".models",
    "ExportSummary": ".models",
    "Fingerprint": ".models",
    "GeoPoint": ".models",
    "HashlistEntry": ".models",
    "ImportedFrom": ".models",
    "ImportedList": ".models",
    "ImportSummary": ".models",
    "Keyframe": ".models",
    "Match": ".models",
    "MediaFile": ".models",
    "MediaInfo": ".models",
    "Segment": ".models",
    "Timestamp": ".models",
    "Archive": ".pipeline",
    "add_files": ".pipeline",
    "archive_urls": ".pipeline",
    "build_timeline": ".pipeline",
    "export_hashlist": ".pipeline",
    "find_matches": ".pipeline",
    "import_hashlist": ".pipeline",
    "list_clusters": ".pipeline",
    "list_hashlists": ".pipeline",
    "media_info": ".pipeline",
    "open_archive": ".pipeline",
    "verify_urls": ".pipeline",
    "Settings": ".settings",
    "load_settings": ".settings",
}

__all__ = sorted([*_EXPORTS, "__version__"])

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
