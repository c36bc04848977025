"""``check_provider`` and ``auto-router provider test`` / ``models`` against a real local server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from auto_router.config import ProviderConfig
from auto_router.demo.fake_upstream import Action, FakeUpstream, Hang, Reply, Seen, free_port
from auto_router.providers.health import check_configured_provider, check_provider

KEY = "sk-test-secret-key-abcdef123456"


def model_list(seen: Seen) -> Action:
    """A provider's model list; a wrong key gets 401, ``/boom`` 503, ``/notjson`` something
    else than a list, and ``/hang`` no answer at all."""
    if seen.path.startswith("/hang"):
        return Hang()
    if seen.path.startswith("/boom"):
        return Reply(503, {"error": "overloaded"})
    if seen.path.startswith("/notjson"):
        return Reply(200, {"hello": "world"})
    if seen.key()[1] != KEY:
        return Reply(401, {"error": {"message": "invalid key"}})
    return Reply(body={"object": "list", "data": [{"id": "m-1"}, {"id": "m-2"}, {"id": "m-3"}]})


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream(model_list) as fake:
        yield fake


def _provider(base_url: str, key: str | None = KEY, type: str = "openai") -> ProviderConfig:
    return ProviderConfig(backend="b", name="p", type=type, base_url=base_url, api_key=key)


def _refused_url() -> str:
    return f"http://127.0.0.1:{free_port()}/v1"


def test_healthy_openai_provider(upstream: FakeUpstream) -> None:
    with httpx.Client() as client:
        result = check_provider(_provider(upstream.root + "/v1").resolve({}), client)
    assert result.healthy and result.status_code == 200 and result.models == 3
    assert result.model_ids == ("m-1", "m-2", "m-3")
    assert result.latency_ms is not None and result.latency_ms >= 0
    assert upstream.seen[-1].headers["authorization"] == f"Bearer {KEY}"


def test_anthropic_sends_x_api_key(upstream: FakeUpstream) -> None:
    with httpx.Client() as client:
        result = check_provider(_provider(upstream.root, type="anthropic").resolve({}), client)
    assert result.healthy, result
    assert result.url == upstream.root + "/v1/models"
    assert (
        upstream.seen[-1].headers["x-api-key"] == KEY
        and "anthropic-version" in upstream.seen[-1].headers
    )


@pytest.mark.parametrize(
    ("path", "key", "status", "error"),
    [
        ("/v1", "wrong-key", 401, "unauthorized"),
        ("/boom/v1", KEY, 503, "server error"),
        ("/notjson/v1", KEY, 200, "not a model list"),
    ],
)
def test_unhealthy_answers(
    upstream: FakeUpstream, path: str, key: str, status: int, error: str
) -> None:
    with httpx.Client() as client:
        result = check_provider(_provider(upstream.root + path, key).resolve({}), client)
    assert not result.healthy and result.status_code == status
    assert error in (result.error or "")


def test_a_passthrough_provider_is_not_blamed_for_a_missing_key(upstream: FakeUpstream) -> None:
    """A subscription answers 401 to a test without a login: that says nothing of a key."""
    provider = ProviderConfig(
        backend="b", name="sub", type="anthropic", base_url=upstream.root, auth="passthrough"
    )
    with httpx.Client() as client:
        result = check_provider(provider.resolve({}), client)
    assert not result.healthy and result.status_code == 401
    assert "client's own login" in (result.error or "") and "check the API key" not in (
        result.error or ""
    )
    assert not {"authorization", "x-api-key"} & set(upstream.seen[-1].headers)


def test_refused_connection_and_timeout(upstream: FakeUpstream) -> None:
    with httpx.Client() as client:
        refused = check_provider(_provider(_refused_url()).resolve({}), client)
        hung = check_provider(
            _provider(upstream.root + "/hang/v1").resolve({}), client, timeout=0.3
        )
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


def test_provider_test_and_models_cli(upstream: FakeUpstream, tmp_path: Path) -> None:
    (tmp_path / "provider_metadata.toml").write_text(
        f'[q.good]\nbase_url = "{upstream.root}/v1"\napi_key = "${{TEST_KEY}}"\n\n'
        f'[q.bad]\nbase_url = "{upstream.root}/v1"\napi_key = "wrong-but-literal-key"\n\n'
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
