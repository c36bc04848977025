"""Fake subscription upstreams (issue 20): api.anthropic.com behind a Claude Pro/Max login and
the Codex backend behind a ChatGPT login, as scripts for ``FakeUpstream``.

Each accepts only its vendor's login (refusing an API key with a 401, as the real ones do),
answers through ``FakeProvider`` in the real wire format, and adds the headers the vendor
sends a subscription (the golden sets in ``tests/core/test_subscription_windows.py``): the
window fills by ``step`` on every answer and, once full, the next request is refused with
the vendor's usage-limit 429 until the window resets ``reset_in`` seconds after it opened
(on ``clock``, which the test moves by hand)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from auto_router.demo.fake_upstream import Action, FakeProvider, Reply, Seen

#: What a logged-in Claude Code sends (``sk-ant-oat01-`` is the OAuth access token's form).
CLAUDE_LOGIN = "sk-ant-oat01-fake-login-" + "a" * 40
CLAUDE_BETA = "claude-code-20250219,oauth-2025-04-20,interleaved-thinking-2025-05-14"
#: What a Codex logged in with ChatGPT sends: a JWT access token and the account id.
CHATGPT_LOGIN = "eyJhbGciOiJSUzI1NiJ9.fake-chatgpt-access-token." + "b" * 40
CHATGPT_ACCOUNT = "acc-0f7e8d9c-fake"
WEEK = 7 * 86400


@dataclass
class _Window:
    """One filling window: ``used`` (0..1) and when it resets, on the test's clock."""

    clock: Callable[[], float]
    reset_in: float
    step: float
    used: float = 0.0
    reset_at: float | None = None
    answered: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def take(self) -> tuple[float, float, bool]:
        """(used after this request, reset time, refused?): full means refused."""
        with self._lock:
            now = self.clock()
            if self.reset_at is None or now >= self.reset_at:
                self.used, self.reset_at = 0.0, now + self.reset_in
            if self.used >= 1.0:
                return 1.0, self.reset_at, True
            self.used = min(1.0, round(self.used + self.step, 6))
            self.answered += 1
            return self.used, self.reset_at, False


class ClaudeSubscription:
    """api.anthropic.com for a Claude login: ``Bearer sk-ant-oat…`` with the OAuth beta flag,
    the ``anthropic-ratelimit-unified-*`` headers on every answer, then ``rejected``."""

    def __init__(
        self, clock: Callable[[], float], *, step: float = 0.25, reset_in: float = 2.0
    ) -> None:
        self.window = _Window(clock, reset_in, step)
        self.inner = FakeProvider("subscription", text="from the subscription")
        self.clock = clock

    def __call__(self, seen: Seen) -> Action:
        auth = seen.headers.get("authorization", "")
        beta = seen.headers.get("anthropic-beta", "")
        if not auth.startswith("Bearer sk-ant-oat") or "oauth-2025-04-20" not in beta:
            return Reply(401, _anthropic_error("authentication_error", "invalid x-api-key"))
        used, reset_at, refused = self.window.take()
        headers = unified_headers(used, reset_at, self.clock())
        if refused:
            message = "You've reached your usage limit for this 5-hour window."
            return Reply(429, _anthropic_error("rate_limit_error", message), headers)
        action = self.inner(seen)
        assert isinstance(action, Reply)
        return Reply(action.status, action.body, {**action.headers, **headers})


def unified_headers(used: float, reset_at: float, now: float) -> dict[str, str]:
    """What api.anthropic.com sends a subscription: the 5-hour window at ``used``."""
    status = "rejected" if used >= 1.0 else "allowed_warning" if used >= 0.8 else "allowed"
    return {
        "anthropic-ratelimit-unified-status": status,
        "anthropic-ratelimit-unified-5h-status": "rejected" if used >= 1.0 else "allowed",
        "anthropic-ratelimit-unified-5h-utilization": f"{used:g}",
        "anthropic-ratelimit-unified-5h-reset": str(int(reset_at)),
        "anthropic-ratelimit-unified-7d-status": "allowed",
        "anthropic-ratelimit-unified-7d-utilization": "0.12",
        "anthropic-ratelimit-unified-7d-reset": str(int(now + WEEK)),
        "anthropic-ratelimit-unified-representative-claim": "five_hour",
        "anthropic-ratelimit-unified-reset": str(int(reset_at)),
        "anthropic-ratelimit-unified-fallback-percentage": "0.5",
        "anthropic-ratelimit-unified-overage-status": "rejected",
        "anthropic-ratelimit-unified-overage-disabled-reason": "org_level_disabled",
    }


class CodexSubscription:
    """chatgpt.com/backend-api/codex for a ChatGPT login: the bearer and
    ``chatgpt-account-id``, the ``x-codex-*`` headers, then ``usage_limit_reached``."""

    def __init__(
        self, clock: Callable[[], float], *, step: float = 0.25, reset_in: float = 2.0
    ) -> None:
        self.window = _Window(clock, reset_in, step)
        self.inner = FakeProvider("chatgpt", text="from the chatgpt plan")
        self.clock = clock

    def __call__(self, seen: Seen) -> Action:
        if seen.headers.get("authorization") != f"Bearer {CHATGPT_LOGIN}" or (
            seen.headers.get("chatgpt-account-id") != CHATGPT_ACCOUNT
        ):
            return Reply(401, {"error": {"message": "Unauthorized", "code": "token_invalid"}})
        used, reset_at, refused = self.window.take()
        now = self.clock()
        headers = codex_headers(used * 100, reset_at, now)
        if refused:
            body = {
                "error": {
                    "type": "usage_limit_reached",
                    "message": "The usage limit has been reached",
                    "plan_type": "plus",
                    "resets_at": int(reset_at),
                    "resets_in_seconds": max(0, int(reset_at - now)),
                }
            }
            return Reply(429, body, headers)
        action = self.inner(seen)
        assert isinstance(action, Reply)
        return Reply(action.status, action.body, {**action.headers, **headers})


def codex_headers(percent: float, reset_at: float, now: float) -> dict[str, str]:
    """What the Codex backend sends: the 5-hour (primary) window at ``percent``, the week."""
    return {
        "x-codex-primary-used-percent": f"{percent:g}",
        "x-codex-primary-window-minutes": "300",
        "x-codex-primary-reset-after-seconds": str(max(0, int(reset_at - now))),
        "x-codex-primary-reset-at": str(int(reset_at)),
        "x-codex-secondary-used-percent": "9",
        "x-codex-secondary-window-minutes": "10080",
        "x-codex-secondary-reset-after-seconds": str(WEEK),
        "x-codex-secondary-reset-at": str(int(now + WEEK)),
    }


def _anthropic_error(kind: str, message: str) -> dict[str, object]:
    return {"type": "error", "error": {"type": kind, "message": message}}
