"""Video frames sampled at a fixed rate: keyframe-to-keyframe runs decoded side by side.

The sampled frames, their times and their pixels are exactly those of decoding every frame in one
piece; when a file's timestamps or keyframes cannot be relied on, it is decoded that way instead.
"""

from __future__ import annotations

import bisect
import itertools
import math
import os
import queue
import sys
import threading
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

import av
import numpy as np
from av.stream import Discard

from ..errors import CorruptMediaError, NotMediaError
from ..models import Frame
from ..settings import SamplingSettings

if TYPE_CHECKING:
    from av.codec.context import CodecContext
    from av.container import InputContainer


def scaled_size(width: int, height: int, side: int) -> tuple[int, int]:
    """Keep the aspect ratio, longer side = ``side``, even dimensions for the scaler."""
    scale = side / max(width, height, 1)
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)


def start_of(stream: av.VideoStream) -> float:
    """The stream's first presentation time in seconds: media times (t_ms) count from there, so
    fingerprints, segments and keyframes agree for streams that do not start at 0 (MPEG-TS)."""
    return float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0


def _rotate(grey: np.ndarray, rotation_deg: float) -> np.ndarray:
    # FFmpeg's display matrix angle is counter-clockwise; np.rot90 with k>0 is counter-clockwise too.
    quarter_turns = round(rotation_deg / 90) % 4
    return np.ascontiguousarray(np.rot90(grey, k=quarter_turns)) if quarter_turns else grey


# How sample_video decodes little more than the samples need (bench/speed.py, bench/RESULTS.md) and
# still gives exactly the frames, times and pixels that decoding every frame gives:
# - The packets are cut at keyframes into runs that decode on their own (closed GOPs), decoded side by
#   side, one single-threaded decoder per thread, the longest run first.  FFmpeg's frame threads on
#   one decoder wait for each other's reference rows and kept only ~1.5 of 2 CPUs busy.
# - A frame nothing is predicted from (a non-reference B-frame; any frame of an intra-only codec) is
#   decoded only when it may be a sampled frame, which the packets' presentation times tell; the
#   decoder reads the others' slice headers and stops.  The packets of a run after the last frame
#   that may be sampled are not decoded at all.
# - The demuxer discards audio and data packets without reading them.
# Decoders that read skip_frame anew for every packet (libdav1d, for one, reads it once when opened).
_SKIP_NONREF_CODECS = frozenset({"h264", "hevc", "mpeg1video", "mpeg2video", "mpeg4"})
# Containers whose packets carry their frame's presentation time (AVI, for one, numbers packets in
# decode order, so which packet shows when is known only after decoding): elsewhere, unless the codec
# is intra-only, every frame is decoded in one piece, as before.
_PTS_FORMATS = frozenset({"mov", "mp4", "matroska", "webm", "mpegts", "mpeg", "flv"})
# FFmpeg threads of each run's decoder when runs are decoded side by side.
_RUN_DECODER_THREADS = 1
# Decoding threads per file when SamplingSettings.decode_threads is 0 (each holds its reference frames).
_MAX_AUTO_THREADS = 8
# A run is cut only after this many packets: fewer, larger jobs for all-intra or short-GOP video.
_MIN_RUN_PACKETS = 24
# Packets held back after the last one that may be sampled, in case a run ends after them.
_MAX_TAIL_PACKETS = 256
# Packets looked at after a keyframe before cutting there: one shown before the keyframe is a leading
# picture of an open GOP, predicted from the previous run, so no cut is made at that keyframe.
_LEADING_LOOKAHEAD = 4
# Recent packet times kept to find the frame shown just before each packet.
_RECENT_PACKETS = 32
# Bytes of packets demuxed ahead of the decoders: enough to find the next runs while a long one is
# decoded (~3 min of 720p), bounded for 4K at high bitrates.
_READ_AHEAD_BYTES = 32 << 20


class _Fallback(Exception):
    """Timestamps or keyframes a run cannot rely on: the file is decoded again in one piece, every frame."""


