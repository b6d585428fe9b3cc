"""Interoperability proven by the real client: python-threatexchange's vPDQ signal type reads the
vPDQ lists exported here and matches them against a copy hashed by its own hasher, and a list it
writes imports here and finds the copy.  (Ground truth as in test_hashes.py.)

Needs ``pip install 'provenance[threatexchange]'``; its vpdq package builds against FFmpeg's
development libraries (Debian: libavcodec-dev libavdevice-dev libavfilter-dev libavformat-dev
libswresample-dev libswscale-dev), which `.ci/run` installs.
"""

from __future__ import annotations

import pytest
from test_cli import json_lines, run
from test_hashes import clips, team_a, team_b  # noqa: F401  (fixtures)

INSTALL = (
    "pip install 'provenance[threatexchange]' (vpdq needs FFmpeg's development libraries: "
    "apt-get install libavcodec-dev libavdevice-dev libavfilter-dev libavformat-dev libswresample-dev "
    "libswscale-dev pkg-config cmake)"
)
vpdq_signal = pytest.importorskip("threatexchange.extensions.vpdq.vpdq", reason=INSTALL)
pdq_signal = pytest.importorskip("threatexchange.signal_type.pdq.signal", reason=INSTALL)
VPDQSignal = vpdq_signal.VPDQSignal


def test_their_vpdq_signal_reads_our_list_and_matches_a_copy_they_hashed(team_a, clips) -> None:  # noqa: F811
    (ours,) = team_a["vpdq"].read_text().splitlines()
    assert VPDQSignal.validate_signal_str(ours) == ours
    their_copy = VPDQSignal.hash_from_file(clips["copy"])
    result = VPDQSignal.compare_hash(their_copy, ours)
    assert result.match, result.similarity_info  # >= 80 % of their frames within 31 bits of ours
    index = VPDQSignal.get_index_cls().build([(ours, "team-a")])
    assert [m.metadata for m in index.query(their_copy)] == ["team-a"]
    unrelated = VPDQSignal.hash_from_file(clips["unrelated"])
    assert not VPDQSignal.compare_hash(unrelated, ours).match
    assert index.query(unrelated) == []


def test_a_list_their_hasher_wrote_imports_here_and_finds_the_copy(clips, tmp_path, capsys) -> None:  # noqa: F811
    listed = tmp_path / "theirs.txt"
    # As `threatexchange hash video` prints it: the signal type's name, then the signal.
    listed.write_text(f"vpdq {VPDQSignal.hash_from_file(clips['source'])}\n")
    b = team_b(tmp_path, capsys, clips["unrelated"])
    code, out, err = run(
        capsys, "--archive", b, "hashes", "import", str(listed), "--source", "tx-partner", "--json"
    )
    assert code == 0, err
    assert json_lines(out)[0]["format"] == "vpdq"
    code, out, err = run(capsys, "--archive", b, "match", str(clips["copy"]), "--json")
    assert code == 0, err
    (found,) = json_lines(out)
    assert found["imported"]["source"] == "tx-partner" and found["hasher"] == "pdq256-frame"
    assert found["score"] >= 0.8


def test_their_pdq_signal_takes_every_hash_of_our_pdq_list(team_a) -> None:  # noqa: F811
    hashes = [line.split(",")[0] for line in team_a["pdq-csv"].read_text().splitlines()]
    assert hashes
    for h in hashes:
        assert pdq_signal.PdqSignal.validate_signal_str(h) == h
