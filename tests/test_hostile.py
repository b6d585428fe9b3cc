"""Nothing a file does can stop a command or damage the archive: the hostile corpus through every command.

For each input of tests/hostile.py and each of `add`, `info`, `match`, `keyframes`: the exit code the
input calls for, a one-line message naming the input when it is refused (and nothing else on stderr:
no library's warning), and an archive that is unchanged by a refused input and consistent after any.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import lavfi_clip
from hostile import CORPUS, Hostile, make_corpus
from test_cli import json_lines, run

from provenance.store import printable

COMMANDS = ("add", "info", "match", "keyframes")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Hostile, Path]]:
    return {item.name: (item, path) for item, path in make_corpus(tmp_path_factory.mktemp("hostile"))}


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An archive holding one ordinary clip, so that `match` has something to search."""
    root = tmp_path_factory.mktemp("hostile-archive") / "archive"
    clip = lavfi_clip(root.parent / "ordinary.mp4", "testsrc2=s=320x240:rate=25", 4)
    subprocess.run([sys.executable, "-m", "provenance", "--archive", str(root), "add", str(clip)], check=True)
    return root


def state_of(root: Path) -> tuple[set[str], set[str], int]:
    """(media files on disk, media paths in the catalog, capture rows): what a run may not change."""
    files = {p.relative_to(root).as_posix() for p in (root / "media").rglob("*") if p.is_file()}
    with sqlite3.connect(f"file:{root / 'catalog.sqlite'}?mode=ro", uri=True) as db:
        rows = {r[0] for r in db.execute("SELECT path FROM media WHERE path != ''")}
        captures = db.execute("SELECT COUNT(*) FROM captures").fetchone()[0]
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    return files, rows, captures


def assert_consistent(root: Path) -> None:
    files, rows, _ = state_of(root)
    assert files == rows, "media files without rows, or rows without files"
    assert not [p for p in (root / "tmp").iterdir()], "staging left behind"


def expected_exit(item: Hostile, command: str) -> int:
    if item.expect == "refused":
        if (command == "info" and item.described) or (command in ("match", "keyframes") and item.decodes):
            return 0
        return 3
    if command == "keyframes" and item.expect == "image":
        return 3  # a photo has no shots: a clear refusal, not a failure
    return 0


