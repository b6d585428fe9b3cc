"""Settings: defaults < provenance.toml < PROVENANCE_* environment < explicit overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from provenance.errors import ExitCode, UsageError
from provenance.settings import MatchSettings, SamplingSettings, Settings, load_settings


def archive_with_toml(tmp_path: Path, text: str | bytes) -> Path:
    root = tmp_path / "archive"
    root.mkdir()
    target = root / "provenance.toml"
    if isinstance(text, bytes):
        target.write_bytes(text)
    else:
        target.write_text(text, "utf-8")
    return root


def test_defaults(tmp_path: Path) -> None:
    assert load_settings(None, environ={}) == Settings()
    assert load_settings(tmp_path, environ={}) == Settings()  # an archive without provenance.toml
    settings = Settings()
    # DESIGN.md: frames are sampled at 2 per second by default; matching uses phash64.
    assert settings.sampling.rate_hz == 2.0
    assert settings.match.hasher == "phash64"
    assert settings.match.hasher in settings.hashing.hashers
    assert 0 < settings.match.max_distance < 64


def test_values_from_provenance_toml(tmp_path: Path) -> None:
    root = archive_with_toml(
        tmp_path,
        """
[sampling]
rate_hz = 4
frame_side = 96

[hashing]
hashers = ["phash64"]

[match]
max_distance = 9
max_gap_s = 5.5

[download]
proxy = "http://127.0.0.1:8080"
""",
    )
    settings = load_settings(root, environ={})
    assert settings.sampling.rate_hz == 4.0
    assert isinstance(settings.sampling.rate_hz, float)
    assert settings.sampling.frame_side == 96
    assert settings.hashing.hashers == ("phash64",)
    assert settings.match.max_distance == 9
    assert isinstance(settings.match.max_distance, int)
    assert settings.match.max_gap_s == 5.5
    assert settings.download.proxy == "http://127.0.0.1:8080"
    # Untouched fields keep their defaults.
    assert settings.match.min_frames == MatchSettings().min_frames
    assert settings.sampling.decode_threads == SamplingSettings().decode_threads
    assert settings.batch == Settings().batch


def test_environment_overrides_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = archive_with_toml(tmp_path, "[match]\nmax_distance = 9\nmax_gap_s = 5.5\n")
    settings = load_settings(root, environ={"PROVENANCE_MATCH_MAX_DISTANCE": "7"})
    assert settings.match.max_distance == 7
    assert settings.match.max_gap_s == 5.5  # not overridden: still from the file
    # The real process environment is read when none is given.
    monkeypatch.setenv("PROVENANCE_MATCH_MAX_DISTANCE", "5")
    monkeypatch.setenv("PROVENANCE_HASHING_HASHERS", "phash64, pdq256")
    settings = load_settings(root)
    assert settings.match.max_distance == 5
    assert settings.hashing.hashers == ("phash64", "pdq256")


def test_explicit_overrides_win(tmp_path: Path) -> None:
    root = archive_with_toml(tmp_path, "[match]\nmax_distance = 9\n[sampling]\nrate_hz = 4.0\n")
    settings = load_settings(
        root,
        overrides={"match": {"max_distance": 3}, "sampling": {"rate_hz": "1.5"}},
        environ={"PROVENANCE_MATCH_MAX_DISTANCE": "7", "PROVENANCE_SAMPLING_RATE_HZ": "8"},
    )
    assert settings.match.max_distance == 3
    assert settings.sampling.rate_hz == 1.5


@pytest.mark.parametrize(
    ("where", "value"),
    [("env", "twelve"), ("env", ""), ("override", "x"), ("override", None), ("toml", '"fast"')],
)
def test_bad_values_are_usage_errors(tmp_path: Path, where: str, value: str | None) -> None:
    root = tmp_path
    environ: dict[str, str] = {}
    overrides = None
    if where == "env":
        environ["PROVENANCE_MATCH_MAX_DISTANCE"] = str(value)
    elif where == "override":
        overrides = {"match": {"max_distance": value}}
    else:
        root = archive_with_toml(tmp_path, f"[match]\nmax_distance = {value}\n")
    with pytest.raises(UsageError, match=r"match\.max_distance") as caught:
        load_settings(root, overrides=overrides, environ=environ)
    assert caught.value.exit_code == ExitCode.USAGE


@pytest.mark.parametrize("value", ["true", "12.5", "[1, 2]"])
def test_toml_values_of_the_wrong_type_are_usage_errors(tmp_path: Path, value: str) -> None:
    # A boolean or a fraction for a bit distance is a mistake to report, not a number to guess at.
    root = archive_with_toml(tmp_path, f"[match]\nmax_distance = {value}\n")
    with pytest.raises(UsageError, match=r"match\.max_distance"):
        load_settings(root, environ={})


@pytest.mark.parametrize("mode", ["auto", "exact", "indexed"])
def test_every_search_mode_is_accepted(mode: str) -> None:
    assert load_settings(None, environ={"PROVENANCE_MATCH_SEARCH": mode}).match.search == mode


def test_an_unknown_search_mode_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match=r"match\.search.*indexed"):
        load_settings(None, environ={"PROVENANCE_MATCH_SEARCH": "faiss"})


def test_bad_float_in_env_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match=r"sampling\.rate_hz"):
        load_settings(None, environ={"PROVENANCE_SAMPLING_RATE_HZ": "2 per second"})


@pytest.mark.parametrize(
    "text",
    [
        "[match\nmax_distance = 9\n",
        "[match]\nmax_distance = \n",
        "[match]\nmax_distance = 9\nmax_distance = 10\n",
        b'[match]\nhasher = "\xff\xfe"\n',
    ],
)
def test_bad_toml_is_a_usage_error(tmp_path: Path, text: str | bytes) -> None:
    root = archive_with_toml(tmp_path, text)
    with pytest.raises(UsageError, match=r"provenance\.toml"):
        load_settings(root, environ={})


def test_section_that_is_not_a_table_is_a_usage_error(tmp_path: Path) -> None:
    root = archive_with_toml(tmp_path, "match = 5\n")
    with pytest.raises(UsageError):
        load_settings(root, environ={})
