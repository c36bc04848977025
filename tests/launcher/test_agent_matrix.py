"""Every agent family x every provider kind x every mode (issue 17's table).

Three checks per cell, each on its own level:

- what the agent receives (its variables and arguments), planned exactly as ``run`` plans the
  first attempt, for auto, ``--direct`` and ``--via-proxy``;
- which hosts the proxy calls for an API or agent-variables pool (a real proxy on a real
  socket, an upstream client that records every URL): only the loopback fakes the files name;
- that a 429 on the first provider ends on the second.

A family is one row of ``FAMILIES``: adding an agent is one line there.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from auto_router.demo.fake_upstream import FakeProvider, FakeUpstream
from auto_router.errors import ProtocolMismatchError
from auto_router.launcher.plan import ChildPlan, ProxyTarget
from auto_router.launcher.runner import Launcher, RunOptions
from auto_router.launcher.session import ProxySession
from auto_router.paths import Paths
from auto_router.proxy import ProxyOptions, create_app
from auto_router.proxy.failover import Pacing
from auto_router.proxy.upstream import AiohttpUpstream, Headers, Timeouts, UpstreamResponse
from auto_router.rotation.service import Rotator
from auto_router.secrets import Secret
from tests.helpers import serve

Read = Callable[[ChildPlan], str | None]


def env(*names: str) -> Read:
    """The first of ``names`` the agent's environment holds (an empty value counts as unset)."""
    return lambda plan: next((plan.overlay[n] for n in names if plan.overlay.get(n)), None)


def codex_arg(key: str) -> Read:
    """A ``-c key=value`` override on Codex's command line, the TOML string unquoted."""

    def read(plan: ChildPlan) -> str | None:
        prefix = f"{key}="
        found = [a[len(prefix) :] for a in plan.argv if a.startswith(prefix)]
        return found[0].strip('"') if found else None

    return read


def opencode(read: Callable[[dict[str, Any]], str | None]) -> Read:
    """A value of the config opencode is given inline (``OPENCODE_CONFIG_CONTENT``)."""

    def value(plan: ChildPlan) -> str | None:
        text = plan.overlay.get("OPENCODE_CONFIG_CONTENT")
        return read(json.loads(text)) if text else None

    return value


@dataclass(frozen=True)
class Family:
    """One agent: what it runs, the API it speaks, and where it reads its endpoint."""

    agent: str
    command: str
    #: The provider type native to it (its direct runs and the variables it reads).
    api: str
    #: The client protocol it speaks to the proxy.
    client: str
    url: Read
    key: Read
    model: Read


#: One row per agent family.
FAMILIES: tuple[Family, ...] = (
    Family(
        "qwen",
        "qwen",
        "openai",
        "chat",
        env("OPENAI_BASE_URL"),
        env("OPENAI_API_KEY"),
        env("OPENAI_MODEL"),
    ),
    Family(
        "claude",
        "claude",
        "anthropic",
        "anthropic",
        env("ANTHROPIC_BASE_URL"),
        env("ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_API_KEY"),
        env("ANTHROPIC_MODEL"),
    ),
    Family(
        "gemini",
        "gemini",
        "gemini",
        "gemini",
        env("GOOGLE_GEMINI_BASE_URL"),
        env("GEMINI_API_KEY"),
        env("GEMINI_MODEL"),
    ),
    Family(
        "codex",
        "codex",
        "openai",
        "responses",
        codex_arg("model_providers.auto_router.base_url"),
        env("AUTO_ROUTER_CODEX_API_KEY"),
        codex_arg("model"),
    ),
    Family(
        "aider",
        "aider",
        "openai",
        "chat",
        env("OPENAI_API_BASE"),
        env("OPENAI_API_KEY"),
        lambda plan: (plan.overlay.get("AIDER_MODEL") or "").removeprefix("openai/") or None,
    ),
    Family(
        "opencode",
        "opencode",
        "openai",
        "chat",
        opencode(lambda c: c["provider"]["auto-router"]["options"].get("baseURL")),
        env("AUTO_ROUTER_OPENCODE_API_KEY"),
        opencode(lambda c: c["model"].removeprefix("auto-router/")),
    ),
    Family(
        "generic",
        "some-tool",
        "openai",
        "chat",
        env("OPENAI_BASE_URL"),
        env("OPENAI_API_KEY"),
        env("OPENAI_MODEL"),
    ),
)
KINDS = ("api", "agent-variables", "command", "variables")
MODES: Mapping[str, bool | None] = {"auto": None, "direct": False, "via-proxy": True}

