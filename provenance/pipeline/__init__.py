"""Orchestration: the archive handle and the jobs a user runs on it.

Only this package knows the order of stages.  Workers (threads: decoding and downloads release the
GIL) compute; only the calling thread writes to the catalog.
"""

from .add import MEDIA_EXTENSIONS, add_files, expand_inputs
from .archive import DEFAULT_ARCHIVE, Archive, OnEvent, open_archive, resolve_archive_root
from .ingest import Ingested, describe, ingest_staged
from .query import Target, find_matches, is_url, media_info, resolve_target
from .web import archive_one, archive_urls, read_url_list

__all__ = [
    "DEFAULT_ARCHIVE",
    "MEDIA_EXTENSIONS",
    "Archive",
    "Ingested",
    "OnEvent",
    "Target",
    "add_files",
    "archive_one",
    "archive_urls",
    "describe",
    "expand_inputs",
    "find_matches",
    "ingest_staged",
    "is_url",
    "media_info",
    "open_archive",
    "read_url_list",
    "resolve_archive_root",
    "resolve_target",
]
