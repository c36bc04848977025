"""The subscription scenario of ``verify_real_agents.py`` (issue 20): the real Claude Code,
Codex and Gemini CLIs, logged in with fake logins in a private HOME, under ``auto-router run``
(Gemini CLI's Google login, through Code Assist: ``verify_gemini_login.py``, which this
module's ``run_scenario`` / ``checks`` / ``describe`` hand ``gemini`` to).

Each agent's backend holds a subscription provider (``auth = "passthrough"``) whose base URL
is a local fake standing in for api.anthropic.com or the ChatGPT Codex backend, and an
API-key provider (an Anthropic-compatible plan for Claude Code, an OpenAI key for Codex). The
fake subscription accepts only the agent's own login (Claude: ``Bearer sk-ant-oat...`` with
the ``oauth-2025-04-20`` beta flag; Codex: its ChatGPT token and ``chatgpt-account-id``),
answers until its window closes, then answers a rate limit in the vendor's own format (the
unified ``rejected`` headers; ``usage_limit_reached`` with ``resets_at``) with a reset a few
seconds ahead. Checked:

- the subscription received the agent's own credential, and only that;
- the run's token reached no upstream (no ``X-Auto-Router-Token``, no ``/r/`` path, no
  ``arr_`` value in any header);
- the session went on, without an error reaching the agent, on the API-key provider, which
  received its own key and no header holding the agent's credential;
- Claude Code: the window closes after the answer that asked for a tool, so the same
  conversation's next turn (the tool's result) is the one that moves (``DONE: ...`` printed);
- the run's summary says the time per provider and the prompt cache lost once.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import verify_gemini_login as gemini_login

from auto_router.demo import wire
from auto_router.demo.actions import Action, Reply, Seen, Stream
from auto_router.demo.fake_upstream import FakeProvider, FakeUpstream
from auto_router.demo.provider import TOOL_MARKER

OAUTH = "sk-ant-oat01-" + "fakeOAuthAccessToken" * 3
ACCOUNT = "acct-fake-verify-0001"
KEY = "sk-plan-key-0123456789abcdef0123"
SUB_TEXT = "answer from the subscription"
KEY_TEXT = "answer from the api-key provider"
#: Seconds from the rejection to the window's reset: more than the proxy's `max_retry_wait` (5 s),
#: so the proxy moves on at once instead of waiting it out on the subscription.
RESET_IN = 8


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def chatgpt_token() -> str:
    """A JWT-shaped ChatGPT token (Codex reads the claims of ``id_token``; nothing checks
    the signature here)."""
    claims = {
        "email": "user@example.invalid",
        "exp": int(time.time()) + 30 * 86400,
        "https://api.openai.com/auth": {
            "chatgpt_plan_type": "pro",
            "chatgpt_account_id": ACCOUNT,
            "chatgpt_user_id": "user-fake",
        },
    }
    return f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}.c2lnbmF0dXJl"


CHATGPT = chatgpt_token()


def log_in(home: Path) -> None:
    """Fake logins, as the CLIs write them: Claude Code's OAuth, Codex's ChatGPT."""
    claude = home / ".claude"
    claude.mkdir(parents=True, exist_ok=True)
    expires = int(time.time() * 1000) + 86_400_000
    oauth = {
        "accessToken": OAUTH,
        "refreshToken": "sk-ant-ort01-fakeRefresh",
        "expiresAt": expires,
        "scopes": ["user:inference", "user:profile"],
        "subscriptionType": "max",
    }
    (claude / ".credentials.json").write_text(json.dumps({"claudeAiOauth": oauth}))
    codex = home / ".codex"
    codex.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")
    tokens = {
        "id_token": CHATGPT,
        "access_token": CHATGPT,
        "refresh_token": "rt-fake",
        "account_id": ACCOUNT,
    }
    auth = {"OPENAI_API_KEY": None, "auth_mode": "chatgpt", "tokens": tokens, "last_refresh": now}
    (codex / "auth.json").write_text(json.dumps(auth))


@dataclass
class Subscription:
    """A ``FakeUpstream`` script: a subscription upstream whose window closes."""

    vendor: str  # "claude" or "codex"
    provider: FakeProvider = field(default_factory=lambda: FakeProvider("sub", text=SUB_TEXT))
    #: Close the window once an answer asked for a tool (Claude), or at the first turn.
    close_after_tool: bool = True
    reset_at: float | None = None
    refused: int = 0
    limited: int = 0
    seen: list[Seen] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, seen: Seen) -> Action:
        with self._lock:
            self.seen.append(seen)
            if not self.logged_in(seen):
                self.refused += 1
                return Reply(401, {"error": {"type": "authentication_error", "message": "no"}})
            turn = seen.method == "POST" and seen.route.endswith(("/messages", "/responses"))
            if turn and self.reset_at is not None and time.time() < self.reset_at:
                self.limited += 1
                return self.rejection()
            if turn and not self.close_after_tool:
                self.reset_at = time.time() + RESET_IN
                self.limited += 1
                return self.rejection()
            action = self.provider(seen)
            if turn and self.provider.requests[-1].get("turn") == "tool call":
                self.reset_at = time.time() + RESET_IN  # the tool's result will not fit
            return action

    def logged_in(self, seen: Seen) -> bool:
        auth = seen.headers.get("authorization", "")
        if self.vendor == "claude":
            beta = seen.headers.get("anthropic-beta", "")
            return auth == f"Bearer {OAUTH}" and "oauth-2025-04-20" in beta
        return auth == f"Bearer {CHATGPT}" and seen.headers.get("chatgpt-account-id") == ACCOUNT

    def rejection(self) -> Reply:
        reset = int(self.reset_at or time.time())
        wait = str(max(1, int(reset - time.time())))
        if self.vendor == "claude":
            headers = {
                "anthropic-ratelimit-unified-status": "rejected",
                "anthropic-ratelimit-unified-5h-status": "rejected",
                "anthropic-ratelimit-unified-5h-utilization": "1.0",
                "anthropic-ratelimit-unified-5h-reset": str(reset),
                "anthropic-ratelimit-unified-7d-utilization": "0.41",
                "anthropic-ratelimit-unified-reset": str(reset),
                "anthropic-ratelimit-unified-representative-claim": "five_hour",
                "retry-after": wait,
            }
            body = {
                "type": "error",
                "error": {"type": "rate_limit_error", "message": "Rate limited: 5-hour limit"},
            }
            return Reply(429, body, headers)
        headers = {
            "x-codex-primary-used-percent": "100",
            "x-codex-primary-window-minutes": "300",
            "x-codex-primary-reset-after-seconds": wait,
            "x-codex-primary-reset-at": str(reset),
            "x-codex-secondary-used-percent": "41",
            "x-codex-secondary-window-minutes": "10080",
        }
        body = {
            "error": {
                "type": "usage_limit_reached",
                "message": "The usage limit has been reached",
                "plan_type": "pro",
                "resets_at": reset,
                "resets_in_seconds": int(wait),
            }
        }
        return Reply(429, body, headers)


def config(agent: str, sub_url: str, key_url: str) -> tuple[str, str]:
    """(llm_config.toml, provider_metadata.toml) for ``agent``'s subscription backend."""
    llm = f"""[backends.{agent}]
providers = ["sub", "plan"]
strategy = "priority"

[message_backend]
default = "{agent}"
"""
    if agent == "claude":
        providers = f"""[claude.sub]
type = "anthropic"
auth = "passthrough"
base_url = "{sub_url}"
context_window = 200000

[claude.plan]
type = "anthropic"
base_url = "{key_url}"
api_key = "{KEY}"
context_window = 128000
model_map = {{ "claude-*" = "glm-4.6" }}
"""
    else:
        providers = f"""[codex.sub]
type = "openai"
auth = "passthrough"
responses = true
base_url = "{sub_url}/backend-api/codex"

[codex.plan]
type = "openai"
responses = true
base_url = "{key_url}/v1"
api_key = "{KEY}"
model = "gpt-5"
"""
    return llm, providers


