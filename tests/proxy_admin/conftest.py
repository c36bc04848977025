from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from auto_router.paths import Paths
from auto_router.proxy import ProxyApp, ProxyOptions, create_app
from auto_router.proxy.httpx_upstream import HttpxUpstream
from auto_router.secrets import Secret

LLM = """\
# Routing, written by hand. Every comment here must survive API edits.
[backends.qwen]
model = "qwen3-coder-plus"   # what clients ask for
providers = ["one", "two"]   # rotation order

[backends.claude]
providers = ["anthropic-direct"]

[message_backend]
default = "qwen"
order = ["qwen", "claude"]   # fallback order
"""

META = """\
# Providers. Keys come from the environment where possible.

[qwen.one]
description = "first choice"
base_url = "https://one.example/v1"
api_key = "sk-one-secret-key-123456"   # literal on purpose
model = "one-model"   # provider's own name

# the backup
[qwen.two]
base_url = "https://two.example/v1"
api_key = "sk-two-secret-key-654321"
headers = { "X-Title" = "auto-router", "X-Api-Token" = "tok-secret-header-777777" }
TWO_API_KEY = "env-secret-value-888888"

[claude.anthropic-direct]
type = "anthropic"
base_url = "https://anthropic.example"
api_key = "${ANTHROPIC_TEST_KEY_UNSET:-sk-ant-default-secret-999999}"
"""

#: Every literal credential in the files above: none may appear in any API response.
SECRETS = (
    "sk-one-secret-key-123456",
    "sk-two-secret-key-654321",
    "tok-secret-header-777777",
    "env-secret-value-888888",
    "sk-ant-default-secret-999999",
)

ADMIN_TOKEN = "admin-token-abcdefghijklmnop"
#: The token the app is started with (``ProxyOptions.admin_token``), as the CLI would make.
START_TOKEN = "ara_start-up-token-for-the-tests-0000"


@pytest.fixture
def home(tmp_path: Path) -> Paths:
    paths = Paths(config_dir=tmp_path / "config", data_dir=tmp_path / "data")
    paths.config_dir.mkdir()
    return paths


@pytest.fixture
def configured(home: Paths) -> Paths:
    write_config(home, LLM, META)
    return home


def write_config(paths: Paths, llm: str, metadata: str) -> None:
    paths.llm_config.write_text(llm)
    paths.provider_metadata.write_text(metadata)


def texts(paths: Paths) -> tuple[str, str]:
    return paths.llm_config.read_text(), paths.provider_metadata.read_text()


class Upstreams:
    """``httpx.MockTransport`` fake providers: answers chat completions, records hosts."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        model = json.loads(request.content or b"{}").get("model", "?")
        return httpx.Response(
            200,
            json={
                "id": "x",
                "object": "chat.completion",
                "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}}],
                "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
            },
        )

    def hosts(self) -> list[str]:
        return [r.url.host for r in self.requests]


@contextlib.asynccontextmanager
async def client_for(
    paths: Paths,
    upstreams: Upstreams | None = None,
    *,
    token: str | None = START_TOKEN,
    **options: Any,
) -> AsyncIterator[tuple[httpx.AsyncClient, ProxyApp]]:
    """The whole app (data path + management API) over ``httpx.ASGITransport``; the
    client sends ``token`` (the start-up token unless told; ``""``: none)."""
    options.setdefault("config_interval", 0.0)
    options.setdefault("admin_token", Secret(START_TOKEN))
    app = create_app(
        ProxyOptions(
            paths=paths,
            upstream_client=HttpxUpstream(httpx.MockTransport(upstreams or Upstreams())),
            **options,
        )
    )
    headers = {"authorization": f"Bearer {token}"} if token else {}
    async with app.starlette.router.lifespan_context(app.starlette):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://proxy", headers=headers
        ) as client:
            yield client, app
        await app.proxy.drain()


CHAT = {"model": "qwen3-coder-plus", "messages": [{"role": "user", "content": "hi"}]}


def error_of(response: httpx.Response) -> dict[str, Any]:
    """The error object of a management API error (asserting its shape)."""
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert isinstance(error["code"], str) and error["code"].isupper()
    assert isinstance(error["message"], str) and error["message"]
    assert "Traceback" not in response.text
    return dict(error)
