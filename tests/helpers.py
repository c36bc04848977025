"""Helpers shared by the tests."""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

import pytest
import uvicorn
from starlette.types import ASGIApp

from auto_router.demo.fake_upstream import free_port


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


C = TypeVar("C", bound=contextlib.AbstractContextManager[object])

#: SDK clients made by a test's helper, closed when the test ends (see ``closed_after_test``).
_OPEN_CLIENTS: list[contextlib.AbstractContextManager[object]] = []


def closed_after_test(client: C) -> C:
    """Close ``client`` when the current test ends. An SDK client left for the garbage
    collector may lose its pooled socket before its own finalizer runs, and the
    ``ResourceWarning`` then surfaces, as an error, in whichever later test the collector
    happens to run in."""
    _OPEN_CLIENTS.append(client)
    return client


def close_test_clients() -> None:
    while _OPEN_CLIENTS:
        _OPEN_CLIENTS.pop().__exit__(None, None, None)


def require_program(name: str, install: str) -> None:
    """Skip, with the reason, when a system program a test runs is missing; under CI=true
    fail instead, since .ci/run installs it (a skip there would hide a missing install)."""
    if shutil.which(name) is not None:
        return
    reason = f"{name} is not installed ({install})"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}: .ci/run should have installed it")
    pytest.skip(reason)


def write_config(directory: Path, llm: str, metadata: str = "") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "llm_config.toml").write_text(llm, encoding="utf-8")
    (directory / "provider_metadata.toml").write_text(metadata, encoding="utf-8")
    return directory


THREE_PROVIDERS_LLM = """\
[backends.qwen]
enabled = true
model = "qwen3-coder-plus"
providers = ["qwen-open-router", "qwen-azure", "qwen-direct"]

[backends.gemini]
model = "gemini-2.5-pro"
providers = ["gemini-a"]

[message_backend]
default = "qwen"
order = ["qwen", "gemini"]
"""

THREE_PROVIDERS_META = """\
[qwen.qwen-open-router]
command = "uvx"
args = ["qwen-openai-proxy"]
description = "Qwen via OpenRouter API"
base_url = "https://openrouter.ai/api/v1"
model = "qwen/qwen3-coder"
OPENROUTER_API_KEY = "${OPENROUTER_API_KEY:-sk-or-test-0000000000000000}"

[qwen.qwen-azure]
description = "Qwen via Azure"
type = "azure-openai"
AZURE_API_KEY = "azure-secret-value-123456"

[qwen.qwen-direct]
description = "Direct"
QWEN_API_KEY = "qwen-direct-key"

[gemini.gemini-a]
type = "gemini"
GEMINI_API_KEY = "gem-key"
"""


def converse_on_terminal(
    argv: list[str], prompt: bytes, answer: bytes, env: dict[str, str] | None = None
) -> tuple[int, str]:
    """Run ``argv`` on a pseudo-terminal; type ``answer`` once ``prompt`` shows. Returns the
    exit status and everything the program wrote."""
    master, slave = os.openpty()
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env)
    os.close(slave)
    seen = b""
    deadline = time.monotonic() + 60
    answered = False
    while proc.poll() is None and time.monotonic() < deadline:
        if select.select([master], [], [], 0.1)[0]:
            try:
                seen += os.read(master, 4096)
            except OSError:
                break
        if not answered and prompt in seen:
            os.write(master, answer)
            answered = True
    code = proc.wait(timeout=30)
    try:
        while select.select([master], [], [], 0.1)[0]:
            chunk = os.read(master, 4096)
            if not chunk:
                break
            seen += chunk
    except OSError:
        pass
    os.close(master)
    return code, seen.decode(errors="replace")


@contextlib.contextmanager
def uvicorn_thread(config: uvicorn.Config) -> Iterator[uvicorn.Server]:
    """Run uvicorn with ``config`` in a thread until the block ends; yields the server."""
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield server
    finally:
        server.should_exit = True
        thread.join(30)


@contextlib.contextmanager
def serve(app: ASGIApp) -> Iterator[str]:
    """Run ``app`` on uvicorn (uvloop + httptools) on a free port; yields the base URL."""
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        ws="none",
        lifespan="on",
        log_config=None,
        log_level="warning",
        access_log=False,
    )
    with uvicorn_thread(config):
        yield f"http://127.0.0.1:{port}"
