"""Sampled frames held with bounded memory: in RAM up to a budget, the rest in a temporary file.

A 2-hour query sampled at 8 Hz is 57,600 frames of 256x144 grey: 2.1 GB.  Its frames must all be
kept until the content box is known (it is found from frames spread over the whole video), so past
the budget they go to an unlinked temporary file (gone with the process, a killed one too) and are
read back one at a time.  The budget is the only memory the frames of one file take.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Sequence
from typing import BinaryIO, overload

import numpy as np

from ..models import Frame

# Frames of one file kept in RAM: ~3,600 frames of 256x144, 30 min at 2 Hz or 7.5 min at 8 Hz.
MEMORY_BYTES = 128 << 20


class FrameBuffer(Sequence[Frame]):
    """A sequence of frames, appended in order, that never holds more than ``memory_bytes`` of
    pixels in RAM.  Use as a context manager, or call `close`, to drop the temporary file early."""

    def __init__(self, memory_bytes: int = MEMORY_BYTES) -> None:
        self._memory_bytes = memory_bytes
        self._held: list[Frame] = []  # the first frames, in RAM
        self._spilled: list[tuple[int, int, int, int]] = []  # (t_ms, offset, height, width) in the file
        self._used = 0
        self._file: BinaryIO | None = None
        self._end = 0

    def append(self, frame: Frame) -> None:
        if not self._spilled and self._used + frame.grey.nbytes <= self._memory_bytes:
            self._held.append(frame)
            self._used += frame.grey.nbytes
            return
        if self._file is None:
            self._file = tempfile.TemporaryFile(prefix="provenance-frames-")  # noqa: SIM115 - lives with the buffer
        data = np.ascontiguousarray(frame.grey, dtype=np.uint8)
        os.pwrite(self._file.fileno(), data.tobytes(), self._end)
        self._spilled.append((frame.t_ms, self._end, *data.shape))
        self._end += data.nbytes

    def __len__(self) -> int:
        return len(self._held) + len(self._spilled)

    @overload
    def __getitem__(self, index: int) -> Frame: ...
    @overload
    def __getitem__(self, index: slice) -> list[Frame]: ...
    def __getitem__(self, index: int | slice) -> Frame | list[Frame]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        if index < len(self._held):
            return self._held[index]
        t_ms, offset, height, width = self._spilled[index - len(self._held)]
        assert self._file is not None
        data = os.pread(self._file.fileno(), height * width, offset)
        return Frame(t_ms=t_ms, grey=np.frombuffer(data, dtype=np.uint8).reshape(height, width))

    def __iter__(self) -> Iterator[Frame]:
        for index in range(len(self)):
            yield self[index]

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        self._held, self._spilled = [], []

    def __enter__(self) -> FrameBuffer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        if self._file is not None:
            self._file.close()


def chunks(frames: Sequence[Frame], size: int) -> Iterator[list[Frame]]:
    """The frames in order, ``size`` at a time: work on a buffer without holding it all in RAM."""
    for start in range(0, len(frames), size):
        yield [frames[i] for i in range(start, min(start + size, len(frames)))]
