"""The CLI's conventions: ``--json`` on every command that prints, errors as JSON under
``--json``, one object per answer, ``reset`` needing ``--all``, one error style.

Most checks call the real entry point (``main``) in this process, which is what the console
script runs; ``reset`` on a terminal runs as a subprocess on a pseudo-terminal.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from auto_router.cli import main
from auto_router.cli._plain import wants_json
from auto_router.paths import resolve_paths
from auto_router.rotation.service import Rotator
from tests.helpers import converse_on_terminal


class Cli:
    def __init__(self, home: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.home = home
        self.capsys = capsys

    def __call__(self, *args: str) -> tuple[int, str, str]:
        self.capsys.readouterr()
        try:
            main(["--config-dir", str(self.home), *args])
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        out, err = self.capsys.readouterr()
        assert "Traceback" not in err
        return code, out, err

    def json(self, *args: str) -> Any:
        code, out, err = self(*args, "--json")
        assert code == 0, err
        return json.loads(out)

    def json_error(self, *args: str) -> tuple[int, dict[str, Any]]:
        code, out, err = self(*args, "--json")
        assert code != 0 and out == ""
        lines = err.splitlines()
        assert len(lines) == 1, err
        return code, json.loads(lines[0])["error"]


@pytest.fixture
def cli(three_providers: Path, capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(three_providers, capsys)


def test_rotation_commands_answer_with_one_object(cli: Cli) -> None:
    assert cli.json("set", "qwen/qwen-direct") == {
        "backend": "qwen",
        "current": "qwen-direct",
        "strategy": "sticky",
    }
    assert cli.json("rotate", "qwen") == {
        "backend": "qwen",
        "moved": True,
        "current": "qwen-open-router",
        "strategy": "sticky",
    }
    assert cli.json("reset", "qwen") == {"reset": True, "backend": "qwen", "all": False}
    assert cli.json("reset", "--all") == {"reset": True, "backend": None, "all": True}


def test_env_json_names_the_provider_and_its_variables(cli: Cli) -> None:
    data = cli.json("env", "--backend", "qwen")
    assert data["backend"] == "qwen" and data["provider"] == "qwen-open-router"
    assert data["agent"] == "qwen"
    assert isinstance(data["variables"], dict) and data["variables"]
    assert data["args"] == []


def test_provider_and_backend_changes_answer_with_the_changed_thing(cli: Cli) -> None:
    added = cli.json("provider", "add", "qwen/extra", "--set", "base_url=http://127.0.0.1:9/v1")
    assert added["added"] is True and added["provider"]["name"] == "extra"
    assert added["order"][-1] == "extra"
    edited = cli.json("provider", "edit", "qwen/extra", "--set", "model=m2")
    assert edited["changed"] is True and edited["provider"]["model"] == "m2"
    assert cli.json("provider", "disable", "qwen/extra")["provider"]["enabled"] is False
    assert cli.json("provider", "enable", "qwen/extra")["provider"]["enabled"] is True
    renamed = cli.json("provider", "rename", "qwen/extra", "more")
    assert renamed["renamed"] == "qwen/extra" and renamed["provider"]["name"] == "more"
    order = cli.json("provider", "order", "qwen", "more", "qwen-azure")
    assert order["order"][:2] == ["more", "qwen-azure"]
    assert cli.json("provider", "remove", "qwen/more") == {
        "removed": True,
        "backend": "qwen",
        "provider": "more",
    }
    backend = cli.json("backend", "add", "spare", "--no-order")["backend"]
    assert backend["name"] == "spare" and backend["in_order"] is False
    assert cli.json("backend", "edit", "spare", "--set", "model=x")["backend"]["model"] == "x"
    assert cli.json("backend", "disable", "spare")["backend"]["enabled"] is False
    assert cli.json("backend", "enable", "spare")["backend"]["enabled"] is True
    assert cli.json("backend", "order", "gemini", "qwen") == {"order": ["gemini", "qwen"]}
    assert cli.json("backend", "default", "gemini") == {"default": "gemini"}
    assert cli.json("backend", "remove", "spare") == {"removed": True, "backend": "spare"}


def test_listings_are_objects(cli: Cli) -> None:
    assert cli.json("requests") == {"requests": []}
    assert "providers" in cli.json("stats")
    assert set(cli.json("history")) == {"attempts", "requests"}
    written = cli.json("config", "init")
    assert written["written"] == [] and len(written["kept"]) == 2


def test_errors_under_json_are_one_object_on_stderr(cli: Cli, three_providers: Path) -> None:
    code, error = cli.json_error("provider", "show", "qwen/nope")
    assert code == 1 and error["code"] == "PROVIDER_NOT_FOUND"
    assert "nope" in error["message"] and "hint" in error
    code, error = cli.json_error("status", "--bogus")
    assert code == 2 and error["code"] == "USAGE_ERROR"
    assert error["message"] == "no such option: --bogus"
    code, error = cli.json_error("requests", "--since", "soon")
    assert code == 2 and error["message"].startswith("--since expected 30m")
    code, error = cli.json_error("reset")
    assert code == 2 and "--all" in error["hint"]
    (three_providers / "llm_config.toml").write_text("[backends.a]\nenabled = 1\ncooldown = -1\n")
    code, error = cli.json_error("status")
    assert code == 78 and error["code"] == "VALIDATION_ERROR"
    assert len(error["problems"]) == 2


def test_errors_without_json_are_one_line_and_a_hint(cli: Cli) -> None:
    code, out, err = cli("provider", "show", "nope")
    assert code == 1 and out == ""
    assert err.splitlines() == [
        "auto-router: error: no provider named 'nope'",
        "hint: list them with `auto-router provider list`",
    ]
    code, out, err = cli("provider", "show")
    assert code == 2
    assert err.splitlines() == [
        "auto-router: error: missing argument 'BACKEND/PROVIDER'",
        "hint: usage: auto-router provider show [OPTIONS] {BACKEND/PROVIDER}",
    ]


def test_a_global_option_after_the_command_says_where_it_goes(cli: Cli) -> None:
    code, _, err = cli("status", "--config-dir", "/tmp")
    assert code == 2
    assert err.splitlines() == [
        "auto-router: error: no such option: --config-dir",
        "hint: global options go before the command: auto-router --config-dir DIR status",
    ]


def test_wants_json_reads_auto_routers_own_options_only() -> None:
    assert wants_json(["--config-dir", "run", "status", "--json"])
    assert wants_json(["history", "--source", "run", "--json"])
    assert not wants_json(["run", "--", "tool", "--json"])
    assert not wants_json(["run", "tool", "--json"])
    assert not wants_json(["status"])


def test_json_in_the_command_run_launches_is_not_auto_routers(cli: Cli) -> None:
    code, _, err = cli("run", "--no-rotate", "--", sys.executable, "-c", "exit(3)", "--json")
    assert code == 3 and not err.startswith("{")


def test_reset_without_a_backend_needs_all_off_a_terminal(cli: Cli, three_providers: Path) -> None:
    rotator = Rotator(resolve_paths(three_providers))
    rotator.record_usage_limit("qwen", "qwen-open-router", reason="429")
    code, _, err = cli("reset")
    assert code == 2 and "hint: auto-router reset BACKEND, or --all" in err
    assert rotator.current_provider_name("qwen") == "qwen-azure"  # nothing was reset
    code, _, err = cli("reset", "qwen", "--all")
    assert code == 2
    assert cli("reset", "--all")[0] == 0
    assert rotator.current_provider_name("qwen") == "qwen-open-router"


def _reset_on_terminal(home: Path, answer: bytes) -> tuple[int, str]:
    argv = [sys.executable, "-m", "auto_router", "--config-dir", str(home), "reset"]
    return converse_on_terminal(argv, b"every backend?", answer)


@pytest.mark.integration
@pytest.mark.parametrize(("answer", "resets"), [(b"n\n", False), (b"y\n", True)])
def test_reset_without_a_backend_asks_on_a_terminal(
    three_providers: Path, answer: bytes, resets: bool
) -> None:
    rotator = Rotator(resolve_paths(three_providers))
    rotator.record_usage_limit("qwen", "qwen-open-router", reason="429")
    code, seen = _reset_on_terminal(three_providers, answer)
    assert "Reset the rotation state of every backend?" in seen
    assert (code == 0) is resets
    expected = "qwen-open-router" if resets else "qwen-azure"
    assert rotator.current_provider_name("qwen") == expected
