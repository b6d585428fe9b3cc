"""Transient failures retried with exponential backoff and jitter, in bounded attempts.

A site that throttles (429, honouring its Retry-After), fails for a moment (5xx), resets a
connection or does not answer in time may answer on the next try; a removed, private or
unsupported post never will, so only the transient kinds are retried.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from ..errors import DownloadError
from ..settings import BatchSettings

T = TypeVar("T")

TRANSIENT_KINDS = frozenset({"rate_limited", "network"})


def backoff_s(attempt: int, retry_after_s: float | None, opts: BatchSettings, rng: random.Random) -> float:
    """The wait before try ``attempt + 1``: base x 2^(attempt-1), times a jitter in [0.5, 1.5) so
    parallel jobs do not come back at once; at least what the site asked (Retry-After); at most the cap."""
    wait = opts.retry_base_s * 2 ** (attempt - 1) * (0.5 + rng.random())
    if retry_after_s is not None:
        wait = max(wait, retry_after_s)
    return min(wait, opts.retry_max_wait_s)


class Attempts:
    """Counts the tries of one job across the calls made for it (a post: its page, then its media)."""

    def __init__(self) -> None:
        self.count = 0


def with_retries(
    call: Callable[[], T],
    opts: BatchSettings,
    attempts: Attempts,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """``call()``, tried again up to ``opts.retries`` times while it fails with a transient kind."""
    rng = random.Random()
    for attempt in range(1, opts.retries + 2):
        attempts.count += 1
        try:
            return call()
        except DownloadError as exc:
            if exc.kind not in TRANSIENT_KINDS or attempt > opts.retries:
                raise
            sleep(backoff_s(attempt, exc.retry_after_s, opts, rng))
    raise AssertionError("unreachable: the last attempt returns or raises")