#: Per API: (base URL, key, model) variables an agent of that API reads.
AGENT_VARIABLES: Mapping[str, tuple[str, str, str]] = {
    "openai": ("OPENAI_BASE_URL", "OPENAI_API_KEY", "OPENAI_MODEL"),
    "anthropic": ("ANTHROPIC_BASE_URL", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_MODEL"),
    "gemini": ("GOOGLE_GEMINI_BASE_URL", "GEMINI_API_KEY", "GEMINI_MODEL"),
}
#: A credential variable that names no endpoint on its own (the agent's default host is its
#: own business in a direct run; the proxy never calls it).
LONE_KEY: Mapping[str, str] = {
    "openai": "OPENAI_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
    "gemini": "GOOGLE_API_KEY",
}
NAMES = ("one", "two")
PLACEHOLDER = "http://127.0.0.1:PORT"
TOKEN = "arr_" + "x" * 43


def key_of(name: str) -> str:
    return f"sk-{name}-secret-0123456789abcdef"


def url_of(api: str, root: str) -> str:
    """What a user writes: OpenAI-compatible URLs with ``/v1``, the others the host root."""
    return f"{root}/v1" if api == "openai" else root


def provider_table(
    api: str, kind: str, name: str, root: str, command: str, *, own_flag: bool = False
) -> str:
    url, key, model = url_of(api, root), key_of(name), f"model-{name}"
    lines = [f"[pool.{name}]"]
    if kind == "api":
        lines += [f'type = "{api}"', f'base_url = "{url}"', f'api_key = "{key}"']
        lines.append(f'model = "{model}"')
    elif kind == "agent-variables":
        url_var, key_var, model_var = AGENT_VARIABLES[api]
        lines += [f'{url_var} = "{url}"', f'{key_var} = "{key}"', f'{model_var} = "{model}"']
    elif kind == "command":
        lines += [f'command = "{command}"', f'{LONE_KEY[api]} = "{key}"']
    else:
        lines.append(f'{LONE_KEY[api]} = "{key}"')
    # an agent setting that is no endpoint: the same for every provider, or each its own
    lines.append(f'FAKE_FLAG = "{name}-flag"' if own_flag else 'FAKE_FLAG = "on"')
    return "\n".join(lines) + "\n"


def write_pool(paths: Paths, tables: Sequence[str]) -> None:
    names = ", ".join(f'"{t.split(".")[1].split("]")[0]}"' for t in tables)
    paths.llm_config.write_text(
        f'[backends.pool]\nproviders = [{names}]\n[message_backend]\ndefault = "pool"\n'
    )
    paths.provider_metadata.write_text("\n".join(tables))


def pool(
    paths: Paths, family: Family, kind: str, roots: Sequence[str], *, own_flag: bool = False
) -> None:
    tables = [
        provider_table(family.api, kind, n, r, family.command, own_flag=own_flag)
        for n, r in zip(NAMES, roots, strict=True)
    ]
    write_pool(paths, tables)


# ------------------------------------------------------------------ what the agent receives


def planned(paths: Paths, family: Family, via_proxy: bool | None) -> tuple[ChildPlan, bool]:
    """The first attempt's plan, as ``run`` makes it (a placeholder proxy, as --dry-run)."""
    launcher = Launcher(Rotator(paths), environ={"PATH": "/usr/bin"})
    options = RunOptions(command=(family.command,), via_proxy=via_proxy)
    choice = launcher.first_choice(options)
    mode = launcher.mode(options, choice)
    session = None
    if mode.via_proxy:
        assert mode.family is not None
        session = ProxySession(ProxyTarget(PLACEHOLDER, Secret(TOKEN), mode.family))
    with tempfile.TemporaryDirectory() as workdir:
        plan = launcher.plan(options, choice, Path(workdir), session)
    assert plan.agent.name == family.agent
    return plan, mode.via_proxy


def everything_given(plan: ChildPlan) -> str:
    return " ".join([*plan.overlay.values(), *plan.argv])


@pytest.fixture
def paths(tmp_path: Path) -> Paths:
    return Paths(config_dir=tmp_path, data_dir=tmp_path)


ROOTS = ("https://one.invalid", "https://two.invalid")
CELLS = [(f, k, m) for f in FAMILIES for k in KINDS for m in MODES]


@pytest.mark.parametrize(
    ("family", "kind", "mode"), CELLS, ids=[f"{f.agent}-{k}-{m}" for f, k, m in CELLS]
)
def test_what_the_agent_receives(paths: Paths, family: Family, kind: str, mode: str) -> None:
    pool(paths, family, kind, ROOTS)
    has_api = kind in ("api", "agent-variables")
    if mode == "via-proxy" and not has_api:
        # the proxy could only call a host nobody wrote: refused, before anything starts
        with pytest.raises(ProtocolMismatchError) as caught:
            planned(paths, family, MODES[mode])
        assert "names no API endpoint" in caught.value.message or "is a command" in (
            caught.value.message
        )
        return
    plan, via_proxy = planned(paths, family, MODES[mode])
    assert via_proxy == (has_api and mode != "direct")
    if via_proxy:
        url = family.url(plan)
        assert url is not None and url.startswith(PLACEHOLDER), url
        assert family.key(plan) == TOKEN
        assert family.model(plan) == "model-one"
        assert key_of("one") not in everything_given(plan)  # no provider key, ever
        assert "one.invalid" not in everything_given(plan)
        assert plan.overlay["FAKE_FLAG"] == "on"  # its other variables still come
        return
    assert plan.provider == "one"
    assert plan.overlay["FAKE_FLAG"] == "on"
    if has_api:
        assert (family.url(plan) or "").startswith(ROOTS[0]), family.url(plan)
        assert family.key(plan) == key_of("one")
        assert family.model(plan) == "model-one"
    else:  # its variables as written, and no endpoint auto-router made up
        assert plan.overlay[LONE_KEY[family.api]] == key_of("one")
        assert family.url(plan) is None


@pytest.mark.parametrize("family", FAMILIES, ids=[f.agent for f in FAMILIES])
@pytest.mark.parametrize("kind", ["api", "agent-variables"])
def test_the_model_is_the_current_providers_while_the_first_cools(
    paths: Paths, family: Family, kind: str
) -> None:
    pool(paths, family, kind, ROOTS, own_flag=True)
    Rotator(paths).record_usage_limit("pool", "one", reason="usage limit: test")
    plan, via_proxy = planned(paths, family, True)
    assert via_proxy and family.model(plan) == "model-two"
    assert plan.overlay["FAKE_FLAG"] == "two-flag"


@pytest.mark.parametrize("family", FAMILIES, ids=[f.agent for f in FAMILIES])
def test_auto_stays_direct_when_providers_set_different_agent_variables(
    paths: Paths, family: Family
) -> None:
    """Through the proxy the agent would get one provider's variables for every request."""
    pool(paths, family, "agent-variables", ROOTS, own_flag=True)
    plan, via_proxy = planned(paths, family, None)
    assert not via_proxy and plan.provider == "one"
    assert plan.overlay["FAKE_FLAG"] == "one-flag"


# ------------------------------------------------------------------ what the proxy calls


class Recording:
    """The production upstream client, noting every URL it is asked to call."""

    def __init__(self) -> None:
        self.inner = AiohttpUpstream()
        self.urls: list[str] = []

    async def open(self) -> None:
        await self.inner.open()

    async def aclose(self) -> None:
        await self.inner.aclose()

    async def send(
        self,
        method: str,
        url: str,
        headers: Headers,
        body: bytes | None,
        timeouts: Timeouts,
        *,
        stream: bool = False,
    ) -> UpstreamResponse:
        self.urls.append(url)
        return await self.inner.send(method, url, headers, body, timeouts, stream=stream)


async def _no_pause(seconds: float) -> None:
    return None


def client_request(client: str) -> tuple[str, dict[str, Any]]:
    """A minimal request of each client protocol (path, JSON body)."""
    user = {"role": "user", "content": "hi"}
    if client == "chat":
        return "/v1/chat/completions", {"model": "m", "messages": [user]}
    if client == "responses":
        return "/v1/responses", {"model": "m", "input": "hi"}
    if client == "anthropic":
        return "/v1/messages", {"model": "m", "max_tokens": 16, "messages": [user]}
    return "/v1beta/models/m:generateContent", {
        "contents": [{"role": "user", "parts": [{"text": "hi"}]}]
    }


def answer_text(client: str, body: dict[str, Any]) -> str:
    if client == "chat":
        return str(body["choices"][0]["message"]["content"])
    if client == "responses":
        return "".join(
            c.get("text", "") for item in body["output"] for c in item.get("content", [])
        )
    if client == "anthropic":
        return "".join(b.get("text", "") for b in body["content"])
    return "".join(p.get("text", "") for p in body["candidates"][0]["content"]["parts"])


@pytest.fixture
def limited_then_ok() -> Iterator[tuple[FakeUpstream, FakeUpstream]]:
    with (
        FakeUpstream(FakeProvider("one", "rate-limited")) as one,
        FakeUpstream(FakeProvider("two", text="answer from two", pieces=None)) as two,
    ):
        yield one, two


def ask_proxy(paths: Paths, client: str) -> tuple[httpx.Response, Recording]:
    """One request of ``client``'s protocol to a proxy on a real socket serving ``paths``."""
    recording = Recording()
    pacing = Pacing(sleep=_no_pause, jitter=lambda low, high: low)
    options = ProxyOptions(
        paths=paths, config_interval=0.0, upstream_client=recording, pacing=pacing
    )
    path, body = client_request(client)
    with serve(create_app(options)) as url:
        response = httpx.post(url + path, json=body, timeout=30)
    return response, recording


@pytest.mark.parametrize("family", FAMILIES, ids=[f.agent for f in FAMILIES])
def test_a_standalone_proxy_calls_no_host_for_a_variables_only_pool(
    paths: Paths, family: Family
) -> None:
    """``auto-router proxy`` on a backend whose providers name no endpoint: the type's default
    host (``api.openai.com`` for the default type) is never called; the client gets an error."""
    write_pool(paths, [provider_table(family.api, "variables", "vars", "", family.command)])
    response, recording = ask_proxy(paths, family.client)
    assert response.status_code >= 500
    assert all(urlsplit(u).netloc == "" for u in recording.urls), recording.urls


PROXY_CELLS = [(f, k) for f in FAMILIES for k in ("api", "agent-variables")]


@pytest.mark.parametrize(
    ("family", "kind"), PROXY_CELLS, ids=[f"{f.agent}-{k}" for f, k in PROXY_CELLS]
)
def test_the_proxy_calls_only_named_hosts_and_a_429_ends_on_the_second(
    paths: Paths,
    limited_then_ok: tuple[FakeUpstream, FakeUpstream],
    family: Family,
    kind: str,
) -> None:
    one, two = limited_then_ok
    tables = [
        provider_table(family.api, kind, n, fake.root, family.command)
        for n, fake in zip(NAMES, (one, two), strict=True)
    ]
    # and a variables-only table, which no launcher run sends through the proxy
    tables.append(provider_table(family.api, "variables", "vars", "", family.command))
    write_pool(paths, tables)
    response, recording = ask_proxy(paths, family.client)
    assert response.status_code == 200, response.text
    assert "answer from two" in answer_text(family.client, response.json())
    named = {urlsplit(one.root).netloc, urlsplit(two.root).netloc}
    called = [urlsplit(u).netloc for u in recording.urls]
    assert called and set(called) <= named, recording.urls
    assert one.seen and len(two.seen) == 1  # (a short Retry-After may be waited out once)
    where, key = two.seen[0].key()
    assert key == key_of("two")
    if kind == "agent-variables" and family.api == "anthropic":
        assert where == "authorization"  # ANTHROPIC_AUTH_TOKEN is a bearer token


def test_each_provider_is_asked_for_its_own_claude_tier_models(
    paths: Paths, limited_then_ok: tuple[FakeUpstream, FakeUpstream]
) -> None:
    """cc-switch presets name a provider's haiku/sonnet models; after a failover the second
    provider gets its own, not the first's."""
    one, two = limited_then_ok
    tables = [
        provider_table("anthropic", "agent-variables", n, fake.root, "claude")
        + f'ANTHROPIC_DEFAULT_HAIKU_MODEL = "{n}-small"\n'
        for n, fake in zip(NAMES, (one, two), strict=True)
    ]
    write_pool(paths, tables)
    recording = Recording()
    pacing = Pacing(sleep=_no_pause, jitter=lambda low, high: low)
    options = ProxyOptions(
        paths=paths, config_interval=0.0, upstream_client=recording, pacing=pacing
    )
    body = {
        "model": "claude-3-5-haiku-latest",
        "max_tokens": 16,
        "messages": [{"role": "user", "content": "hi"}],
    }
    with serve(create_app(options)) as url:
        response = httpx.post(url + "/v1/messages", json=body, timeout=30)
    assert response.status_code == 200, response.text
    assert one.seen[0].document()["model"] == "one-small"
    assert two.seen[0].document()["model"] == "two-small"
