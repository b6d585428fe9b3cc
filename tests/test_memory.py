"""Memory is bounded by design: matching a still video against itself grows with its length, never
with its square.  Each run is its own process, so its peak resident size is its own."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hostile import still_clip

PEAK = """
import json, sys
from provenance import add_files, find_matches, open_archive
with open_archive(sys.argv[1]) as archive:
    list(add_files(archive, [sys.argv[2]]))
    _, matches = find_matches(archive, sys.argv[2])
segments = [[s.query_start_ms, s.query_end_ms, s.ref_start_ms, s.ref_end_ms]
            for m in matches for s in m.segments]
with open("/proc/self/status") as status:  # the high-water mark of this process's own memory
    peak_kb = int(next(line.split()[1] for line in status if line.startswith("VmHWM")))
print(json.dumps({"peak_kb": peak_kb, "segments": segments}))
"""


def peak_of(tmp_path: Path, seconds: int) -> tuple[int, list[list[int]]]:
    clip = still_clip(tmp_path / f"still{seconds}.mp4", seconds)
    proc = subprocess.run(
        [sys.executable, "-c", PEAK, str(tmp_path / f"archive{seconds}"), str(clip)],
        capture_output=True,
        text=True,
        check=True,
    )
    found = json.loads(proc.stdout.strip().splitlines()[-1])
    return found["peak_kb"] // 1024, found["segments"]


@pytest.mark.slow
def test_matching_a_still_video_with_itself_grows_linearly(tmp_path: Path) -> None:
    # Before hits were bounded, 5 minutes of a still shot took 5 GB (every query frame hit every
    # archived frame); 4 minutes now hold 4x the frames of 1 minute and no more than that.
    short_mb, _ = peak_of(tmp_path, 60)
    long_mb, long_segments = peak_of(tmp_path, 240)
    assert long_mb - short_mb < 250, (short_mb, long_mb)
    # And it is still found as itself, at its own times.
    assert long_segments and long_segments[0][0] == 0 and long_segments[0][2] == 0
    assert long_segments[0][1] > 230_000 and long_segments[0][3] > 230_000
