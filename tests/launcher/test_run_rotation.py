"""`auto-router run` end to end: real processes, real TOML files, a real SQLite database."""

from __future__ import annotations

import re

import pytest

from .conftest import Home, digest

pytestmark = pytest.mark.integration

LLM = """
[backends.qwen]
providers = ["qwen-azure", "qwen-openrouter", "qwen-direct"]

[backends.gemini]
providers = ["gemini-direct"]

[message_backend]
default = "qwen"
order = ["qwen", "gemini"]
"""

KEYS = {
    "qwen-azure": "sk-azure-000000000000000000000001",
    "qwen-openrouter": "sk-or-v1-00000000000000000000002",
    "qwen-direct": "sk-dashscope-000000000000000003",
    "gemini-direct": "AIza-gemini-0000000000000000004",
}


def providers(azure: str, openrouter: str, direct: str, gemini: str = "ok") -> str:
    return f"""
[qwen.qwen-azure]
base_url = "https://azure.invalid/openai/v1"
api_key = "{KEYS["qwen-azure"]}"
model = "qwen3-coder-plus"
FAKE_BEHAVIOUR = "{azure}"
FAKE_RETRY = "2h"

[qwen.qwen-openrouter]
base_url = "https://openrouter.invalid/api/v1"
api_key = "{KEYS["qwen-openrouter"]}"
model = "qwen/qwen3-coder"
FAKE_BEHAVIOUR = "{openrouter}"

[qwen.qwen-direct]
base_url = "https://dashscope.invalid/compatible-mode/v1"
api_key = "{KEYS["qwen-direct"]}"
FAKE_BEHAVIOUR = "{direct}"

[gemini.gemini-direct]
type = "gemini"
api_key = "{KEYS["gemini-direct"]}"
model = "gemini-2.5-pro"
FAKE_BEHAVIOUR = "{gemini}"
"""


NOTICE = re.compile(
    r"^auto-router: (?P<provider>\S+) hit its usage limit \((?P<detail>[^)]*)\); "
    r"retrying with (?P<next>\S+) \((?P<n>\d+)/(?P<of>\d+)\)$",
    re.M,
)


def test_three_providers_two_rate_limited_ends_on_the_third_with_the_story_in_history(
    home: Home,
) -> None:
    """The issue's done-when, as a script."""
    home.write(LLM, providers("qwen-429", "qwen-429-json", "ok"))
    result = home.run("run", "--", "qwen", "-p", "fix the failing test")
    assert result.returncode == 0, result.stderr
    assert "done" in result.stdout
    # the user sees the agent's own output and one line per rotation
    assert "[API Error: 429 Provider returned error" in result.stdout
    notices = [m.groupdict() for m in NOTICE.finditer(result.stderr)]
    assert [(n["provider"], n["next"], n["n"], n["of"]) for n in notices] == [
        ("qwen-azure", "qwen-openrouter", "2", "3"),
        ("qwen-openrouter", "qwen-direct", "3", "3"),
    ]
    assert re.fullmatch(r"resets \d\d:\d\d|resets \d{4}-\d\d-\d\d \d\d:\d\d", notices[0]["detail"])
    assert notices[1]["detail"].startswith("no reset time given; cooling down until ")

    # each attempt got its own provider's variables and the untouched command line
    log = home.log()
    assert [entry["provider"] for entry in log] == ["qwen-azure", "qwen-openrouter", "qwen-direct"]
    for entry in log:
        assert entry["argv"] == ["-p", "fix the failing test"]
        assert entry["env"]["OPENAI_API_KEY"] == digest(KEYS[str(entry["provider"])])  # type: ignore[index]
    assert log[0]["env"]["OPENAI_BASE_URL"] == digest("https://azure.invalid/openai/v1")  # type: ignore[index]
    assert log[0]["env"]["OPENAI_MODEL"] == digest("qwen3-coder-plus")  # type: ignore[index]

    attempts = home.history()
    assert len({a["run_id"] for a in attempts}) == 1
    assert [
        (a["attempt"], a["provider"], a["outcome"], a["exit_code"], a["limit_detected"])
        for a in attempts
    ] == [
        (1, "qwen-azure", "usage-limit", 1, True),
        (2, "qwen-openrouter", "usage-limit", 0, True),  # qwen's JSON mode exits 0
        (3, "qwen-direct", "ok", 0, False),
    ]
    assert attempts[0]["reset_at"] is not None and attempts[1]["reset_at"] is None
    assert all(a["command"] == "qwen" and a["backend"] == "qwen" for a in attempts)
    assert "Possible quota limitations" in str(attempts[0]["marker"])  # the latest evidence
    assert "API Error: 429" in str(attempts[1]["marker"])

    text = home.run("history").stdout
    assert text.count("usage-limit") == 2 and "qwen-direct" in text and "ok" in text
    status = home.run("status").stdout
    assert re.search(r"\* qwen-direct .* current", status)
    assert re.search(r"qwen-azure .* cooling until", status)


