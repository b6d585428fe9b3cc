"""Chain of custody: evidence that holds up later.

- `fixity`: every kept file re-hashed against the catalog (`check`), derived data rebuilt (`--repair`).
- `timestamps`: RFC 3161 tokens over a manifest of each capture's SHA-256s (`timestamp`).
- `pages`: the post's page as the server sent it, in WARC and WACZ, with a screenshot (`--page`).
- `availability`: archived posts asked again; takedowns kept as a history (`recheck`).
- `bags`: a case as a BagIt bag, and the check of a received one (`export`, `verify-bag`).
- `capture`: what `archive` does for custody once a capture is recorded.
- `loopback_tsa`: a time-stamping authority on 127.0.0.1 for the demo and tests (trusted by no one).

Nothing here is imported by this package's `__init__`, so importing one part loads only that part.
"""