@dataclass(frozen=True, slots=True)
class _Clock:
    """Sampling instants against the stream's timestamps."""

    time_base: Fraction
    start_s: float
    step_s: float

    def seconds(self, pts: int) -> float:
        # The arithmetic of PyAV's Frame.time, so a packet's time and its frame's time are equal.
        return float(pts) * self.time_base.numerator / self.time_base.denominator - self.start_s

    def may_pick(self, t_s: float, before_s: float | None) -> bool:
        """Could the frame at t_s be sampled, the frame shown before it being at before_s?

        sample_video takes a frame when the next instant is at most 1 ms after it, and that instant
        always lies after the frame before; so an instant must fall in (before_s, t_s + 1 ms] (tested
        with 1 ms to spare).  An earlier before_s, or None, only widens the test.
        """
        k = math.floor((t_s + 2e-3) / self.step_s)
        return k >= 0 and (before_s is None or k * self.step_s > before_s - 1e-3)


class _ReadAhead:
    """Bytes of packets demuxed but not yet decoded, kept under _READ_AHEAD_BYTES."""

    def __init__(self) -> None:
        self._used = 0
        self._changed = threading.Condition()

    def take(self, size: int) -> None:
        with self._changed:
            while self._used and self._used + size > _READ_AHEAD_BYTES:
                self._changed.wait()
            self._used += size

    def give(self, size: int) -> None:
        with self._changed:
            self._used -= size
            self._changed.notify_all()


class _Run:
    """Packets that decode on their own, handed to one decoder thread, while they are demuxed or after."""

    def __init__(self, first: bool, read_ahead: _ReadAhead) -> None:
        self.first = first
        self.size = 0  # bytes
        self.future: Future[_Decoded] | None = None  # once queued for decoding
        self._packets: queue.SimpleQueue[tuple[av.Packet, bool] | None] = queue.SimpleQueue()
        self._read_ahead = read_ahead

    def put(self, packet: av.Packet, may_pick: bool) -> None:
        self._read_ahead.take(packet.size)
        self._packets.put((packet, may_pick))
        self.size += packet.size

    def end(self) -> None:
        self._packets.put(None)

    def get(self) -> tuple[av.Packet, bool] | None:
        item = self._packets.get()
        if item is not None:
            self._read_ahead.give(item[0].size)
        return item


class _Decoded:
    """What one run gave: each decoded frame's time, with a small grey image where it may be sampled."""

    def __init__(self, clock: _Clock, opts: SamplingSettings, check_times: bool) -> None:
        self.frames: list[tuple[float, np.ndarray | None]] = []
        self.count = 0
        self.first_pts: int | None = None
        self.error: av.FFmpegError | None = None
        self.sent_pts: set[int] = set()
        self.first_sent_pts: int | None = None
        self._clock, self._opts, self._check_times = clock, opts, check_times

    def sent(self, packet: av.Packet) -> None:
        if packet.pts is not None:
            self.sent_pts.add(packet.pts)
            self.first_sent_pts = packet.pts if self.first_sent_pts is None else self.first_sent_pts

    def add(self, frames: list[av.VideoFrame]) -> None:
        for frame in frames:
            self.count += 1
            if frame.time is None:
                continue
            if self._check_times and frame.pts not in self.sent_pts:
                raise _Fallback  # the decoder made up times: which packet is which frame is unknown
            self.first_pts = frame.pts if self.first_pts is None else self.first_pts
            t_s = frame.time - self._clock.start_s
            before_s = self.frames[-1][0] if self.frames else None
            grey = None
            if self._clock.may_pick(t_s, before_s):
                width, height = scaled_size(frame.width, frame.height, self._opts.frame_side)
                grey = frame.reformat(width=width, height=height, format="gray").to_ndarray()
                # A copy: the array is a view of FFmpeg's frame buffer, padding and all, which a
                # kept view would keep alive (2.5x the pixels' bytes).
                grey = _rotate(grey.copy(), frame.rotation or 0)
            self.frames.append((t_s, grey))


