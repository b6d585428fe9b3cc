"""Orchestration: the archive handle and the jobs a user runs on it.

Only this package knows the order of stages.  Workers (threads: decoding and downloads release the
GIL; or a Dask cluster's workers, cluster.py) compute; only the calling thread writes to the catalog.
"""

from __future__ import annotations

from ..lazy import lazy_exports

# Where each public name lives, imported on first use (../lazy.py): `info` needs no yt-dlp, no index.
_EXPORTS: dict[str, str] = {
    "MEDIA_EXTENSIONS": ".add",
    "add_files": ".add",
    "expand_inputs": ".add",
    "DEFAULT_ARCHIVE": ".archive",
    "Archive": ".archive",
    "OnEvent": ".archive",
    "OpenMode": ".archive",
    "open_archive": ".archive",
    "resolve_archive_root": ".archive",
    "archive_matches": ".clusters",
    "build_timeline": ".clusters",
    "list_clusters": ".clusters",
    "gather_evidence": ".evidence",
    "export_hashlist": ".hashes",
    "import_hashlist": ".hashes",
    "list_hashlists": ".hashes",
    "Ingested": ".ingest",
    "ingest_staged": ".ingest",
    "describe": ".measure",
    "Target": ".query",
    "find_matches": ".query",
    "is_url": ".query",
    "media_info": ".query",
    "resolve_target": ".query",
    "KeyframeSet": ".shots",
    "keyframes_of": ".shots",
    "VerifyTable": ".verify",
    "read_url_list": ".verify",
    "read_verify_table": ".verify",
    "verify_urls": ".verify",
    "archive_one": ".web",
    "archive_urls": ".web",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
