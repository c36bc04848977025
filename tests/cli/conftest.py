from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "editing" / "fixtures"


class Runner:
    def __init__(self, home: Path, tmp: Path) -> None:
        self.home = home
        #: The command's ``TMPDIR``: what it keeps there (an abandoned edit) goes with the test.
        self.tmp = tmp

    def __call__(
        self, *args: str, env: dict[str, str] | None = None, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        environ = {k: v for k, v in os.environ.items() if not k.startswith("AUTO_ROUTER")}
        environ["TMPDIR"] = str(self.tmp)
        environ.update(env or {})
        result = subprocess.run(
            [sys.executable, "-m", "auto_router", "--config-dir", str(self.home), *args],
            capture_output=True,
            text=True,
            env=environ,
            input=input if input is not None else "",
            timeout=120,
        )
        assert "Traceback" not in result.stderr, result.stderr
        assert "Traceback" not in result.stdout, result.stdout
        return result


@pytest.fixture
def home(tmp_path: Path) -> Path:
    for name in ("llm_config.toml", "provider_metadata.toml"):
        shutil.copyfile(FIXTURES / name, tmp_path / name)
    return tmp_path


@pytest.fixture
def run(
    home: Path, tmp_path_factory: pytest.TempPathFactory
) -> Callable[..., subprocess.CompletedProcess[str]]:
    return Runner(home, tmp_path_factory.mktemp("tmpdir"))
