"""What the real agent CLIs print on a 429, replayed by the fake agent, must rotate.

The lines come verbatim from runs of the real CLIs against scripts/fake_provider.py (see
docs/launcher.md, "Verified with the real CLIs"); CI cannot install the CLIs on every run, so
these tests keep checking exactly that output.
"""

from __future__ import annotations

import importlib.util

import pytest

from auto_router.agents import AGENTS
from auto_router.limits.scanner import OutputScanner

from .conftest import FAKE, Home

_spec = importlib.util.spec_from_file_location("fake_agent", FAKE)
assert _spec is not None and _spec.loader is not None
_fake = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_fake)
REAL_429: dict[str, tuple[str, list[str], int]] = _fake.REAL_429

pytestmark = pytest.mark.integration

#: The provider type each agent speaks (a direct run refuses any other).
TYPE_OF = {"claude": "anthropic", "gemini": "gemini"}

CASES = [
    ("qwen", "qwen-429-real"),
    ("claude", "claude-429-real"),
    ("claude", "claude-429-json-real"),
    ("codex", "codex-429-real"),
    ("gemini", "gemini-429-real"),
]


@pytest.mark.parametrize(("agent", "behaviour"), CASES)
def test_the_agents_markers_recognise_its_real_429_output(agent: str, behaviour: str) -> None:
    stream, lines, code = REAL_429[behaviour]
    scanner = OutputScanner(AGENTS[agent].markers)
    for line in lines:
        scanner.feed((line + "\n").encode(), stream)
    verdict = scanner.verdict(code)
    assert verdict.limit, (agent, behaviour)


def test_gemini_auth_error_is_not_a_usage_limit() -> None:
    stream, lines, code = REAL_429["gemini-gateway-auth"]
    scanner = OutputScanner(AGENTS["gemini"].markers)
    for line in lines:
        scanner.feed((line + "\n").encode(), stream)
    assert not scanner.verdict(code).limit


def test_qwen_real_429_counts_even_when_qwen_exits_0() -> None:
    """qwen-code's own error line is a shape: the exit status is not needed."""
    _, lines, _ = REAL_429["qwen-429-real"]
    scanner = OutputScanner(AGENTS["qwen"].markers)
    for line in [*lines, *(f"step {i}" for i in range(10))]:
        scanner.feed((line + "\n").encode(), "stderr")
    assert scanner.verdict(0).reason == "shape"


@pytest.mark.parametrize(("agent", "behaviour"), CASES)
def test_real_429_output_rotates_to_the_next_provider(
    home: Home, agent: str, behaviour: str
) -> None:
    home.write(
        f'[backends.{agent}]\nproviders = ["first", "second"]\n',
        f"""
[{agent}.first]
type = "{TYPE_OF.get(agent, "openai")}"
api_key = "first-key-0123456789abcdef"
FAKE_BEHAVIOUR = "{behaviour}"

[{agent}.second]
type = "{TYPE_OF.get(agent, "openai")}"
api_key = "second-key-0123456789abcdef"
FAKE_BEHAVIOUR = "ok"
""",
    )
    result = home.run("run", "--backend", agent, "--", agent, "-p", "say hi")
    assert result.returncode == 0, result.stderr
    assert "auto-router: first hit its usage limit" in result.stderr
    attempts = home.history()
    assert [(a["provider"], a["outcome"]) for a in attempts] == [
        ("first", "usage-limit"),
        ("second", "ok"),
    ]
    assert attempts[0]["marker"]


def test_gemini_auth_error_does_not_rotate(home: Home) -> None:
    home.write(
        '[backends.gemini]\nproviders = ["first", "second"]\n',
        """
[gemini.first]
type = "gemini"
FAKE_BEHAVIOUR = "gemini-gateway-auth"
[gemini.second]
type = "gemini"
FAKE_BEHAVIOUR = "ok"
""",
    )
    result = home.run("run", "--backend", "gemini", "--", "gemini", "-p", "say hi")
    assert result.returncode == 41
    assert [a["outcome"] for a in home.history()] == ["failed"]
