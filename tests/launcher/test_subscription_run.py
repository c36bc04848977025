"""A subscription run end to end (issue 20): ``auto-router run`` and the managed proxy it
starts, a stand-in for Claude Code / Codex that sends its own login
(``tests/fake_agents/login_agent.py``), a fake subscription upstream that accepts only that
login and closes its window mid-session, and an API-key provider.

Real processes, real sockets, real files; only the two upstreams are loopback fakes in the
vendors' wire formats. The session must go on on the API-key provider without an error
reaching the agent, come back when the window reopens (``strategy = "priority"``), and no
credential of the agent's may reach the API-key provider.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from auto_router.demo.actions import Action, Reply, Seen
from auto_router.demo.fake_upstream import FakeProvider, FakeUpstream
from auto_router.demo.wire import anthropic_message, response_document

from .conftest import Home

pytestmark = pytest.mark.integration

OAUTH = "sk-ant-oat01-" + "o" * 40
CHATGPT = "eyJhbGciOi.chatgpt-access-token." + "c" * 20
ACCOUNT = "acct-0123-4567"
KEY = "sk-plan-key-0123456789abcdef"
SHELL_KEYS = {
    "ANTHROPIC_API_KEY": "sk-ant-api03-from-the-shell-0123456789",
    "OPENAI_API_KEY": "sk-proj-from-the-shell-0123456789abcdef",
}


@dataclass
class Subscription:
    """Accepts only the agent's own login; answers ``open_turns`` turns, then rejects until
    ``reset_in`` seconds later, in the vendor's own format."""

    vendor: str
    open_turns: int
    reset_in: float
    #: ``False``: refuse every login (an expired one).
    accepts: bool = True
    answered: int = 0
    rejected: int = 0
    refused: int = 0
    reset_at: float | None = None
    seen: list[Seen] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, seen: Seen) -> Action:
        with self.lock:
            self.seen.append(seen)
            if not self.logged_in(seen):
                self.refused += 1
                return Reply(401, {"error": {"type": "authentication_error", "message": "x"}})
            if self.answered >= self.open_turns and self.reset_at is None:
                self.reset_at = time.time() + self.reset_in
            if self.reset_at is not None and time.time() < self.reset_at:
                self.rejected += 1
                return self.rejection(self.reset_at)
            self.answered += 1
            text = f"sub {self.answered}"
            if self.vendor == "claude":
                return Reply(
                    body=anthropic_message("claude-opus-4-5", [{"type": "text", "text": text}])
                )
            return Reply(body=response_document("gpt-5-codex", text))

    def logged_in(self, seen: Seen) -> bool:
        auth = seen.headers.get("authorization")
        if not self.accepts:
            return False
        if self.vendor == "claude":
            return auth == f"Bearer {OAUTH}" and "oauth-2025-04-20" in seen.headers.get(
                "anthropic-beta", ""
            )
        return auth == f"Bearer {CHATGPT}" and seen.headers.get("chatgpt-account-id") == ACCOUNT

    def rejection(self, reset_at: float) -> Reply:
        wait = max(1, round(reset_at - time.time()))
        if self.vendor == "claude":
            headers = {
                "anthropic-ratelimit-unified-status": "rejected",
                "anthropic-ratelimit-unified-5h-utilization": "1.0",
                "anthropic-ratelimit-unified-5h-reset": str(int(reset_at)),
                "anthropic-ratelimit-unified-reset": str(int(reset_at)),
                "anthropic-ratelimit-unified-representative-claim": "five_hour",
                "retry-after": str(wait),
            }
            body = {"type": "error", "error": {"type": "rate_limit_error", "message": "limit"}}
            return Reply(429, body, headers)
        body = {
            "error": {
                "type": "usage_limit_reached",
                "message": "The usage limit has been reached",
                "resets_at": int(reset_at),
                "resets_in_seconds": wait,
            }
        }
        return Reply(429, body, {"x-codex-primary-used-percent": "100"})


LLM = """
[proxy]
max_retry_wait = 0

[backends.pool]
agent = "{agent}"
providers = ["sub", "plan"]
strategy = "priority"

[message_backend]
default = "pool"
"""


def providers(vendor: str, sub: str, plan: str) -> str:
    if vendor == "claude":
        return f"""
[pool.sub]
type = "anthropic"
auth = "passthrough"
base_url = "{sub}"

[pool.plan]
type = "anthropic"
base_url = "{plan}"
api_key = "{KEY}"
model_map = {{ "claude-*" = "glm-4.6" }}
"""
    return f"""
[pool.sub]
type = "openai"
auth = "passthrough"
responses = true
base_url = "{sub}/backend-api/codex"

[pool.plan]
type = "openai"
responses = true
base_url = "{plan}/v1"
api_key = "{KEY}"
model = "gpt-5"
"""


