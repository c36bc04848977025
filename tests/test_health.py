"""``check_provider`` and ``auto-router provider test`` / ``models`` against a real local server."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from auto_router.config import ProviderConfig
from auto_router.providers.health import check_configured_provider, check_provider

KEY = "sk-test-secret-key-abcdef123456"


class Upstream:
    def __init__(self) -> None:
        self.release = threading.Event()
        self.seen: list[dict[str, str]] = []
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                upstream.seen.append({k.lower(): v for k, v in self.headers.items()})
                if self.path.startswith("/hang"):
                    upstream.release.wait(30)
                    return
                status, body = upstream.answer(self.path, self.headers)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def answer(self, path: str, headers: object) -> tuple[int, object]:
        auth = headers.get("authorization") or headers.get("x-api-key")
        if path.startswith("/boom"):
            return 503, {"error": "overloaded"}
        if path.startswith("/notjson"):
            return 200, {"hello": "world"}
        if auth not in (f"Bearer {KEY}", KEY):
            return 401, {"error": {"message": "invalid key"}}
        return 200, {"object": "list", "data": [{"id": "m-1"}, {"id": "m-2"}, {"id": "m-3"}]}


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    server = Upstream()
    server.thread.start()
    yield server
    server.release.set()
    server.server.shutdown()
    server.server.server_close()


def _provider(base_url: str, key: str | None = KEY, type: str = "openai") -> ProviderConfig:
    return ProviderConfig(backend="b", name="p", type=type, base_url=base_url, api_key=key)


def _refused_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def test_healthy_openai_provider(upstream: Upstream) -> None:
    with httpx.Client() as client:
        result = check_provider(_provider(upstream.url + "/v1").resolve({}), client)
    assert result.healthy and result.status_code == 200 and result.models == 3
    assert result.model_ids == ("m-1", "m-2", "m-3")
    assert result.latency_ms is not None and result.latency_ms >= 0
    assert upstream.seen[-1]["authorization"] == f"Bearer {KEY}"


def test_anthropic_sends_x_api_key(upstream: Upstream) -> None:
    with httpx.Client() as client:
        result = check_provider(_provider(upstream.url, type="anthropic").resolve({}), client)
    assert result.healthy, result
    assert result.url == upstream.url + "/v1/models"
    assert upstream.seen[-1]["x-api-key"] == KEY and "anthropic-version" in upstream.seen[-1]


@pytest.mark.parametrize(
    ("path", "key", "status", "error"),
    [
        ("/v1", "wrong-key", 401, "unauthorized"),
        ("/boom/v1", KEY, 503, "server error"),
        ("/notjson/v1", KEY, 200, "not a model list"),
    ],
)
def test_unhealthy_answers(
    upstream: Upstream, path: str, key: str, status: int, error: str
) -> None:
    with httpx.Client() as client:
        result = check_provider(_provider(upstream.url + path, key).resolve({}), client)
    assert not result.healthy and result.status_code == status
    assert error in (result.error or "")


def test_refused_connection_and_timeout(upstream: Upstream) -> None:
    with httpx.Client() as client:
        refused = check_provider(_provider(_refused_url()).resolve({}), client)
        hung = check_provider(_provider(upstream.url + "/hang/v1").resolve({}), client, timeout=0.3)
    assert not refused.healthy and refused.status_code is None
    assert "refused" in (refused.error or "")
    assert not hung.healthy and hung.error == "timed out"


def test_missing_variable_is_unhealthy_not_an_exception() -> None:
    provider = _provider("http://127.0.0.1:9/v1", "${NOT_SET_ANYWHERE_XYZ}")
    with httpx.Client() as client:
        result = check_configured_provider(provider, client, environ={})
    assert not result.healthy and "NOT_SET_ANYWHERE_XYZ" in (result.error or "")


def test_injected_transport_needs_no_network() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v1/models"
        return httpx.Response(200, json={"data": [{"id": "x"}]})

    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        result = check_provider(_provider("https://api.example.test/v1").resolve({}), client)
    assert result.healthy and result.models == 1


def _cli(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("AUTO_ROUTER")}
    environ.update(env)
    done = subprocess.run(
        [sys.executable, "-m", "auto_router", "--config-dir", str(home), *args],
        capture_output=True,
        text=True,
        env=environ,
        timeout=120,
    )
    assert "Traceback" not in done.stderr
    return done


def test_provider_test_and_models_cli(upstream: Upstream, tmp_path: Path) -> None:
    (tmp_path / "provider_metadata.toml").write_text(
        f'[q.good]\nbase_url = "{upstream.url}/v1"\napi_key = "${{TEST_KEY}}"\n\n'
        f'[q.bad]\nbase_url = "{upstream.url}/v1"\napi_key = "wrong-but-literal-key"\n\n'
        f'[q.down]\nbase_url = "{_refused_url()}"\n'
    )
    good = _cli(tmp_path, "provider", "test", "q/good", TEST_KEY=KEY)
    assert good.returncode == 0, good.stderr
    assert "healthy" in good.stdout and "HTTP 200" in good.stdout and "3 models" in good.stdout
    bad = _cli(tmp_path, "provider", "test", "q/bad", "--json", TEST_KEY=KEY)
    assert bad.returncode == 1
    assert json.loads(bad.stdout)["results"][0]["status_code"] == 401
    everything = _cli(tmp_path, "provider", "test", "--all", TEST_KEY=KEY)
    assert everything.returncode == 1
    lines = everything.stdout.splitlines()
    assert lines[0].startswith("healthy") and lines[1].startswith("unhealthy")
    assert "refused" in lines[2]
    for out in (good.stdout, bad.stdout, everything.stdout, everything.stderr):
        assert KEY not in out and "wrong-but-literal-key" not in out
    models = _cli(tmp_path, "models", "q/good", TEST_KEY=KEY)
    assert models.returncode == 0 and models.stdout.split() == ["m-1", "m-2", "m-3"]
    current = _cli(tmp_path, "models", "--json", TEST_KEY=KEY)
    assert json.loads(current.stdout)["model_ids"] == ["m-1", "m-2", "m-3"]
    failing = _cli(tmp_path, "models", "q/bad")
    assert failing.returncode == 1 and "unauthorized" in failing.stderr