def args_for(command: str, path: Path, tmp_path: Path) -> list[str]:
    extra = {
        "add": ["--json"],
        "info": ["--json"],
        "match": ["--json"],
        "keyframes": ["-o", str(tmp_path / "k")],
    }
    return [command, str(path), *extra[command]]


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("name", [item.name for item in CORPUS])
def test_hostile_input(
    name: str, command: str, corpus: dict, archive: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    item, path = corpus[name]
    before = state_of(archive)
    code, out, err = run(capsys, "--archive", str(archive), *args_for(command, path, tmp_path))
    assert code == expected_exit(item, command), err
    lines = [line for line in err.splitlines() if line.strip()]
    assert all(line.startswith("provenance:") for line in lines), f"foreign output on stderr: {lines}"
    if code != 0:
        assert len(lines) == 1, lines
        shown = printable(str(path))
        assert shown in lines[0] or path.name in lines[0], lines[0]
    if command == "add":
        (record,) = json_lines(out)
        if item.expect == "refused":
            assert record["status"] == "failed" and record["sha256"] is None
            if item.kind:
                assert record["error"]["kind"] == item.kind, record["error"]
        else:
            assert record["status"] in ("added", "exists") and record["kind"] == item.expect
            assert "\n" not in record["path"] and record["path"] == printable(str(path))
    if command == "info" and code == 0:
        (record,) = json_lines(out)
        assert record["kind"] in ("video", "image")
    if item.expect == "refused" or command != "add":
        assert state_of(archive) == before, "a refused input or a reading command changed the archive"
    assert_consistent(archive)


def test_a_folder_of_the_whole_corpus_adds_every_good_file_and_reports_every_bad_one(
    corpus: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # One `add` of everything at once, with three jobs: no input stops the others.
    given = [str(path) for _, path in corpus.values()]
    root = tmp_path / "archive"
    code, out, err = run(capsys, "--archive", str(root), "add", *given, "--jobs", "3", "--json")
    records = json_lines(out)
    assert code == 1, err  # some failed, the others kept
    failed = {r["path"] for r in records if r["status"] == "failed"}
    refused = {printable(str(p)) for item, p in corpus.values() if item.expect == "refused"}
    assert refused <= failed | {
        printable(str(p)) for item, p in corpus.values() if item.name.startswith("folder")
    }
    kept = [r for r in records if r["status"] in ("added", "exists")]
    assert len(kept) == sum(1 for item, _ in corpus.values() if item.expect != "refused")
    assert_consistent(root)


def test_a_heic_photo_without_pillow_heif_is_refused_not_archived_as_a_video(
    tmp_path: Path, shared_heic: Path
) -> None:
    root = tmp_path / "archive"
    # The [heic] extra missing: pillow_heif made unimportable in that process alone.
    script = (
        "import sys; sys.modules['pillow_heif'] = None\nfrom provenance.cli import main\nmain(sys.argv[1:])\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, "--archive", str(root), "add", str(shared_heic), "--json"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 3, proc.stderr
    (record,) = json_lines(proc.stdout)
    assert record["status"] == "failed" and record["error"]["kind"] == "bad_media"
    assert "pip install 'provenance[heic]'" in record["error"]["message"]
    assert_consistent(root)
    # With the extra (this process has it), the same photo is archived as a photo.
    added = subprocess.run(
        [sys.executable, "-m", "provenance", "--archive", str(root), "add", str(shared_heic), "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json_lines(added.stdout)[0]["kind"] == "image"


@pytest.fixture
def shared_heic() -> Path:
    from conftest import shared_media

    return shared_media("photos/exiv2_iphoneXR_gps.heic")


def test_add_refresh_describes_an_archived_file_again(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clip = lavfi_clip(tmp_path / "c.mp4", "testsrc2=s=320x240:rate=25", 3)
    root = tmp_path / "archive"
    assert run(capsys, "--archive", str(root), "add", str(clip))[0] == 0
    code, out, _ = run(capsys, "--archive", str(root), "add", str(clip), "--json")
    assert json_lines(out)[0]["status"] == "exists"
    code, out, _ = run(capsys, "--archive", str(root), "add", "--refresh", str(clip), "--json")
    assert code == 0 and json_lines(out)[0]["status"] == "added"
    code, out, _ = run(capsys, "--archive", str(root), "list", "--json")
    assert len(json_lines(out)) == 1  # described again, never stored twice
    assert_consistent(root)


def _without_permission_override() -> list[str]:
    """A command prefix under which file permissions apply: root ignores them unless it drops
    CAP_DAC_OVERRIDE (setpriv, util-linux)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: permissions cannot be made to apply")
    drop = "-dac_override,-dac_read_search"
    return [setpriv, "--bounding-set", drop, "--inh-caps", drop]


def test_an_unreadable_file_and_folder_are_reported_as_such(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    good = lavfi_clip(tmp_path / "in" / "good.mp4", "testsrc2=s=320x240:rate=25", 3)
    locked = good.parent / "locked.mp4"
    shutil.copy(good, locked)
    locked.chmod(0)
    hidden = good.parent / "sub"
    hidden.mkdir()
    shutil.copy(good, hidden / "inside.mp4")
    hidden.chmod(0)
    root = tmp_path / "archive"
    try:
        proc = subprocess.run(
            [
                *_without_permission_override(),
                sys.executable,
                "-m",
                "provenance",
                "--archive",
                str(root),
                "add",
                str(good.parent),
                "--json",
            ],
            capture_output=True,
            text=True,
        )
    finally:
        hidden.chmod(0o755)
    assert proc.returncode == 1, proc.stderr
    records = {Path(r["path"]).name: r for r in json_lines(proc.stdout)}
    assert records["good.mp4"]["status"] == "added"
    assert records["locked.mp4"]["status"] == "failed"
    assert "cannot read" in records["locked.mp4"]["error"]["message"]  # not "not media"
    assert records["sub"]["status"] == "failed" and "cannot read folder" in records["sub"]["error"]["message"]
    assert_consistent(root)


def test_a_read_only_archive_can_be_listed_and_matched_but_not_added_to(tmp_path: Path) -> None:
    clip = lavfi_clip(tmp_path / "c.mp4", "testsrc2=s=320x240:rate=25", 3)
    root = tmp_path / "archive"
    subprocess.run([sys.executable, "-m", "provenance", "--archive", str(root), "add", str(clip)], check=True)
    mount = tmp_path / "mounted"
    mount.mkdir()
    base = [sys.executable, "-m", "provenance", "--archive", str(mount)]
    script = (
        f"mount --bind {root} {mount} && mount -o remount,bind,ro {mount} && "
        f"{' '.join(base)} list --json > {tmp_path}/list.out 2>&1; echo $? > {tmp_path}/list.rc; "
        f"{' '.join(base)} match {clip} --json > {tmp_path}/match.out 2>&1; echo $? > {tmp_path}/match.rc; "
        f"{' '.join(base)} add {clip} > {tmp_path}/add.out 2>&1; echo $? > {tmp_path}/add.rc"
    )
    unshare = shutil.which("unshare")
    if os.geteuid() != 0 or unshare is None:
        pytest.skip("a read-only mount needs root and unshare (util-linux) here")
    proc = subprocess.run(
        [unshare, "-m", "--propagation", "private", "sh", "-c", script], capture_output=True
    )
    if not (tmp_path / "list.rc").exists():
        pytest.skip(f"no mount namespace here: {proc.stderr.decode(errors='replace').strip()}")
    assert (tmp_path / "list.rc").read_text().strip() == "0", (tmp_path / "list.out").read_text()
    assert len(json_lines((tmp_path / "list.out").read_text())) == 1
    assert (tmp_path / "match.rc").read_text().strip() == "0", (tmp_path / "match.out").read_text()
    assert json.loads((tmp_path / "match.out").read_text().splitlines()[0])["score"] == 1.0
    assert (tmp_path / "add.rc").read_text().strip() == "4"
    assert "read-only" in (tmp_path / "add.out").read_text()