#: The prompts: Claude Code makes a tool round trip (two turns of one conversation).
PROMPT = f"Run the shell command `echo {TOOL_MARKER}`, then tell me what it printed."
ARGS = {
    "claude": ("-p", PROMPT, "--allowedTools", "Bash"),
    "codex": ("exec", "--skip-git-repo-check", "say hi"),
}


@dataclass
class Outcome:
    exit_code: int
    stdout: str
    stderr: str
    sub: Subscription
    plan: FakeProvider
    plan_seen: list[Seen]


def run_scenario(
    agent: str, executable: str, base: Path, quiet: dict[str, str]
) -> Outcome | gemini_login.Outcome:
    if agent == "gemini":
        return gemini_login.run_scenario(executable, base, quiet)
    work = Path(tempfile.mkdtemp(prefix=f"sub-{agent}-", dir=base))
    home, cfg, cwd = work / "home", work / "config", work / "project"
    for d in (home, cfg, cwd):
        d.mkdir()
    log_in(home)
    (home / ".codex" / "config.toml").write_text(
        "check_for_update_on_startup = false\n[analytics]\nenabled = false\n"
    )
    sub = Subscription(agent, close_after_tool=agent == "claude")
    sub.provider.tools = agent == "claude"
    plan = FakeProvider("plan", text=KEY_TEXT, tools=agent == "claude")
    with FakeUpstream(sub) as sub_fake, FakeUpstream(plan) as plan_fake:
        llm, providers = config(agent, sub_fake.root, plan_fake.root)
        (cfg / "llm_config.toml").write_text(llm)
        (cfg / "provider_metadata.toml").write_text(providers)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTO_ROUTER", "FAKE_"))}
        env.update(quiet)
        # keys in the user's shell: the run must not let them replace the login
        env["ANTHROPIC_API_KEY"] = "sk-ant-api03-from-the-shell-000000"
        env["OPENAI_API_KEY"] = "sk-proj-from-the-shell-0000000000"
        env["HOME"] = str(home)
        env["TZ"] = "UTC"
        env["PATH"] = f"{Path(executable).parent}{os.pathsep}{env.get('PATH', '')}"
        command = [sys.executable, "-m", "auto_router", "--config-dir", str(cfg), "run"]
        proc = subprocess.run(
            [*command, "--", executable, *ARGS[agent]],
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=300,
        )
        plan_seen = list(plan_fake.seen)
    return Outcome(proc.returncode, proc.stdout, proc.stderr, sub, plan, plan_seen)


