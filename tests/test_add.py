"""`add_files --jobs N`: the files decoded at once share the CPUs, and the share reaches the decoders."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import lavfi_clip

from provenance.frames import video
from provenance.frames.video import share_decoders
from provenance.pipeline import add_files, open_archive
from provenance.settings import SamplingSettings

CPUS = 8


@pytest.fixture
def eight_cpus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(video.os, "sched_getaffinity", lambda pid: set(range(CPUS)), raising=False)


@pytest.fixture
def decoders(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """(run decoders, FFmpeg threads of each decoder) of every decoder context a file opens."""
    seen: list[tuple[int, int]] = []

    class Recording(video._RunDecoders):
        def _context(self):  # type: ignore[no-untyped-def]
            context = super()._context()
            seen.append((len(self._workers), context.thread_count))
            return context

    monkeypatch.setattr(video, "_RunDecoders", Recording)
    return seen


@pytest.mark.parametrize(("jobs", "threads"), [(1, 8), (2, 5), (4, 3), (8, 1), (16, 1)])
def test_jobs_share_the_cpus(eight_cpus: None, jobs: int, threads: int) -> None:
    # One more than each file's share (a thread waiting on the GIL leaves a CPU idle), at least one.
    assert share_decoders(SamplingSettings(), jobs).decode_threads == (0 if jobs == 1 else threads)
    assert video._auto_threads(jobs) == threads


def test_a_number_the_user_set_is_kept() -> None:
    assert share_decoders(SamplingSettings(decode_threads=3), 4).decode_threads == 3


@pytest.mark.parametrize(("jobs", "expected"), [(2, (5, 1)), (8, (1, 1))])
def test_the_share_reaches_the_decoders(
    tmp_path: Path, eight_cpus: None, decoders: list[tuple[int, int]], jobs: int, expected: tuple[int, int]
) -> None:
    clips = [
        lavfi_clip(tmp_path / f"{i}.mp4", f"testsrc2=s=160x120:rate=10,hue=h={i * 90}", 2) for i in range(2)
    ]
    with open_archive(tmp_path / "archive") as archive:
        assert [r.status for r in add_files(archive, clips, jobs=jobs)] == ["added", "added"]
    # Side by side, each run decoder is single-threaded; alone, the decoder gets the whole share.
    assert decoders and set(decoders) == {expected}
