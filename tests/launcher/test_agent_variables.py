"""Providers written the way cc-switch and auto-coder users write them, end to end.

Real processes (the launcher, the managed proxy it starts, a fake agent that really calls its
endpoint), real files, real sockets; only the providers are loopback fakes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from auto_router.demo.fake_upstream import FakeProvider, FakeUpstream

from .conftest import Home, digest

pytestmark = pytest.mark.integration

#: agent backend -> (the API its wire agent speaks, (url, key, model) variables).
POOLS = {
    "claude": ("anthropic", ("ANTHROPIC_BASE_URL", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_MODEL")),
    "qwen": ("openai", ("OPENAI_BASE_URL", "OPENAI_API_KEY", "OPENAI_MODEL")),
    "gemini": ("gemini", ("GOOGLE_GEMINI_BASE_URL", "GEMINI_API_KEY", "GEMINI_MODEL")),
}


def token(name: str) -> str:
    return f"{name}-token-0123456789abcdef"


@pytest.fixture
def limited_then_ok() -> Iterator[tuple[FakeUpstream, FakeUpstream]]:
    with (
        FakeUpstream(FakeProvider("one", "rate-limited", retry_after=600)) as one,
        FakeUpstream(FakeProvider("two", text="answer from two", pieces=None)) as two,
    ):
        yield one, two


@pytest.mark.parametrize("backend", list(POOLS))
def test_an_agent_variables_pool_goes_through_the_proxy_and_survives_a_429(
    home: Home, limited_then_ok: tuple[FakeUpstream, FakeUpstream], backend: str
) -> None:
    """The issue's cc-switch pool: UPPERCASE variables only, the first provider limited."""
    one, two = limited_then_ok
    api, (url_var, key_var, model_var) = POOLS[backend]
    suffix = "/v1" if api == "openai" else ""
    tables = "".join(
        f"""
[{backend}.{name}]
{url_var} = "{fake.root}{suffix}"
{key_var} = "{token(name)}"
{model_var} = "model-{name}"
API_TIMEOUT_MS = "600000"
"""
        for name, fake in (("zai", one), ("kimi", two))
    )
    home.write(f'[message_backend]\ndefault = "{backend}"\n', tables)
    result = home.run("run", "--", "wire-agent", api)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "wire-agent answer: answer from two" in result.stdout
    assert "auto-router: 1 request failed over: zai 429 -> kimi" in result.stderr
    # the agent called the local proxy, with its other variable; never a provider itself
    assert "wire-agent calls 127.0.0.1:" in result.stdout
    assert one.root.split("//")[1] not in result.stdout
    assert two.root.split("//")[1] not in result.stdout
    assert 'wire-agent given ["API_TIMEOUT_MS"]' in result.stdout
    # the proxy sent each provider its own credential (Claude's token as a bearer token)
    assert [s.key()[1] for s in one.seen] == [token("zai")]
    assert [s.key()[1] for s in two.seen] == [token("kimi")]
    if api == "anthropic":
        assert two.seen[0].headers["authorization"] == f"Bearer {token('kimi')}"
    assert json.loads(two.seen[0].body).get("model", "model-kimi") == "model-kimi"


def test_the_dry_run_and_status_say_what_came_from_which_variable(home: Home) -> None:
    home.write(
        "",
        f"""
[claude.zai]
ANTHROPIC_BASE_URL = "https://api.z.invalid/api/anthropic"
ANTHROPIC_AUTH_TOKEN = "{token("zai")}"
ANTHROPIC_MODEL = "glm-4.6"
[claude.flags]
CLAUDE_CODE_USE_BEDROCK = "1"
""",
    )
    validate = home.run("config", "validate")
    assert validate.returncode == 0, validate.stderr
    assert (
        "claude/zai: API provider (endpoint from agent variables), type anthropic: "
        "base_url from ANTHROPIC_BASE_URL, api_key from ANTHROPIC_AUTH_TOKEN, "
        "model from ANTHROPIC_MODEL"
    ) in validate.stdout
    assert "claude/flags: variables-only provider" in validate.stdout
    kinds = json.loads(home.run("config", "validate", "--json").stdout)["kinds"]
    assert kinds == {"claude/zai": "agent-variables", "claude/flags": "variables"}
    status = home.run("status").stdout
    assert "from agent variables: base_url from ANTHROPIC_BASE_URL" in status
    show = home.run("provider", "show", "claude/zai").stdout
    assert "kind: API provider (endpoint from agent variables)" in show
    dry = home.run("run", "--dry-run", "--", "claude")
    assert "note: claude/zai: anthropic endpoint from agent variables" in dry.stdout
    # a variables-only provider in the pool keeps the run direct, and says why
    assert "via: direct: claude/flags names no API endpoint" in dry.stdout
    for output in (validate.stdout, status, show, dry.stdout, dry.stderr):
        assert token("zai") not in output


def test_a_fake_agent_limited_on_two_of_three_env_only_providers_ends_on_the_third(
    home: Home,
) -> None:
    """UPPERCASE-only providers (auto-coder's model): direct, rotated on the agent's output."""
    behaviours = {"a": "claude-429", "b": "claude-429-json", "c": "ok"}
    home.write(
        "",
        "".join(
            f'[claude.{n}]\nANTHROPIC_API_KEY = "{token(n)}"\nFAKE_BEHAVIOUR = "{b}"\n'
            for n, b in behaviours.items()
        ),
    )
    result = home.run("run", "--", "claude", "-p", "hi")
    assert result.returncode == 0, result.stderr
    assert "done" in result.stdout and "local proxy" not in result.stderr
    log = home.log()
    assert [e["provider"] for e in log] == ["a", "b", "c"]
    for entry in log:
        assert entry["env"]["ANTHROPIC_API_KEY"] == digest(token(str(entry["provider"])))  # type: ignore[index]
        assert "ANTHROPIC_BASE_URL" not in entry["env"]  # type: ignore[operator]


def test_provider_add_from_a_template_on_a_fresh_install_creates_the_backend(home: Home) -> None:
    added = home.run("provider", "add", "claude/zai", "--template", "anthropic")
    assert added.returncode == 0, added.stderr
    assert "added claude/zai" in added.stdout
    assert "claude/zai: API provider" in home.run("config", "validate").stdout
    bare = home.run("provider", "add", "other/x", "--set", "base_url=https://x.invalid/v1")
    assert bare.returncode != 0 and "--create-backend" in bare.stderr
