"""Orchestration: the archive handle and the jobs a user runs on it.

Only this package knows the order of stages.  Workers (threads: decoding and downloads release the
GIL) compute; only the calling thread writes to the catalog.
"""

from .add import MEDIA_EXTENSIONS, add_files, expand_inputs
from .archive import DEFAULT_ARCHIVE, Archive, OnEvent, OpenMode, open_archive, resolve_archive_root
from .clusters import archive_matches, build_timeline, list_clusters
from .evidence import gather_evidence
from .hashes import export_hashlist, import_hashlist, list_hashlists
from .ingest import Ingested, ingest_staged
from .measure import describe
from .query import Target, find_matches, is_url, media_info, resolve_target
from .shots import KeyframeSet, keyframes_of
from .verify import VerifyTable, read_url_list, read_verify_table, verify_urls
from .web import archive_one, archive_urls

__all__ = [
    "DEFAULT_ARCHIVE",
    "MEDIA_EXTENSIONS",
    "Archive",
    "Ingested",
    "KeyframeSet",
    "OnEvent",
    "OpenMode",
    "Target",
    "VerifyTable",
    "add_files",
    "archive_matches",
    "archive_one",
    "archive_urls",
    "build_timeline",
    "describe",
    "expand_inputs",
    "export_hashlist",
    "find_matches",
    "gather_evidence",
    "import_hashlist",
    "ingest_staged",
    "is_url",
    "keyframes_of",
    "list_clusters",
    "list_hashlists",
    "media_info",
    "open_archive",
    "read_url_list",
    "read_verify_table",
    "resolve_archive_root",
    "resolve_target",
    "verify_urls",
]