class _RunPackets:
    """The video packets in decode order as (packet, may be sampled, a run starts here)."""

    def __init__(self, container: InputContainer, stream: av.VideoStream, clock: _Clock, fast: bool) -> None:
        self._container, self._stream, self._clock, self._fast = container, stream, clock, fast
        self.error: av.FFmpegError | None = None

    def __iter__(self) -> Iterator[tuple[av.Packet, bool, bool]]:
        shown: list[float] = []  # recent packet times, sorted
        last_pts: int | None = None
        run_length = 0
        # Packets after the last one that may be sampled: no sampled frame is predicted from them, so
        # they are not decoded at all when a run ends after them (at a cut, at the end of the file).
        tail: list[tuple[av.Packet, bool]] = []
        held: list[tuple[av.Packet, bool]] = []  # a keyframe that may start a run, and what follows it
        for packet in self._demux():
            item = (packet, not self._fast or self._may_pick(packet, shown))
            if held and (packet.pts is None or packet.pts < held[0][0].pts):
                yield from ((p, m, False) for p, m in [*tail, *held])  # a leading picture: no cut
                run_length, tail, held = run_length + len(tail) + len(held), [], []
            elif held and (len(held) > _LEADING_LOOKAHEAD or packet.is_keyframe):
                yield from ((p, m, i == 0) for i, (p, m) in enumerate(held))  # the tail is dropped
                run_length, tail, held = len(held), [], []
            if held:
                held.append(item)
            elif (
                self._fast
                and packet.is_keyframe
                and run_length >= _MIN_RUN_PACKETS
                and (packet.pts is not None and (last_pts is None or packet.pts > last_pts))
            ):
                held = [item]  # every earlier frame shows before it
            elif self._fast and not item[1] and len(tail) < _MAX_TAIL_PACKETS:
                tail.append(item)
            else:
                yield from ((p, m, False) for p, m in [*tail, item])
                run_length, tail = run_length + len(tail) + 1, []
            if packet.pts is not None:
                last_pts = packet.pts if last_pts is None else max(last_pts, packet.pts)
        yield from ((p, m, i == 0) for i, (p, m) in enumerate(held))

    def _demux(self) -> Iterator[av.Packet]:
        try:
            for packet in self._container.demux(self._stream):
                if packet.size:  # PyAV ends with an empty packet; each run is flushed on its own
                    yield packet
        except av.FFmpegError as exc:
            self.error = exc  # a truncated file: what was read is still decoded

    def _may_pick(self, packet: av.Packet, shown: list[float]) -> bool:
        if packet.pts is None:
            return True
        t_s = self._clock.seconds(packet.pts)
        i = bisect.bisect_left(shown, t_s)
        before_s = shown[i - 1] if i else None  # the frame shown before, as far as packets so far tell
        shown.insert(i, t_s)
        if len(shown) > _RECENT_PACKETS:
            del shown[0]
        return self._clock.may_pick(t_s, before_s)


