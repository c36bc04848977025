"""``auto-router ui``: finds the running proxy or starts one, then opens or prints the page.

Real subprocesses of the CLI; the browser is a small recorder script named in ``$BROWSER``
(what ``webbrowser`` runs), so the test sees exactly what a browser would be handed."""

from __future__ import annotations

import os
import re
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from auto_router.cli.ui import Found, has_display, page_url, running_proxy
from auto_router.demo.fake_upstream import free_port
from auto_router.paths import Paths
from auto_router.runs import ProxyRecord, RuntimeDir
from tests.helpers import write_config

pytestmark = pytest.mark.integration

LLM = """\
[backends.qwen]
providers = ["one"]

[message_backend]
default = "qwen"
"""
META = """\
[qwen.one]
base_url = "http://127.0.0.1:9/v1"
api_key = "sk-ui-secret-key-000111"
"""
URL = re.compile(r"http://127\.0\.0\.1:(\d+)/ui#token=(ara_[\w-]+)")


def cli(config: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "auto_router", "--config-dir", str(config), "ui", *args]


def headless() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.pop("AUTO_ROUTER_ADMIN_TOKEN", None)
    return env


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_config(tmp_path / "home", LLM, META)


@pytest.fixture
def started(config: Path, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], int, str]]:
    """``auto-router ui`` with no proxy running and no display: it starts one in the
    foreground and prints the address."""
    port = free_port()
    errors = tmp_path / "ui-stderr"
    with (
        errors.open("w") as err,
        subprocess.Popen(
            cli(config, "--port", str(port)),
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            env=headless(),
        ) as proc,
    ):
        assert proc.stdout is not None
        try:
            found = None
            deadline = time.monotonic() + 30
            while found is None and time.monotonic() < deadline:
                line = proc.stdout.readline()
                if not line:
                    break
                found = URL.search(line)
            assert found is not None, errors.read_text()
            assert int(found.group(1)) == port
            yield proc, port, found.group(2)
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def test_ui_starts_the_proxy_and_prints_the_page_address_without_a_display(
    config: Path, started: tuple[subprocess.Popen[str], int, str], tmp_path: Path
) -> None:
    proc, port, token = started
    base = f"http://127.0.0.1:{port}"
    page = httpx.get(f"{base}/ui")
    assert page.status_code == 200 and "auto-router" in page.text
    assert httpx.get(f"{base}/v1/status").status_code == 401
    status = httpx.get(f"{base}/v1/status", headers={"authorization": f"Bearer {token}"})
    assert status.status_code == 200
    assert status.json()["backends"][0]["providers"][0]["name"] == "one"
    # The token is the one in the proxy's own 0600 token file: printed to this terminal only.
    token_file = RuntimeDir(Paths(config, config)).token_file(port)
    assert token_file.read_text().strip() == token
    proc.send_signal(signal.SIGINT)
    assert proc.wait(20) in (0, 130, -signal.SIGINT)
    assert not token_file.exists()
    # Printed to the user's terminal (stdout) only: never in the proxy's log lines.
    log = (tmp_path / "ui-stderr").read_text()
    assert "proxy starting" in log and token not in log


def test_a_second_ui_finds_the_running_proxy(
    config: Path, started: tuple[subprocess.Popen[str], int, str]
) -> None:
    _, port, token = started
    out = subprocess.run(
        cli(config, "--port", str(port), "--no-open"),
        capture_output=True,
        text=True,
        timeout=60,
        env=headless(),
    )
    assert out.returncode == 0, out.stderr
    assert f"http://127.0.0.1:{port}/ui#token={token}" in out.stdout
    assert "starting the proxy" not in out.stderr


def test_with_a_display_the_browser_gets_a_private_file_not_the_token(
    config: Path, started: tuple[subprocess.Popen[str], int, str], tmp_path: Path
) -> None:
    _, port, token = started
    seen = tmp_path / "browser-argv"
    recorder = tmp_path / "browser.py"
    recorder.write_text(f"import sys; open({str(seen)!r}, 'w').write(repr(sys.argv))\n")
    env = {**headless(), "DISPLAY": ":99", "BROWSER": f"{sys.executable} {recorder} %s"}
    out = subprocess.run(
        cli(config, "--port", str(port)), capture_output=True, text=True, timeout=60, env=env
    )
    assert out.returncode == 0, out.stderr
    assert token not in out.stdout + out.stderr
    assert f"opened http://127.0.0.1:{port}/ui#token=****{token[-4:]}" in out.stdout
    argv = seen.read_text()
    assert token not in argv  # other users can read a process's arguments
    opener = Path(re.search(r"file://([^'\"]+)", argv).group(1))  # type: ignore[union-attr]
    assert stat.S_IMODE(opener.stat().st_mode) == 0o600
    assert f"http://127.0.0.1:{port}/ui#token={token}" in opener.read_text()


def test_the_managed_proxy_is_found_by_its_record(tmp_path: Path) -> None:
    paths = Paths(tmp_path, tmp_path)
    runtime = RuntimeDir(paths)
    runtime.ensure()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        record = ProxyRecord(
            os.getpid(), port, f"http://127.0.0.1:{port}", str(tmp_path), 0.0, "ara_m"
        )
        runtime.write_proxy(record)
        assert running_proxy(runtime, "127.0.0.1", free_port(), None) == Found(record.url, "ara_m")
    # Gone (nothing listens on it any more), and no other proxy: nothing is found.
    assert running_proxy(runtime, "127.0.0.1", free_port(), None) is None


def test_a_listening_port_without_a_readable_token_is_not_a_proxy_of_ours(tmp_path: Path) -> None:
    runtime = RuntimeDir(Paths(tmp_path, tmp_path))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        assert running_proxy(runtime, "127.0.0.1", port, None) is None
        found = running_proxy(runtime, "0.0.0.0", port, "ara_configured")
        assert found == Found(f"http://127.0.0.1:{port}", "ara_configured")


def test_display_detection_and_the_masked_address() -> None:
    assert not has_display({}, "linux")
    assert has_display({"WAYLAND_DISPLAY": "wayland-0"}, "linux")
    assert has_display({"DISPLAY": ":0"}, "linux")
    assert has_display({}, "darwin")
    found = Found("http://127.0.0.1:3001", "ara_secret-token-wxyz")
    assert page_url(found) == "http://127.0.0.1:3001/ui#token=ara_secret-token-wxyz"
    assert page_url(found, with_token=False) == "http://127.0.0.1:3001/ui#token=****wxyz"
