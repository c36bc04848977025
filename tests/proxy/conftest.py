from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from auto_router.demo.fake_upstream import FakeUpstream
from auto_router.paths import Paths
from auto_router.proxy import ProxyApp, ProxyOptions, create_app
from auto_router.proxy.failover import Pacing
from tests.helpers import FakeClock as Clock


@pytest.fixture
def home(tmp_path: Path) -> Paths:
    return Paths(config_dir=tmp_path, data_dir=tmp_path)


def write_config(paths: Paths, llm: str, metadata: str) -> None:
    paths.llm_config.write_text(llm)
    paths.provider_metadata.write_text(metadata)


def two_providers(
    paths: Paths, first: str, second: str, *, extra_llm: str = "", timeout_one: float = 2
) -> None:
    """Backend ``qwen`` with providers ``one`` (at ``first``) and ``two`` (at ``second``)."""
    write_config(
        paths,
        f"""
[backends.qwen]
model = "qwen3-coder-plus"
providers = ["one", "two"]

[message_backend]
default = "qwen"
{extra_llm}
""",
        f"""
[qwen.one]
base_url = "{first}"
api_key = "sk-one-secret-key-123456"
model = "one-model"
responses = true
timeout = {timeout_one}
[qwen.two]
base_url = "{second}"
api_key = "sk-two-secret-key-654321"
model = "two-model"
responses = true
timeout = 2
""",
    )


@pytest.fixture
def upstreams() -> Iterator[tuple[FakeUpstream, FakeUpstream]]:
    with FakeUpstream() as a, FakeUpstream() as b:
        yield a, b


class Pauses:
    """The retry rules' clock: every pause they ask for is recorded and taken at once.

    ``times`` is when each pause ended on this clock, so a test reads the gaps between
    attempts as the rules meant them, without sleeping them out."""

    def __init__(self) -> None:
        self.now = 0.0
        self.asked: list[float] = []
        self._lock = threading.Lock()

    async def sleep(self, seconds: float) -> None:
        with self._lock:
            self.asked.append(seconds)
            self.now += seconds
        await asyncio.sleep(0)

    def monotonic(self) -> float:
        return self.now

    def pacing(self) -> Pacing:
        return Pacing(sleep=self.sleep, monotonic=self.monotonic, jitter=lambda low, high: low)


def make_app(
    paths: Paths, clock: Clock | None = None, pauses: Pauses | None = None, **kwargs: object
) -> ProxyApp:
    options = ProxyOptions(
        paths=paths,
        config_interval=0.0,
        clock=clock or time.time,
        pacing=(pauses or Pauses()).pacing(),
        **kwargs,  # type: ignore[arg-type]
    )
    return create_app(options)
