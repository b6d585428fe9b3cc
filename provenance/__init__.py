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

from .custody.availability import recheck_urls
from .custody.bags import export_bag, verify_bag
from .custody.fixity import check_archive
from .custody.timestamps import stamp_captures
from .errors import (
    ArchiveError,
    BadInputError,
    CorruptMediaError,
    DownloadError,
    MissingExtraError,
    NotMediaError,
    ProvenanceError,
    UsageError,
)
from .models import (
    AddResult,
    Appearance,
    ArchivedMedia,
    ArchiveResult,
    Capture,
    Cluster,
    Derivation,
    ExportSummary,
    Fingerprint,
    GeoPoint,
    HashlistEntry,
    ImportedFrom,
    ImportedList,
    ImportSummary,
    Keyframe,
    Match,
    MediaFile,
    MediaInfo,
    Segment,
    Timestamp,
)
from .pipeline import (
    Archive,
    add_files,
    archive_urls,
    build_timeline,
    export_hashlist,
    find_matches,
    import_hashlist,
    list_clusters,
    list_hashlists,
    media_info,
    open_archive,
    verify_urls,
)
from .settings import Settings, load_settings

__version__ = "0.1.0"

__all__ = [
    "AddResult",
    "Appearance",
    "Archive",
    "ArchiveError",
    "ArchiveResult",
    "ArchivedMedia",
    "BadInputError",
    "Capture",
    "Cluster",
    "CorruptMediaError",
    "Derivation",
    "DownloadError",
    "ExportSummary",
    "Fingerprint",
    "GeoPoint",
    "HashlistEntry",
    "ImportSummary",
    "ImportedFrom",
    "ImportedList",
    "Keyframe",
    "Match",
    "MediaFile",
    "MediaInfo",
    "MissingExtraError",
    "NotMediaError",
    "ProvenanceError",
    "Segment",
    "Settings",
    "Timestamp",
    "UsageError",
    "__version__",
    "add_files",
    "archive_urls",
    "build_timeline",
    "check_archive",
    "export_bag",
    "export_hashlist",
    "find_matches",
    "import_hashlist",
    "list_clusters",
    "list_hashlists",
    "load_settings",
    "media_info",
    "open_archive",
    "recheck_urls",
    "stamp_captures",
    "verify_bag",
    "verify_urls",
]
