"""What the most frequent commands import (not how long it takes: benchmarks/bench_startup.py).

Each command runs through the real entry point in a fresh interpreter, which then reports the
modules it loaded. ``status`` runs in shell prompts, ``env`` in shell start-up files
and ``run`` on every agent invocation: none may load typer (nor the click it vendors), an HTTP
library, pydantic (typer's parameter coercion), rich or tomlkit, and the usual ``run`` and
``env`` lines not even argparse; of the six agent modules only the one they need. ``--help``
may load typer.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import write_config

pytestmark = pytest.mark.integration

HEAVY = (
    "httpx",
    "aiohttp",
    "starlette",
    "uvicorn",
    "anyio",
    "h11",
    "pydantic",
    "rich",
    "tomlkit",
    "structlog",
    "platformdirs",
    "typer",
    "click",
)


def modules(home: Path, *args: str) -> set[str]:
    """Every module (dotted names) a command line loaded, in a fresh interpreter."""
    probe = (
        "import json, sys\n"
        "from auto_router.cli import main\n"
        "try:\n"
        "    main(sys.argv[1:])\n"
        "except SystemExit:\n"
        "    pass\n"
        "sys.__stderr__.write('\\nLOADED ' + json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, "--config-dir", str(home), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Traceback" not in done.stderr, done.stderr
    line = done.stderr.rsplit("\nLOADED ", 1)[1]
    return set(json.loads(line))


def loaded(home: Path, *args: str, watch: tuple[str, ...] = HEAVY) -> set[str]:
    """The top-level packages of ``watch`` that a command line loaded."""
    return {name for name in {m.split(".")[0] for m in modules(home, *args)} if name in watch}


def test_status_loads_no_http_library_nor_typer(three_providers: Path) -> None:
    assert loaded(three_providers, "status") == set()
    assert loaded(three_providers, "status", "--json") == set()


@pytest.mark.parametrize(
    "args",
    [
        ("run", "--no-rotate", "--", sys.executable, "-c", "pass"),
        ("run", "--direct", "--no-rotate", "--max-attempts", "1", sys.executable, "-c", "pass"),
        ("run", "--dry-run", "--via-proxy", "--timeout", "5", "--", "true"),
        ("run", "-b", "gemini", "--provider", "gemini-a", "--dry-run", "--", "true"),
        ("env",),
        ("env", "--backend", "qwen", "--shell", "fish", "--reveal"),
        ("env", "-b", "gemini", "--unset", "--json"),
    ],
    ids=" ".join,
)
def test_run_and_env_load_no_typer_nor_http_library(
    three_providers: Path, args: tuple[str, ...]
) -> None:
    assert loaded(three_providers, *args, watch=(*HEAVY, "argparse")) == set()


def test_help_loads_no_http_library_nor_rich(three_providers: Path) -> None:
    assert loaded(three_providers, "--help") <= {"typer"}


def test_the_probe_sees_typer_when_it_is_loaded(three_providers: Path) -> None:
    # `run --help` and a command line the fast parser leaves to typer (to report the error)
    # do load typer: the probe must notice it, else the tests above prove nothing.
    assert "typer" in loaded(three_providers, "run", "--help")
    assert "typer" in loaded(three_providers, "env", "--bogus")


def test_the_probe_sees_what_a_command_does_load(tmp_path: Path) -> None:
    # `models` needs httpx: the probe must notice it (else the tests above prove nothing).
    home = write_config(
        tmp_path,
        '[backends.b]\nproviders = ["local"]\n',
        '[b.local]\nbase_url = "http://127.0.0.1:9/v1"\n',
    )
    assert "httpx" in loaded(home, "models", "b/local", "--timeout", "1")


def agent_modules(loaded_modules: set[str]) -> set[str]:
    return {m for m in loaded_modules if m.startswith("auto_router.agents.")} - {
        "auto_router.agents.base"
    }


@pytest.mark.parametrize(
    ("args", "agent"),
    [
        (("run", "--no-rotate", "--", sys.executable, "-c", "pass"), "qwen"),  # backend name
        (("run", "-b", "gemini", "--dry-run", "--", "true"), "gemini"),
        (("run", "--dry-run", "--", "claude", "-p", "hi"), "claude"),  # the command's name
        (("env", "-b", "gemini"), "gemini"),
    ],
    ids=["qwen", "gemini", "claude", "env"],
)
def test_run_and_env_import_only_the_agent_they_need(
    three_providers: Path, args: tuple[str, ...], agent: str
) -> None:
    assert agent_modules(modules(three_providers, *args)) == {f"auto_router.agents.{agent}"}


def test_joining_a_running_proxy_asks_for_no_name_resolution() -> None:
    # `port_open` (every run that finds its managed proxy running) connects without
    # getaddrinfo, whose "idna" codec loads stringprep and unicodedata.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]
        probe = (
            "import sys\n"
            "from auto_router.runs import port_open\n"
            f"print(port_open({port}), 'encodings.idna' in sys.modules)\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60
        )
    assert done.stdout.split() == ["True", "False"], done.stderr


def test_a_run_that_hits_no_limit_loads_no_reset_phrases(three_providers: Path) -> None:
    # The reset-time phrases (and their regular expressions) are for an attempt that hit a
    # usage limit; tests/launcher check that such an attempt still reads its reset time.
    found = modules(three_providers, "run", "--no-rotate", "--", sys.executable, "-c", "pass")
    assert "auto_router.launcher.runner" in found  # the probe did run the launcher
    assert not found & {"auto_router.limits.resets", "auto_router.limits.phrases"}
