"""The management API on a real socket (uvicorn), steering real proxied traffic to fake
providers on real sockets, driven by httpx and the official openai SDK."""

from __future__ import annotations

import httpx
import openai
import pytest

from auto_router.demo.fake_upstream import FakeUpstream
from auto_router.paths import Paths
from auto_router.proxy import ProxyOptions, create_app
from tests.helpers import serve

from .conftest import ADMIN_TOKEN, texts, write_config

pytestmark = pytest.mark.integration


def configure(paths: Paths, a: FakeUpstream, b: FakeUpstream) -> None:
    write_config(
        paths,
        f"""# hand-written
[backends.qwen]
model = "qwen3-coder-plus"
providers = ["a", "b"]   # keep this comment

[proxy]
admin_token = "{ADMIN_TOKEN}"
""",
        f"""# providers
[qwen.a]
base_url = "{a.url}"
api_key = "sk-a-secret-key-0000aaaa"
model = "a-model"

[qwen.b]
base_url = "{b.url}"
api_key = "sk-b-secret-key-0000bbbb"
model = "b-model"
""",
    )


def chat(base: str) -> str:
    with openai.OpenAI(base_url=f"{base}/v1", api_key="unused", max_retries=0) as client:
        reply = client.chat.completions.create(
            model="qwen3-coder-plus", messages=[{"role": "user", "content": "hi"}]
        )
    return reply.choices[0].message.content or ""


def models_seen(*upstreams: FakeUpstream) -> list[list[str]]:
    return [
        [s.json()["model"] for s in u.seen if s.path.endswith("/chat/completions")]
        for u in upstreams
    ]


def test_steering_live_traffic_through_the_api(home: Paths) -> None:
    with FakeUpstream() as a, FakeUpstream() as b, FakeUpstream() as c:
        configure(home, a, b)
        app = create_app(ProxyOptions(paths=home, config_interval=3600.0))
        with serve(app) as base:
            admin = httpx.Client(
                base_url=base, headers={"authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=30
            )
            anonymous = httpx.Client(base_url=base, timeout=30)

            assert chat(base) == "hello"
            assert models_seen(a, b) == [["a-model"], []]

            resp = admin.put(
                "/v1/settings/active_provider", json={"backend": "qwen", "provider": "b"}
            )
            assert resp.status_code == 200, resp.text
            chat(base)
            assert models_seen(a, b) == [["a-model"], ["b-model"]]

            resp = admin.post(
                "/v1/providers",
                json={
                    "backend": "qwen",
                    "id": "c",
                    "settings": {"base_url": c.url, "api_key": "sk-c-secret-key-0000cccc"},
                },
            )
            assert resp.status_code == 201, resp.text
            assert "sk-c-secret" not in resp.text
            admin.put(
                "/v1/settings/active_provider", json={"provider": "qwen/c"}
            ).raise_for_status()
            chat(base)
            assert models_seen(c) == [["qwen3-coder-plus"]]  # no model of its own: unchanged
            assert c.seen[-1].headers["authorization"] == "Bearer sk-c-secret-key-0000cccc"

            admin.put("/v1/providers/qwen/c", json={"set": {"model": "c-model"}}).raise_for_status()
            chat(base)
            assert models_seen(c) == [["qwen3-coder-plus", "c-model"]]

            llm, meta = texts(home)
            assert 'providers = ["a", "b", "c"]   # keep this comment' in llm
            assert meta.startswith("# providers\n[qwen.a]\n")

            # The management API needs the token; proxied traffic does not (no client tokens).
            assert anonymous.get("/v1/providers").status_code == 401
            assert (
                anonymous.put(
                    "/v1/settings/active_provider", json={"provider": "qwen/a"}
                ).status_code
                == 401
            )
            chat(base)
            assert len(c.seen) == 3

            health = anonymous.get("/health").json()
            statuses = {p["name"]: p["status"] for p in health["backends"][0]["providers"]}
            assert statuses == {"a": "ready", "b": "ready", "c": "current"}
            checks = admin.post("/v1/providers/health").json()
            assert checks["healthy"] is True and checks["checked"] == 3
            admin.close()
            anonymous.close()
