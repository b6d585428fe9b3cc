"""Start-up: `provenance --help` and `info` load only what they use (not the decoding and matching
stack), measured in a fresh interpreter by the modules it holds when the command is done."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import lavfi_clip

# Run the CLI's entry point as the console script does, then list what was imported.
_PROBE = """
import json, sys
from provenance.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)))
"""
DECODING_AND_MATCHING = {"av", "cv2", "imagehash", "scipy", "yt_dlp", "distributed", "provenance.index"}
MATCHING = {
    "cv2",
    "scipy",
    "yt_dlp",
    "distributed",
    "provenance.index",
    "provenance.match",
    "provenance.download",
}


def modules_after(*args: str, cwd: Path) -> set[str]:
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, *args], capture_output=True, text=True, cwd=cwd, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return set(json.loads(proc.stdout.splitlines()[-1]))


@pytest.mark.parametrize("args", [("--help",), ("add", "--help"), ("match", "--help")])
def test_help_imports_no_decoder_and_no_matcher(tmp_path: Path, args: tuple[str, ...]) -> None:
    loaded = modules_after(*args, cwd=tmp_path)
    assert "provenance.cli" in loaded
    assert not loaded & DECODING_AND_MATCHING, sorted(loaded & DECODING_AND_MATCHING)


def test_info_of_a_video_imports_no_matcher(tmp_path: Path) -> None:
    clip = lavfi_clip(tmp_path / "clip.mp4", "testsrc2=s=160x120:rate=10", 1)
    loaded = modules_after("info", str(clip), "--json", cwd=tmp_path)
    assert "av" in loaded  # it probes the container
    assert not loaded & MATCHING, sorted(loaded & MATCHING)
