"""What `archive` does for custody once a capture is recorded: keep the page, stamp the capture.

Both are optional (`page.keep`, `timestamp.on_archive`; the flags `--page` and `--timestamp` set
them for one run) and neither can fail an archive: the media and the capture are already recorded,
so a page that cannot be fetched or a TSA that does not answer is a warning, and the capture is
stamped by the next `provenance timestamp`.
"""

from __future__ import annotations

import logging
import shutil
from typing import TYPE_CHECKING

from .. import store
from ..errors import BadInputError, MissingExtraError
from ..models import Capture
from . import pages
from .models import PageCapture
from .timestamps import stamp_capture

if TYPE_CHECKING:
    from ..pipeline.archive import Archive

logger = logging.getLogger(__name__)


def keep_page(archive: Archive, capture: Capture) -> PageCapture:
    """Fetch the capture's page (WARC, WACZ, screenshot) into ``<capture folder>/page/`` and record it."""
    from .. import __version__  # at call time: the package may import this module while it initialises

    opts = archive.settings.page
    agent = archive.settings.download.user_agent or f"provenance/{__version__} (page capture)"
    folder = capture.folder or ""
    work = store.staging_path(archive.root)
    work.mkdir(parents=True)
    try:
        fetched_at = pages.fetched_at_now()
        fetched = pages.fetch_page(capture.url, opts, agent)
        notes = list(fetched.notes)
        pages.write_warc(fetched, work / pages.WARC_NAME, f"provenance {__version__}")
        made = [pages.WARC_NAME]
        try:
            pages.write_wacz(work / pages.WARC_NAME, work / pages.WACZ_NAME, fetched.url, fetched.title)
            made.append(pages.WACZ_NAME)
        except (MissingExtraError, BadInputError) as exc:
            notes.append(f"no WACZ: {exc.one_line()}")
        if opts.screenshot:
            why_not = pages.screenshot(fetched.url, work / pages.SCREENSHOT_NAME, opts)
            made += [pages.SCREENSHOT_NAME] if why_not is None else []
            notes += [why_not] if why_not else []
        files = []
        for name in made:
            data = (work / name).read_bytes()
            rel = f"{folder}/{pages.PAGE_DIR}/{name}"
            store.write_atomic(archive.root / rel, data)
            files.append((rel, store.sha256_bytes(data), len(data)))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    page_exchange = fetched.page
    where = {name: rel for name, (rel, _, _) in zip(made, files, strict=True)}
    page = PageCapture(
        capture_folder=folder,
        capture_id=capture.capture_id,
        url=capture.url,
        final_url=fetched.url,
        http_status=page_exchange.status,
        fetched_at=fetched_at,
        warc_path=where[pages.WARC_NAME],
        wacz_path=where.get(pages.WACZ_NAME),
        screenshot_path=where.get(pages.SCREENSHOT_NAME),
        resources=len(fetched.exchanges) - len([e for e in fetched.exchanges if e.url == fetched.url]),
        tls_chain=pages.tls_subjects(page_exchange),
        notes=tuple(notes),
    )
    archive.catalog.record_page(page, files)
    return page


def after_capture(archive: Archive, capture: Capture) -> None:
    """The custody steps configured for new captures; failures are warnings, never errors."""
    if archive.settings.page.keep:
        try:
            page = keep_page(archive, capture)
            for note in page.notes:
                logger.warning("%s: %s", capture.url, note)
        except Exception as exc:  # the capture is recorded already: a page that fails is a warning
            logger.warning("%s: the page was not kept: %s", capture.url, getattr(exc, "message", exc))
    if archive.settings.timestamp.on_archive:
        for tsa_url in archive.settings.timestamp.tsa_urls:
            try:
                stamp = stamp_capture(archive, capture, tsa_url)
            except Exception as exc:  # a TSA that fails is asked again later, never blocking
                logger.warning("%s: not time-stamped by %s: %s", capture.url, tsa_url, exc)
                continue
            if stamp.state == "failed":
                logger.warning("%s: %s (asked again by `provenance timestamp`)", capture.url, stamp.error)