def logged_in(home: Home) -> None:
    user = home.path.parent / "user-home"
    (user / ".claude").mkdir(parents=True)
    (user / ".claude" / ".credentials.json").write_text(
        json.dumps({"claudeAiOauth": {"accessToken": OAUTH, "expiresAt": 0}})
    )
    (user / ".codex").mkdir()
    (user / ".codex" / "auth.json").write_text(
        json.dumps(
            {"auth_mode": "chatgpt", "tokens": {"access_token": CHATGPT, "account_id": ACCOUNT}}
        )
    )
    home.env.update({**SHELL_KEYS, "HOME": str(user), "TZ": "UTC"})


@dataclass
class Upstreams:
    sub: Subscription
    sub_fake: FakeUpstream
    plan: FakeUpstream


@pytest.fixture(params=["claude", "codex"])
def vendor(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def upstreams(vendor: str) -> Iterator[Upstreams]:
    sub = Subscription(vendor, open_turns=2, reset_in=1.0)
    plan = FakeProvider("plan", text="from the plan", pieces=None)
    with FakeUpstream(sub) as sub_fake, FakeUpstream(plan) as plan_fake:
        yield Upstreams(sub, sub_fake, plan_fake)


def values_of(seen: list[Seen]) -> list[str]:
    """Every header value the upstream got."""
    return [v for s in seen for v in s.headers.values()]


def run_session(home: Home, vendor: str, upstreams: Upstreams, turns: int) -> tuple[str, str]:
    """``turns`` turns of one conversation, 1.2 s apart; (the agent's answers, stderr)."""
    logged_in(home)
    roots = upstreams.sub_fake.root, upstreams.plan.root
    home.write(LLM.format(agent=vendor), providers(vendor, *roots))
    home.env["LOGIN_AGENT_PAUSE"] = "1.2"
    api = "anthropic" if vendor == "claude" else "openai"
    result = home.run("run", "--", "login-agent", api, str(turns))
    assert result.returncode == 0, result.stderr
    answers = re.findall(r"login-agent answer \d: (.*)", result.stdout)
    return ", ".join(answers), result.stderr


def test_the_session_overflows_to_the_key_provider_keeping_the_login(
    home: Home, vendor: str, upstreams: Upstreams
) -> None:
    """Turns 1-2 on the subscription, 3 rejected there and answered by the plan, in one
    conversation; no error reaches the agent; nothing of its login leaves for the plan."""
    answers, stderr = run_session(home, vendor, upstreams, 3)
    sub, plan = upstreams.sub, upstreams.plan
    assert answers == "sub 1, sub 2, from the plan"
    assert sub.refused == 0 and sub.rejected == 1
    # the run's token is taken off by the proxy: no upstream sees it
    for seen in [*sub.seen, *plan.seen]:
        assert "x-auto-router-token" not in seen.headers and "/r/" not in seen.path
        assert not any("arr_" in value for value in seen.headers.values())
    # the API-key provider got its own key, and nothing of the agent's login
    (plan_post,) = [s for s in plan.seen if s.method == "POST"]
    given = plan_post.headers.get("authorization", "") + plan_post.headers.get("x-api-key", "")
    assert KEY in given
    everything = " ".join(values_of(plan.seen))
    assert OAUTH not in everything and CHATGPT not in everything and ACCOUNT not in everything
    shell = " ".join(values_of([*sub.seen, *plan.seen]))
    assert not any(key in shell for key in SHELL_KEYS.values())
    if vendor == "claude":
        assert plan_post.document()["model"] == "glm-4.6"  # model_map on the overflow
    assert "auto-router: prompt cache lost once: moved from sub to plan at " in stderr
    assert re.search(r"^auto-router: time per provider: sub \d+s, plan \d+s$", stderr, re.M)


def test_the_session_comes_back_when_the_window_reopens(
    home: Home, vendor: str, upstreams: Upstreams
) -> None:
    """Turn 4, after the subscription's window reopened: back on it in the same
    conversation (``priority``: a subscription at the head of the plan takes its sessions
    back), said in the summary as a second cache loss."""
    answers, stderr = run_session(home, vendor, upstreams, 4)
    assert answers == "sub 1, sub 2, from the plan, sub 3"
    assert "auto-router: prompt cache lost 2 times; first: moved from sub to plan" in stderr


def test_a_refused_login_reaches_the_agent_and_no_other_host(home: Home, vendor: str) -> None:
    """The subscription refuses the login (401): that is the user's login to renew, so the
    agent is told (the proxy passes the 401 through), and the login goes nowhere else."""
    refusing = Subscription(vendor, open_turns=9, reset_in=1, accepts=False)
    plan = FakeProvider("plan", text="from the plan", pieces=None)
    with FakeUpstream(refusing) as sub_fake, FakeUpstream(plan) as plan_fake:
        logged_in(home)
        home.write(LLM.format(agent=vendor), providers(vendor, sub_fake.root, plan_fake.root))
        api = "anthropic" if vendor == "claude" else "openai"
        result = home.run("run", "--", "login-agent", api, "1")
        plan_seen = list(plan_fake.seen)
    assert refusing.refused >= 1
    assert "API Error: 401" in result.stdout, result.stdout
    everything = " ".join(values_of(plan_seen))
    assert OAUTH not in everything and CHATGPT not in everything and ACCOUNT not in everything
