"""The managed proxy's watch: it retires the proxy even when its launcher left before the proxy
was ready (real pipe, real runtime files; the server is a stand-in with uvicorn's two flags)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from auto_router.paths import Paths
from auto_router.proxy import managed as serve
from auto_router.runs import RuntimeDir, RunTokens


class Server:
    started = True
    should_exit = False


@pytest.fixture
def runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> RuntimeDir:
    monkeypatch.setattr(serve, "WATCH_INTERVAL", 0.01)
    return RuntimeDir(Paths(tmp_path, tmp_path), root=tmp_path / "run")


def broken_stdout(monkeypatch: pytest.MonkeyPatch) -> None:
    """A stdout whose reader has gone: the launcher exited before the proxy said ready."""
    read, write = os.pipe()
    os.close(read)
    monkeypatch.setattr(sys, "stdout", os.fdopen(write, "w", closefd=False))  # _watch closes the fd


def test_a_launcher_gone_before_ready_still_lets_the_proxy_retire(
    runtime: RuntimeDir, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken_stdout(monkeypatch)
    server = Server()
    serve._watch(server, runtime, RunTokens(runtime), 4321, linger=0)  # no BrokenPipeError
    assert server.should_exit  # no run is registered: the proxy retires


def test_ready_reaches_a_launcher_still_reading(
    runtime: RuntimeDir, monkeypatch: pytest.MonkeyPatch
) -> None:
    read, write = os.pipe()
    monkeypatch.setattr(sys, "stdout", os.fdopen(write, "w", closefd=False))  # _watch closes the fd
    serve._watch(Server(), runtime, RunTokens(runtime), 4321, linger=0)
    with os.fdopen(read) as pipe:
        assert pipe.read() == "ready 4321\n"  # and the write end is closed: EOF after it


def test_a_failing_watch_stops_the_server_instead_of_leaving_it_alone(
    runtime: RuntimeDir, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken_stdout(monkeypatch)

    def gone(self: RunTokens, *, live_only: bool = True) -> dict[str, object]:
        raise FileNotFoundError("runtime directory removed")

    monkeypatch.setattr(RunTokens, "refresh", gone)
    server = Server()
    with pytest.raises(FileNotFoundError):
        serve._watch(server, runtime, RunTokens(runtime), 4321, linger=0)
    assert server.should_exit