def test_cooldown_persists_to_the_next_invocation(home: Home) -> None:
    home.write(LLM, providers("qwen-429", "qwen-429", "ok"))
    first = home.run("run", "--", "qwen")
    assert first.returncode == 0, first.stderr
    # Now the third provider runs out too; the next process must not retry the cooling two.
    home.write(LLM, providers("qwen-429", "qwen-429", "qwen-429"))
    second = home.run("run", "--", "qwen")
    assert second.returncode == 75
    assert "no provider left to try" in second.stderr
    # qwen-openrouter said "retry in 37s" in the first run, qwen-azure "2h"
    assert "the earliest reset is qwen/qwen-openrouter at" in second.stderr
    attempts = home.history()
    runs = [a["run_id"] for a in attempts]
    second_run = [a for a in attempts if a["run_id"] == runs[-1]]
    assert [a["provider"] for a in second_run] == ["qwen-direct"]


def test_backend_fallback_without_an_explicit_command(home: Home) -> None:
    home.write(LLM, providers("qwen-429", "qwen-429", "qwen-429", gemini="ok"))
    result = home.run("run")
    assert result.returncode == 0, result.stderr
    assert "retrying with gemini/gemini-direct (4/4)" in result.stderr
    last = home.log()[-1]
    assert last["backend"] == "gemini" and last["provider"] == "gemini-direct"
    assert last["env"]["GEMINI_API_KEY"] == digest(KEYS["gemini-direct"])  # type: ignore[index]
    assert [a["command"] for a in home.history()] == ["qwen", "qwen", "qwen", "gemini"]


def test_explicit_command_stays_on_its_backend_unless_allowed(home: Home) -> None:
    home.write(LLM, providers("qwen-429", "qwen-429", "qwen-429", gemini="ok"))
    result = home.run("run", "--", "qwen", "-p", "x")
    assert result.returncode == 75
    assert "no provider left to try" in result.stderr
    assert {entry["backend"] for entry in home.log()} == {"qwen"}

    allowed = home.run(
        "run", "--allow-backend-switch", "--provider", "qwen-azure", "--", "qwen", "-p", "x"
    )
    # The next backend's provider speaks Gemini's API, which qwen-code does not: a direct run
    # (--provider) refuses the switch with a message instead of pointing qwen-code at the
    # wrong URL, and says the proxy could reach it through translation.
    assert allowed.returncode == 64, allowed.stderr
    assert "cannot run qwen-code directly on gemini/gemini-direct" in allowed.stderr
    assert "reachable only through translation" in allowed.stderr
    assert {entry["backend"] for entry in home.log()} == {"qwen"}


def test_exhausted_message_names_the_earliest_reset(home: Home) -> None:
    home.write(LLM, providers("qwen-429", "qwen-429", "qwen-429"))
    result = home.run("run", "--", "qwen")
    assert result.returncode == 75
    # qwen-openrouter and qwen-direct said "retry in 37s", qwen-azure "2h"
    assert re.search(
        r"the earliest reset is qwen/qwen-(openrouter|direct) at \d\d:\d\d", result.stderr
    )


def test_max_attempts_bounds_the_run(home: Home) -> None:
    home.write(LLM, providers("qwen-429", "qwen-429", "ok"))
    result = home.run("run", "--max-attempts", "2", "--", "qwen")
    assert result.returncode == 75
    assert "giving up after 2 attempt(s)" in result.stderr
    assert [a["provider"] for a in home.history()] == ["qwen-azure", "qwen-openrouter"]


