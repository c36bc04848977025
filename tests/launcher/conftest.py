from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from auto_router.demo.fake_upstream import Reply

ROOT = Path(__file__).resolve().parents[2]
FAKE_AGENTS = ROOT / "tests" / "fake_agents"
FAKE = FAKE_AGENTS / "fake_agent.py"


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:12]


def child_env(home: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a launcher subprocess: fake agents first on PATH, no real config."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTO_ROUTER", "FAKE_"))}
    env["PATH"] = f"{FAKE_AGENTS}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}" + env.get(
        "PATH", ""
    )
    env["FAKE_PYTHON"] = sys.executable
    env["AUTO_ROUTER_HOME"] = str(home / "unused-home")
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


@dataclass
class Home:
    path: Path
    env: dict[str, str]

    def write(self, llm: str, providers: str) -> None:
        (self.path / "llm_config.toml").write_text(llm)
        (self.path / "provider_metadata.toml").write_text(providers)

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "auto_router", "--config-dir", str(self.path), *args]

    def run(
        self, *args: str, input: str | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(*args),
            env=self.env,
            input=input if input is not None else "",
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def history(self, *args: str) -> list[dict[str, object]]:
        result = self.run("history", "--json", *args)
        assert result.returncode == 0, result.stderr
        attempts: list[dict[str, object]] = json.loads(result.stdout)["attempts"]
        return attempts

    def log(self) -> list[dict[str, object]]:
        path = self.path / "fake.log"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
def home(tmp_path: Path) -> Home:
    config = tmp_path / "config"
    config.mkdir()
    return Home(config, child_env(tmp_path, {"FAKE_LOG": str(config / "fake.log")}))


WriteFn = Callable[[str, str], None]


#: An OpenAI-style 429 asking to wait an hour: a window the run will not wait out.
RATE_LIMITED = Reply(
    429,
    {"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}},
    headers={"retry-after": "3600"},
)