class _RunDecoders:
    """Threads decoding runs, each with its own codec context: the main stream's for the first, and
    for the others one from a new opening of the file (PyAV cannot copy decoder parameters)."""

    def __init__(
        self,
        path: Path,
        stream: av.VideoStream,
        threads: int,
        opts: SamplingSettings,
        clock: _Clock,
        fast: bool,
    ) -> None:
        self._path, self._opts, self._clock, self._fast = path, opts, clock, fast
        self._skip_nonref = fast and stream.codec_context.name in _SKIP_NONREF_CODECS
        self._intra_only = fast and stream.codec_context.codec.intra_only
        # One thread decodes as before, with FFmpeg's threads; side by side, runs use few each.
        self._decoder_threads = opts.decode_threads if threads == 1 else _RUN_DECODER_THREADS
        self._spare = [stream.codec_context]
        self._opened: list[InputContainer] = []
        self._local = threading.local()
        self._lock = threading.Lock()
        self.cancelled = threading.Event()
        self._todo: queue.PriorityQueue[tuple[int, int, _Run | None]] = queue.PriorityQueue()
        self._order = itertools.count()
        self._workers = [
            threading.Thread(target=self._work, name=f"provenance-decode-{i}", daemon=True)
            for i in range(threads)
        ]
        for worker in self._workers:
            worker.start()

    def submit(self, run: _Run, complete: bool) -> None:
        """Queue a run: the longest complete one first, so the run left last is a short one; one still
        being demuxed before all, as reading ahead waits for it."""
        run.future = Future()
        self._todo.put((-run.size if complete else -sys.maxsize, next(self._order), run))

    def close(self) -> None:
        self.cancelled.set()
        for _ in self._workers:
            self._todo.put((sys.maxsize, next(self._order), None))
        for worker in self._workers:
            worker.join()
        for container in self._opened:
            container.close()

    def _work(self) -> None:
        while (run := self._todo.get()[2]) is not None:
            assert run.future is not None
            try:
                run.future.set_result(self._decode(run))
            except BaseException as exc:  # handed to the thread that waits for the run
                run.future.set_exception(exc)

    def _context(self) -> CodecContext:
        context = getattr(self._local, "context", None)
        if context is None:
            with self._lock:
                context = self._spare.pop() if self._spare else None
            if context is None:
                try:
                    container = av.open(str(self._path))
                except (av.FFmpegError, OSError):
                    raise _Fallback from None  # e.g. out of file handles: decode with the one open
                with self._lock:
                    self._opened.append(container)
                context = container.streams.video[0].codec_context
            context.thread_type = "AUTO"
            context.thread_count = self._decoder_threads
            self._local.context = context
        return context

    def _decode(self, run: _Run) -> _Decoded:
        decoded, ended = _Decoded(self._clock, self._opts, check_times=self._fast), False
        context = None
        try:
            context = self._context()
            mode = context.skip_frame = "DEFAULT"
            while (item := run.get()) is not None:
                packet, may_pick = item
                if self.cancelled.is_set() or (self._intra_only and not may_pick):
                    continue  # an intra-only frame that is not sampled is not decoded at all
                if self._skip_nonref and (want := "DEFAULT" if may_pick else "NONREF") != mode:
                    context.skip_frame = mode = want
                decoded.sent(packet)
                decoded.add(context.decode(packet))
            ended = True
            if not self.cancelled.is_set():
                flush = av.Packet()  # an empty packet drains the decoder; its time base times the frames
                flush.time_base = self._clock.time_base
                decoded.add(context.decode(flush))
        except av.FFmpegError as exc:
            decoded.error = exc
        finally:
            while not ended and run.get() is not None:
                pass  # the demuxing thread may be waiting for room to read ahead
            if context is not None:
                context.flush_buffers()
        return decoded


def _runs_decoded(packets: _RunPackets, decoders: _RunDecoders, most_pending: int) -> Iterator[_Decoded]:
    """Runs decoded side by side, in order; at most ``most_pending`` runs demuxed or decoded ahead of
    the one being read, so their decoded frames cannot pile up (a still video's packets are tiny: the
    read-ahead bytes alone would let every run of a 2-hour file be decoded at once)."""
    pending: deque[_Run] = deque()
    run: _Run | None = None
    read_ahead = _ReadAhead()
    try:
        for packet, may_pick, starts in packets:
            if run is None or starts:
                if run is not None:
                    _queue_whole(run, decoders)
                while pending and (
                    len(pending) >= most_pending
                    or (pending[0].future is not None and pending[0].future.done())
                ):
                    yield _checked(pending.popleft())
                run = _Run(run is None, read_ahead)
                pending.append(run)
            run.put(packet, may_pick)
            if run.future is None and run.size > _READ_AHEAD_BYTES // 2:
                decoders.submit(run, complete=False)  # too long to wait for its end: decoded as it comes
    finally:
        if run is not None:
            _queue_whole(run, decoders)
    while pending:
        yield _checked(pending.popleft())


def _queue_whole(run: _Run, decoders: _RunDecoders) -> None:
    run.end()
    if run.future is None:
        decoders.submit(run, complete=True)


