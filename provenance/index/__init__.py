"""Hamming search over stored frame hashes.

`HashIndex` (exact.py) is the exact, in-memory reference; `ArchiveIndex` (archive_index.py) is the
archive's index: segments on disk in step with the catalog, searched in two stages (chunks.py, then
exact.py on the media found).  Both return bounded `FrameHits` (hits.py).
"""

from .archive_index import ArchiveIndex, ArchiveStore
from .exact import BLOCK_BYTES, HashIndex, as_words, search_rows
from .hits import HITS_PER_FRAME, HITS_PER_MEDIA, FrameHits, cap_hits, collapse_hits

# What matching searches: both give media, informative_frames, owner[rows], times_ms[rows],
# times_of(media number), words_of(media number), len() and search(hashes, max_distance,
# query_times_ms).
SearchIndex = HashIndex | ArchiveIndex

__all__ = [
    "BLOCK_BYTES",
    "HITS_PER_FRAME",
    "HITS_PER_MEDIA",
    "ArchiveIndex",
    "ArchiveStore",
    "FrameHits",
    "HashIndex",
    "SearchIndex",
    "as_words",
    "cap_hits",
    "collapse_hits",
    "search_rows",
]