def checks(agent: str, run: Outcome | gemini_login.Outcome) -> dict[str, bool]:
    if isinstance(run, gemini_login.Outcome):
        return gemini_login.checks(run)
    own = OAUTH if agent == "claude" else CHATGPT
    sub_turns = [s for s in run.sub.seen if s.method == "POST"]
    every = [*run.sub.seen, *run.plan_seen]
    answered_sub = [r for r in run.sub.provider.requests if r["status"] == 200]
    found = {
        "the subscription got the agent's own login, and only that": bool(sub_turns)
        and run.sub.refused == 0
        and all(s.headers.get("authorization") == f"Bearer {own}" for s in run.sub.seen),
        "the subscription closed its window (429 in the vendor's format)": run.sub.limited > 0,
        "the run's token reached no upstream": bool(every)
        and not any(
            "x-auto-router-token" in s.headers
            or "/r/" in s.path
            or any("arr_" in v for v in s.headers.values())
            for s in every
        ),
        "the API-key provider answered, with its own key and no login": bool(run.plan_seen)
        and all(
            s.headers.get("authorization", f"Bearer {KEY}") == f"Bearer {KEY}"
            or s.headers.get("x-api-key") == KEY
            for s in run.plan_seen
        )
        and not any(own in v or ACCOUNT in v for s in run.plan_seen for v in s.headers.values()),
        "the session went on: exit 0, no 429 reached the agent": run.exit_code == 0
        and "429" not in run.stdout
        and ("DONE:" if agent == "claude" else KEY_TEXT) in run.stdout,
        "the summary: time per provider, prompt cache lost once": (
            "time per provider: " in run.stderr
            and "prompt cache lost once: moved from sub to plan" in run.stderr
        ),
    }
    if agent == "claude":
        found["one conversation: the subscription asked for the tool, the plan got its result"] = (
            any(r.get("turn") == "tool call" for r in answered_sub)
            and any(str(r.get("turn", "")).startswith("DONE:") for r in run.plan.requests)
            and "DONE:" in run.stdout
        )
        found["the plan was asked for its mapped model"] = any(
            r["model"] == "glm-4.6" for r in run.plan.requests
        )
    else:
        found["the subscription got chatgpt-account-id"] = bool(sub_turns) and all(
            s.headers.get("chatgpt-account-id") == ACCOUNT for s in sub_turns
        )
    return found