def _checked(run: _Run) -> _Decoded:
    assert run.future is not None
    decoded = run.future.result()
    if not run.first and decoded.error is None and decoded.first_pts != decoded.first_sent_pts:
        raise _Fallback  # a fresh decoder did not start at the run's keyframe
    return decoded


def _auto_threads(jobs: int = 1) -> int:
    """FFmpeg's own choice for its threads: one more than the CPUs (a thread waiting on the GIL or on
    the last long run leaves a CPU idle otherwise), capped as each decoder holds its reference frames.
    With ``jobs`` files decoded at once, each gets its share of the CPUs, one more than the share."""
    # The CPUs this process may use (not all the machine has) where the OS tells.
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    share = cpus // max(1, jobs)
    return 1 if share <= 1 else min(share + 1, _MAX_AUTO_THREADS)


def share_decoders(opts: SamplingSettings, jobs: int) -> SamplingSettings:
    """The sampling settings of one of ``jobs`` files decoded side by side: threads left for us to
    choose (decode_threads 0) become this file's share of the CPUs, so that N jobs do not start N
    times the decoders the cores can run.  A number the user set is kept as it is."""
    if opts.decode_threads or jobs <= 1:
        return opts
    return replace(opts, decode_threads=_auto_threads(jobs))


def _sample_runs(path: Path, opts: SamplingSettings, fast: bool) -> Iterator[Frame]:
    try:
        container = av.open(str(path))
    except av.FFmpegError as exc:
        raise NotMediaError(f"{path}: not readable as video ({exc.strerror or exc})") from None
    with container:
        if not container.streams.video:
            raise NotMediaError(f"{path}: has no video stream")
        stream = container.streams.video[0]
        if stream.codec_context is None:
            raise NotMediaError(f"{path}: no decoder for its video codec ({stream.name or '?'})")
        for other in container.streams:
            if other.index != stream.index:
                other.discard = Discard.all
        clock = _Clock(stream.time_base, start_of(stream), 1.0 / opts.rate_hz)
        # What is decoded is chosen from packet times, so only where they are the frames' times.
        fast = fast and (
            stream.codec_context.codec.intra_only
            or not _PTS_FORMATS.isdisjoint(container.format.name.split(","))
        )
        threads = (opts.decode_threads or _auto_threads()) if fast else 1
        packets = _RunPackets(container, stream, clock, fast)
        decoders = _RunDecoders(path, stream, threads, opts, clock, fast)
        runs = _runs_decoded(packets, decoders, most_pending=2 * threads + 1)
        next_s = 0.0
        decoded = 0
        error: av.FFmpegError | None = None
        try:
            for run in runs:
                for t_s, grey in run.frames:
                    if t_s + 1e-3 < next_s:
                        continue
                    if grey is None:  # _Clock.may_pick holds for every frame picked here; if not,
                        raise _Fallback  # the file is decoded again in one piece
                    yield Frame(t_ms=max(0, round(t_s * 1000)), grey=grey)
                    next_s = (int(t_s / clock.step_s + 1e-6) + 1) * clock.step_s
                decoded += run.count
                if run.error is not None:
                    error = run.error
                    break  # A truncated tail: keep what decoded (a partial copy is still evidence).
        finally:
            decoders.cancelled.set()
            runs.close()  # ends the run being queued, so that its thread can finish
            decoders.close()
    error = error or packets.error
    if decoded == 0 and error is not None:
        raise CorruptMediaError(f"{path}: video cannot be decoded ({error.strerror or error})")
    if decoded == 0:
        raise CorruptMediaError(f"{path}: video stream has no decodable frames")


def sample_video(path: Path, opts: SamplingSettings) -> Iterator[Frame]:
    """Yield one grey frame per 1/rate_hz seconds of presentation time (the first frame at or after
    each sampling instant), rotated as the display matrix says."""
    sampled = 0
    try:
        for frame in _sample_runs(path, opts, fast=True):
            yield frame
            sampled += 1
    except _Fallback:
        # Rare (no file in ../shared/media): decode every frame in one piece and go on from there.
        yield from itertools.islice(_sample_runs(path, opts, fast=False), sampled, None)