def test_no_rotate_records_the_limit_and_stops(home: Home) -> None:
    home.write(LLM, providers("qwen-429", "ok", "ok"))
    result = home.run("run", "--no-rotate", "--", "qwen")
    assert result.returncode == 75
    assert "not retrying (--no-rotate)" in result.stderr
    assert len(home.history()) == 1
    assert re.search(r"\* qwen-openrouter .* current", home.run("status").stdout)


def test_a_plain_failure_never_rotates(home: Home) -> None:
    home.write(LLM, providers("test-fail", "ok", "ok"))
    result = home.run("run", "--", "qwen")
    assert result.returncode == 1
    assert "auto-router:" not in result.stderr
    attempts = home.history()
    assert [(a["provider"], a["outcome"]) for a in attempts] == [("qwen-azure", "failed")]
    assert re.search(r"\* qwen-azure .* current", home.run("status").stdout)


@pytest.mark.parametrize(
    ("behaviour", "code"),
    [("exit-0", 0), ("exit-3", 3), ("exit-173", 173), ("self-kill-9", 137), ("self-kill-15", 143)],
)
def test_exit_code_is_the_childs(home: Home, behaviour: str, code: int) -> None:
    home.write(LLM, providers(behaviour, "ok", "ok"))
    result = home.run("run", "--", "qwen")
    assert result.returncode == code
    assert [a["exit_code"] for a in home.history()] == [code]


@pytest.mark.parametrize(
    ("behaviour", "rotates"),
    [
        ("echo-file", False),  # a file that mentions limits, and success: no
        ("echo-file-fail", True),  # the same mention and a non-zero exit: yes
        ("marker-last", True),  # the marker in the final lines: yes
        ("qwen-429-json", True),  # the agent's own error shape, exit 0: yes
        ("gemini-retry-then-ok", False),  # gemini's retry line, then success: no
    ],
)
def test_false_positive_guards_end_to_end(home: Home, behaviour: str, rotates: bool) -> None:
    llm = LLM.replace(
        'providers = ["qwen-azure", "qwen-openrouter", "qwen-direct"]',
        'providers = ["qwen-azure", "qwen-openrouter", "qwen-direct"]\n'
        'usage_markers = ["quota exceeded", "re:rate limit exceeded"]',
    )
    home.write(llm, providers(behaviour, "ok", "ok"))
    result = home.run("run", "--", "qwen")
    attempts = home.history()
    assert (len(attempts) == 2) is rotates, result.stderr
    assert ("hit its usage limit" in result.stderr) is rotates


def test_pinned_provider_and_missing_command(home: Home) -> None:
    home.write(LLM, providers("ok", "ok", "ok"))
    result = home.run("run", "--provider", "qwen-direct", "--", "qwen")
    assert result.returncode == 0
    assert home.log()[-1]["provider"] == "qwen-direct"
    missing = home.run("run", "--", "no-such-agent-xyz")
    assert missing.returncode == 127
    assert "command not found: no-such-agent-xyz" in missing.stderr
    assert "Traceback" not in missing.stderr
    assert home.history()[-1]["outcome"] == "not-started"


def test_timeout_does_not_rotate(home: Home) -> None:
    home.write(LLM, providers("wait", "ok", "ok"))
    result = home.run("run", "--timeout", "0.5", "--", "qwen")
    assert result.returncode == 124
    assert [(a["outcome"], a["exit_code"]) for a in home.history()] == [("timeout", 124)]


def test_timeout_rotates_only_when_configured(home: Home) -> None:
    llm = LLM.replace(
        'providers = ["qwen-azure", "qwen-openrouter", "qwen-direct"]',
        'providers = ["qwen-azure", "qwen-openrouter", "qwen-direct"]\nrotate_on_timeout = true',
    )
    home.write(llm, providers("wait", "ok", "ok"))
    result = home.run("run", "--timeout", "0.5", "--", "qwen")
    assert result.returncode == 0, result.stderr
    assert "retrying with qwen-openrouter" in result.stderr
    assert [(a["outcome"], a["marker"]) for a in home.history()] == [
        ("timeout", "timeout"),
        ("ok", None),
    ]
