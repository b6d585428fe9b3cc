"""Measuring on a Dask cluster: `add`/`archive --dask ADDR` send each file's probing, decoding and
hashing to the cluster's workers; the client keeps everything that writes (staging, moving files to
their content address, the catalog).

Workers read the file at the path the client has it (an input of `add`, a download in the archive's
staging folder), so they must see the same filesystem under the same paths.  What crosses the wire
is plain data (paths, settings, the measured info and fingerprints); the code is this package's
own, installed on every worker.  `distributed` is imported only here, and only when asked for.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .. import store
from ..errors import BadInputError, MissingExtraError, ProvenanceError
from ..frames import share_decoders
from ..models import MediaKind
from ..settings import BatchSettings, SamplingSettings
from .measure import LOCAL, Measured, Runner, measure


class WorkerLostError(ProvenanceError):
    """The cluster lost the worker measuring an item (killed, out of memory, disconnected)."""

    kind = "worker_lost"


def measure_on_worker(
    path: str, kind: MediaKind, sha256: str, sampling: SamplingSettings, hasher_names: tuple[str, ...]
) -> Measured:
    """`measure` as a Dask task.  The bytes are checked against the SHA-256 the client read first:
    a worker that sees another file (another filesystem, or the file changed since) must not
    measure it under this address.  Decoder threads are shared among the worker's task slots."""
    from distributed import get_worker

    here = Path(path)
    if not here.is_file():
        raise BadInputError(
            f"{path}: not found on the Dask worker (workers must see the client's files under the same paths)"
        )
    if store.sha256_file(here) != sha256:
        raise BadInputError(f"{path}: the file changed while it was being added; add it again")
    slots = get_worker().state.nthreads
    return measure(here, kind, sha256, share_decoders(sampling, slots), hasher_names)


class DaskRunner:
    """A connection to a Dask scheduler (state: the client), running `measure` on its workers."""

    reads_inputs = True

    def __init__(self, client: Any) -> None:
        self._client = client

    @property
    def slots(self) -> int:
        """Task slots across the cluster's workers: how many items to keep in flight."""
        return max(1, sum(self._client.nthreads().values()))

    def measure(
        self,
        path: Path,
        kind: MediaKind,
        sha256: str,
        sampling: SamplingSettings,
        hasher_names: tuple[str, ...],
    ) -> Measured:
        from distributed.comm import CommClosedError
        from distributed.scheduler import KilledWorker

        # Workers have their own working folder: they are given the absolute path, and errors name
        # the path as the caller had it.  pure=False: a file given twice is measured twice, as it
        # is locally, never answered from an earlier task's result after the file changed.
        absolute = os.path.abspath(path)
        future = self._client.submit(
            measure_on_worker, absolute, kind, sha256, sampling, hasher_names, pure=False
        )
        try:
            return future.result()
        except ProvenanceError as exc:
            raise exc.about(absolute, os.fspath(path)) from None
        except (KilledWorker, CommClosedError) as exc:
            raise WorkerLostError(f"{path}: the Dask worker measuring it was lost ({exc})") from None

    def close(self) -> None:
        self._client.close()


def connect(address: str, timeout_s: float) -> DaskRunner:
    """A runner on the scheduler at ``address`` (tcp://host:8786); one clear error when none answers."""
    try:
        from distributed import Client
    except ImportError:
        raise MissingExtraError(
            "--dask needs Dask's distributed scheduler", hint="pip install 'provenance[dask]'"
        ) from None
    try:
        client = Client(address, timeout=timeout_s, set_as_default=False)
    except (OSError, TimeoutError, ValueError, TypeError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise BadInputError(
            f"{address}: no Dask scheduler answers there ({reason})",
            kind="cluster_unreachable",
            hint="start one with `dask scheduler`, or check the address",
        ) from None
    return DaskRunner(client)


@contextmanager
def runner_for(address: str | None, batch: BatchSettings) -> Iterator[Runner]:
    """Where a batch measures its items: on the Dask cluster at ``address``, else in this process."""
    if not address:
        yield LOCAL
        return
    runner = connect(address, batch.dask_connect_timeout_s)
    try:
        yield runner
    finally:
        runner.close()
