"""Attacks on the real thing: the proxy on uvicorn with its production settings on a free
loopback port, fake providers on real sockets, real HTTP requests with the attacker's
headers, real shells and real subprocesses."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from auto_router.demo.fake_upstream import FakeUpstream, free_port
from auto_router.paths import Paths
from auto_router.proxy import ProxyApp, ProxyOptions, create_app
from auto_router.proxy.server import uvicorn_config
from tests.helpers import uvicorn_thread

KEY_ONE = "sk-one-secret-key-123456"


@pytest.fixture
def home(tmp_path: Path) -> Paths:
    return Paths(config_dir=tmp_path, data_dir=tmp_path)


def configure(paths: Paths, upstream: str, *, proxy: str = "", extra_meta: str = "") -> None:
    """Backend ``qwen`` with provider ``one`` at ``upstream``; ``proxy`` goes into [proxy]."""
    paths.llm_config.write_text(
        f"""
[backends.qwen]
providers = ["one"]

[message_backend]
default = "qwen"

[proxy]
{proxy}
"""
    )
    paths.provider_metadata.write_text(
        f"""
[qwen.one]
base_url = "{upstream}"
api_key = "{KEY_ONE}"
model = "one-model"
timeout = 5
{extra_meta}
"""
    )


def make_app(paths: Paths, **kwargs: object) -> ProxyApp:
    options = ProxyOptions(paths=paths, config_interval=0.0, **kwargs)  # type: ignore[arg-type]
    return create_app(options)


@contextlib.contextmanager
def running(app: ProxyApp, host: str = "127.0.0.1") -> Iterator[int]:
    """``app`` on uvicorn exactly as ``auto-router proxy`` runs it; yields the port."""
    port = free_port()
    with uvicorn_thread(uvicorn_config(app, host, port)):
        yield port


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream() as fake:
        yield fake