def describe(run: Outcome | gemini_login.Outcome) -> list[str]:
    """What happened, for the report: the requests each upstream got, the summary lines."""
    if isinstance(run, gemini_login.Outcome):
        return gemini_login.describe(run)
    sub = ", ".join(f"{s.method} {s.route}" for s in run.sub.seen)
    plan = ", ".join(f"{r['path']} {r['status']} {r.get('turn', '')!r}" for r in run.plan.requests)
    lines = [f"subscription: {sub}", f"api-key provider: {plan}"]
    lines += [line for line in run.stderr.splitlines() if line.startswith("auto-router:")]
    return lines


# ------------------------------------------------------------------ one interactive session

#: The messages typed into Claude Code, one conversation; the window closes at the third.
MESSAGES = 5
CLOSE_AT = 3
_MESSAGE = re.compile(r"message (\d+) of")


def _last_user_text(body: dict[str, Any]) -> str:
    for message in reversed(body.get("messages") or []):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            return " ".join(str(b.get("text", "")) for b in content or [] if isinstance(b, dict))
    return ""


@dataclass
class Chat:
    """A ``FakeUpstream`` script answering each typed message by its number, in Anthropic's
    wire format; as ``sub``, it accepts only the OAuth login and closes its window at message
    ``CLOSE_AT`` for ``RESET_IN`` seconds."""

    name: str
    subscription: bool
    answered: list[tuple[int, int]] = field(default_factory=list)  # (message, messages sent)
    seen: list[Seen] = field(default_factory=list)
    refused: int = 0
    limited: int = 0
    reset_at: float | None = None

    def __call__(self, seen: Seen) -> Action:
        self.seen.append(seen)
        body = seen.document()
        if not seen.route.endswith("/messages"):
            return FakeProvider(self.name)(seen)
        if self.subscription and not Subscription("claude").logged_in(seen):
            self.refused += 1
            return Reply(401, {"error": {"type": "authentication_error", "message": "no"}})
        found = _MESSAGE.search(_last_user_text(body))
        number = int(found.group(1)) if found else 0
        if self.subscription and number == CLOSE_AT and self.reset_at is None:
            self.reset_at = time.time() + RESET_IN
        if self.subscription and self.reset_at is not None and time.time() < self.reset_at:
            self.limited += 1
            return Subscription("claude", reset_at=self.reset_at).rejection()
        text = f"{self.name} answers message {number}" if number else f"{self.name} here"
        if number:
            self.answered.append((number, len(body.get("messages") or [])))
        blocks = [{"type": "text", "text": text}]
        model = str(body.get("model") or "claude")
        if body.get("stream"):
            return Stream.of(wire.anthropic_events(model, blocks))
        return Reply(body=wire.anthropic_message(model, blocks))


class Tmux:
    """One tmux server of our own (its socket in the run's directory)."""

    def __init__(self, socket: Path, env: dict[str, str]) -> None:
        self.socket = str(socket)
        self.env = env

    def __call__(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-S", self.socket, *args], env=self.env, capture_output=True, text=True
        )
        return done.stdout

    def screen(self) -> str:
        return self("capture-pane", "-p", "-J", "-S", "-300", "-t", "s")

    def wait_for(self, text: str, timeout: float = 60) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.screen():
                return True
            time.sleep(0.3)
        return False


