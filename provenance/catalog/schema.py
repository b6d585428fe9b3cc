"""The catalog's schema, as an ordered list of migrations; PRAGMA user_version counts those applied.

Fingerprints are one row per (media, hasher, rate) with the frame data packed in BLOBs (layout 1):
``times_ms`` little-endian int32, ``hashes`` the packed bits (``bits // 8`` bytes per frame, frame
after frame), ``quality`` one uint8 per frame.  The search index is built by concatenating them.
"""

from __future__ import annotations

FINGERPRINT_LAYOUT = 1

MIGRATIONS: tuple[str, ...] = (
    # 1: media, where each file came from, what it says about itself, fingerprints.
    """
    CREATE TABLE media (
        sha256 TEXT PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('video', 'image')),
        ext TEXT NOT NULL,
        path TEXT NOT NULL,
        size_bytes INTEGER NOT NULL,
        original_name TEXT NOT NULL,
        duration_s REAL,
        width INTEGER NOT NULL,
        height INTEGER NOT NULL,
        added_at TEXT NOT NULL
    );
    CREATE TABLE sources (
        sha256 TEXT NOT NULL REFERENCES media(sha256),
        source_path TEXT NOT NULL,
        added_at TEXT NOT NULL,
        PRIMARY KEY (sha256, source_path)
    );
    CREATE TABLE media_info (
        sha256 TEXT PRIMARY KEY REFERENCES media(sha256),
        info_json TEXT NOT NULL
    );
    CREATE TABLE fingerprints (
        id INTEGER PRIMARY KEY,
        sha256 TEXT NOT NULL REFERENCES media(sha256),
        hasher TEXT NOT NULL,
        rate_hz REAL NOT NULL,
        layout INTEGER NOT NULL,
        frame_count INTEGER NOT NULL,
        times_ms BLOB NOT NULL,
        hashes BLOB NOT NULL,
        quality BLOB NOT NULL,
        content_box TEXT,
        created_at TEXT NOT NULL,
        UNIQUE (sha256, hasher, rate_hz)
    );
    """,
    # 2: captures of web posts, and batches of URLs whose jobs survive a killed run.
    """
    CREATE TABLE captures (
        id INTEGER PRIMARY KEY,
        capture_id TEXT NOT NULL,
        url TEXT NOT NULL,
        webpage_url TEXT,
        extractor TEXT,
        platform_id TEXT,
        uploader TEXT,
        uploader_id TEXT,
        channel TEXT,
        title TEXT,
        description TEXT,
        duration_s REAL,
        view_count INTEGER,
        like_count INTEGER,
        published_at TEXT,
        published_precision TEXT,
        published_source TEXT,
        captured_at TEXT NOT NULL,
        tool_versions TEXT NOT NULL,
        final_url TEXT,
        http_status INTEGER,
        sha256 TEXT NOT NULL REFERENCES media(sha256),
        folder TEXT NOT NULL,
        files TEXT NOT NULL
    );
    CREATE INDEX captures_by_id ON captures (capture_id);
    CREATE INDEX captures_by_media ON captures (sha256);
    CREATE TABLE batches (
        batch_id TEXT PRIMARY KEY,
        started_at TEXT NOT NULL,
        size INTEGER NOT NULL
    );
    CREATE TABLE jobs (
        batch_id TEXT NOT NULL REFERENCES batches(batch_id),
        position INTEGER NOT NULL,
        url TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed')),
        attempts INTEGER NOT NULL DEFAULT 0,
        capture_id TEXT,
        error_kind TEXT,
        error_message TEXT,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (batch_id, position)
    );
    """,
    # 3: matches between archived media, derived data (rule 8): a cache for clusters and timelines.
    # A media's row in `match_runs` says which index it was matched against (the largest fingerprint
    # id then) and under which settings; every pair is covered from the side added later.
    """
    CREATE TABLE match_runs (
        query_sha256 TEXT NOT NULL REFERENCES media(sha256),
        settings_key TEXT NOT NULL,
        query_fingerprint_id INTEGER NOT NULL,
        checkpoint_id INTEGER NOT NULL,
        computed_at TEXT NOT NULL,
        PRIMARY KEY (query_sha256, settings_key)
    );
    CREATE TABLE matches (
        query_sha256 TEXT NOT NULL REFERENCES media(sha256),
        ref_sha256 TEXT NOT NULL REFERENCES media(sha256),
        settings_key TEXT NOT NULL,
        hasher TEXT NOT NULL,
        query_coverage REAL NOT NULL,
        ref_coverage REAL NOT NULL,
        score REAL NOT NULL,
        segments TEXT NOT NULL,
        PRIMARY KEY (query_sha256, ref_sha256, settings_key)
    );
    CREATE INDEX matches_by_key ON matches (settings_key);
    """,
    # 4: keyframes exported for archived media (derived: the files under keyframes/<sha256>/).
    """
    CREATE TABLE keyframes (
        sha256 TEXT NOT NULL REFERENCES media(sha256),
        t_ms INTEGER NOT NULL,
        shot_index INTEGER NOT NULL,
        sharpness REAL NOT NULL,
        path TEXT NOT NULL,
        settings_key TEXT NOT NULL,
        PRIMARY KEY (sha256, t_ms)
    );
    """,
    # 5: hash lists imported from other sources: fingerprints of media whose files are not here.  Such
    # a media has a `media` row without a file (path '') keyed by the SHA-256 of its source and
    # external id (so that key is unique per source and id), its fingerprints in `fingerprints` like
    # any other, and an `imported_media` row saying where it came from; `entry_digest` recognises the
    # same entry imported again.
    """
    CREATE TABLE hashlists (
        id INTEGER PRIMARY KEY,
        source TEXT NOT NULL,
        name TEXT NOT NULL,
        format TEXT NOT NULL,
        file_sha256 TEXT NOT NULL,
        imported_at TEXT NOT NULL
    );
    CREATE TABLE imported_media (
        sha256 TEXT PRIMARY KEY REFERENCES media(sha256),
        source TEXT NOT NULL,
        external_id TEXT NOT NULL,
        hashlist_id INTEGER NOT NULL REFERENCES hashlists(id),
        content_sha256 TEXT,
        entry_digest TEXT NOT NULL,
        appearances TEXT NOT NULL,
        context TEXT
    );
    CREATE INDEX imported_by_list ON imported_media (hashlist_id);
    """,
    # 6: checksums of the keyframe files, and every custody file outside media and captures' own
    # files (pages, timestamp tokens), so that `check` can re-hash each one against the catalog.
    """
    ALTER TABLE keyframes ADD COLUMN file_sha256 TEXT;
    CREATE TABLE custody_files (
        path TEXT PRIMARY KEY,
        sha256 TEXT NOT NULL,
        size_bytes INTEGER NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('page', 'timestamp')),
        capture_folder TEXT NOT NULL,
        recorded_at TEXT NOT NULL
    );
    CREATE INDEX custody_files_by_folder ON custody_files (capture_folder);
    """,
    # 7: the post's page kept with a capture (WARC, WACZ, screenshot in the capture folder).
    """
    CREATE TABLE pages (
        capture_folder TEXT PRIMARY KEY,
        capture_id TEXT NOT NULL,
        url TEXT NOT NULL,
        final_url TEXT,
        http_status INTEGER,
        fetched_at TEXT NOT NULL,
        warc_path TEXT NOT NULL,
        wacz_path TEXT,
        screenshot_path TEXT,
        resources INTEGER NOT NULL,
        tls_chain TEXT NOT NULL,
        notes TEXT NOT NULL
    );
    """,
    # 8: RFC 3161 time-stamps of captures: one row per attempt (a failed TSA is asked again later).
    """
    CREATE TABLE timestamps (
        id INTEGER PRIMARY KEY,
        capture_folder TEXT NOT NULL,
        capture_id TEXT NOT NULL,
        tsa_url TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('stamped', 'failed')),
        attempted_at TEXT NOT NULL,
        manifest_path TEXT,
        manifest_sha256 TEXT,
        token_path TEXT,
        chain_path TEXT,
        verification_path TEXT,
        verification TEXT,
        error TEXT
    );
    CREATE INDEX timestamps_by_folder ON timestamps (capture_folder, tsa_url);
    """,
    # 9: availability history of archived posts, one row per recheck (appended, never rewritten).
    """
    CREATE TABLE availability (
        id INTEGER PRIMARY KEY,
        capture_id TEXT NOT NULL,
        url TEXT NOT NULL,
        checked_at TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('available', 'removed', 'private', 'geo_blocked',
            'account_gone', 'changed', 'unknown')),
        http_status INTEGER,
        words TEXT,
        duration_s REAL,
        detail TEXT NOT NULL
    );
    CREATE INDEX availability_by_capture ON availability (capture_id, checked_at);
    """,
)
