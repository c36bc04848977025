"""Where the files live when no directory is given: the same places platformdirs says."""

from __future__ import annotations

import sys
from pathlib import Path

import platformdirs
import pytest

from auto_router.paths import APP_NAME, HOME_ENV, resolve_paths

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the XDG rule is used on Linux only"
)

CASES = {
    "xdg unset": {},
    "xdg absolute": {"XDG_CONFIG_HOME": "/srv/conf", "XDG_DATA_HOME": "/srv/data"},
    "xdg relative (ignored)": {"XDG_CONFIG_HOME": "conf", "XDG_DATA_HOME": "rel/data"},
    "xdg empty": {"XDG_CONFIG_HOME": "", "XDG_DATA_HOME": ""},
    "home relative": {"HOME": "relative/home"},
    "home unset": {"HOME": None},
}


@pytest.mark.parametrize("case", CASES)
def test_default_directories_are_platformdirs_ones(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(HOME_ENV, raising=False)
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    for name, value in CASES[case].items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    paths = resolve_paths()
    assert paths.config_dir == Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))
    assert paths.data_dir == Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def test_an_explicit_directory_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(HOME_ENV, str(tmp_path / "env"))
    assert resolve_paths(tmp_path / "flag").config_dir == tmp_path / "flag"
    assert resolve_paths().data_dir == tmp_path / "env"