def run_interactive(
    executable: str, base: Path, quiet: dict[str, str]
) -> tuple[dict[str, bool], list[str]]:
    """Claude Code in tmux under ``auto-router run``: five messages of one conversation, the
    third overflowing to the plan, the fourth and fifth back on the subscription."""
    work = Path(tempfile.mkdtemp(prefix="sub-tmux-", dir=base))
    home, cfg, cwd = work / "home", work / "config", work / "project"
    for d in (home, cfg, cwd):
        d.mkdir()
    log_in(home)
    onboarded = {"hasTrustDialogAccepted": True, "hasCompletedProjectOnboarding": True}
    (home / ".claude.json").write_text(
        json.dumps(
            {"hasCompletedOnboarding": True, "theme": "dark", "projects": {str(cwd): onboarded}}
        )
    )
    sub, plan = Chat("sub", subscription=True), Chat("plan", subscription=False)
    with FakeUpstream(sub) as sub_fake, FakeUpstream(plan) as plan_fake:
        llm, providers = config("claude", sub_fake.root, plan_fake.root)
        (cfg / "llm_config.toml").write_text(llm)
        (cfg / "provider_metadata.toml").write_text(providers)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTO_ROUTER", "TMUX"))}
        env.update({**quiet, "HOME": str(home), "TZ": "UTC", "TERM": "xterm-256color"})
        env.pop("CI", None)  # interactive
        env["ANTHROPIC_API_KEY"] = "sk-ant-api03-from-the-shell-000000"
        env["PATH"] = f"{Path(executable).parent}{os.pathsep}{env.get('PATH', '')}"
        tmux = Tmux(work / "tmux.sock", env)
        command = f"{sys.executable} -m auto_router --config-dir {cfg} run -- {executable}"
        tmux("new-session", "-d", "-x", "160", "-y", "50", "-s", "s", "-c", str(cwd), command)
        tmux("set-option", "-t", "s", "remain-on-exit", "on")
        shown: list[int] = []
        try:
            tmux.wait_for("❯", 60)
            for n in range(1, MESSAGES + 1):
                if n == CLOSE_AT + 1 and sub.reset_at is not None:
                    time.sleep(max(0.0, sub.reset_at - time.time()) + 1)  # the window reopens
                tmux("send-keys", "-t", "s", "-l", f"message {n} of {MESSAGES}: reply in one line")
                tmux("send-keys", "-t", "s", "Enter")
                if tmux.wait_for(f"answers message {n}", 60):
                    shown.append(n)
            tmux("send-keys", "-t", "s", "-l", "/exit")
            tmux("send-keys", "-t", "s", "Enter")
            tmux.wait_for("prompt cache", 20)
            screen = tmux.screen()
        finally:
            tmux("kill-server")
        plan_seen = list(plan_fake.seen)
    who = {n: name for chat in (sub, plan) for n, _ in chat.answered for name in [chat.name]}
    found = {
        f"{MESSAGES} messages answered on screen, no error": shown == list(range(1, MESSAGES + 1))
        and "API Error" not in screen,
        "one conversation: message 5 sent with the 4 before it and their answers": any(
            n == MESSAGES and count >= 2 * MESSAGES - 1
            for n, count in [*sub.answered, *plan.answered]
        ),
        f"message {CLOSE_AT} overflowed to the plan": who.get(CLOSE_AT) == "plan",
        "back on the subscription after its window reopened": all(
            who.get(n) == "sub" for n in range(CLOSE_AT + 1, MESSAGES + 1)
        ),
        "the subscription got only the OAuth login, closed its window once": sub.refused == 0
        and sub.limited >= 1
        and all(
            s.headers.get("authorization") == f"Bearer {OAUTH}"
            for s in sub.seen
            if s.route.endswith("/messages")
        ),
        "the plan got its own key and no login": bool(plan.answered)
        and not any(OAUTH in v for s in plan_seen for v in s.headers.values()),
        "the run's token reached no upstream": not any(
            "x-auto-router-token" in s.headers or any("arr_" in v for v in s.headers.values())
            for s in [*sub.seen, *plan_seen]
        ),
        "the summary: the prompt cache lost (twice: there and back)": (
            "prompt cache lost 2 times; first: moved from sub to plan" in screen
        ),
    }
    notes = [f"sub answered {sub.answered}, plan answered {plan.answered}"]
    notes += [line.strip() for line in screen.splitlines() if "auto-router:" in line]
    return found, notes
