"""Claude Code (``claude``): Anthropic variables; ``CLAUDE_CODE_MAX_RETRIES=0``.

On a subscription run (``Target.keep_login``) Claude Code keeps its own login: it gets no
``ANTHROPIC_AUTH_TOKEN`` / ``ANTHROPIC_API_KEY`` (either would replace its OAuth bearer, and
inherited ones are dropped: a gateway's token from the user's shell would otherwise be
forwarded to api.anthropic.com), and the run's token rides beside the bearer in
``ANTHROPIC_CUSTOM_HEADERS``, which Claude Code sends on every request.

The context window: Claude Code 2.1.332 reads ``CLAUDE_CODE_AUTO_COMPACT_WINDOW`` (tokens,
``200k`` allowed) and compacts below ``min(model window, it)``; values under 100k are raised
to 100k, so a smaller window is said as 100k and ``CLAUDE_AUTOCOMPACT_PCT_OVERRIDE`` (the
share of it at which to compact). Read from the binary's own strings (``XS()``,
``aFs()``, ``QG()``); docs/agents.md has the details.
"""

from __future__ import annotations

from ..limits.markers import Marker, shape
from ..secrets import Secret
from .base import (
    RUN_TOKEN_HEADER,
    Agent,
    FailFastContext,
    Setup,
    Target,
    credential_given,
    strip_suffix,
)

VARIABLES = (
    "ANTHROPIC_BASE_URL",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "ANTHROPIC_MODEL",
    "ANTHROPIC_CUSTOM_HEADERS",
    "CLAUDE_CODE_AUTO_COMPACT_WINDOW",
    "CLAUDE_AUTOCOMPACT_PCT_OVERRIDE",
)
OFFICIAL_HOSTS = ("api.anthropic.com",)
#: The credentials that would replace Claude Code's own login.
KEY_VARIABLES = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN")
WINDOW_VARIABLE = "CLAUDE_CODE_AUTO_COMPACT_WINDOW"
PERCENT_VARIABLE = "CLAUDE_AUTOCOMPACT_PCT_OVERRIDE"
#: Claude Code raises a smaller ``CLAUDE_CODE_AUTO_COMPACT_WINDOW`` to this (``iF=1e5``).
MIN_WINDOW = 100_000


def configure(target: Target, provided: frozenset[str]) -> Setup:
    setup = Setup()
    base_url = strip_suffix(target.base_url, "/v1") if target.base_url else None
    if base_url and "ANTHROPIC_BASE_URL" not in provided:
        setup.env["ANTHROPIC_BASE_URL"] = base_url
    if target.keep_login:
        setup = setup.merge(keep_login(target.api_key))
    elif target.api_key and not credential_given(provided, *KEY_VARIABLES):
        key = target.api_key.reveal()
        if base_url is None or any(host in base_url for host in OFFICIAL_HOSTS):
            # Anthropic's own API: the key goes in x-api-key.
            setup.env["ANTHROPIC_API_KEY"] = key
            setup.secret_names.add("ANTHROPIC_API_KEY")
        else:
            # Gateways and compatible endpoints take a bearer token. An inherited
            # ANTHROPIC_API_KEY would win over it, so it is blanked for the child.
            setup.env["ANTHROPIC_AUTH_TOKEN"] = key
            setup.env["ANTHROPIC_API_KEY"] = ""
            setup.secret_names.update({"ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_API_KEY"})
    if target.model and "ANTHROPIC_MODEL" not in provided:
        setup.env["ANTHROPIC_MODEL"] = target.model
    if target.context_window:
        setup = setup.merge(context_window(target.context_window))
    return setup


def keep_login(token: Secret | None) -> Setup:
    """Claude Code's credential is its login; the run's token (through the proxy) goes in
    a header of its own."""
    if token is None:  # direct, on the subscription provider itself
        note = "authentication: Claude Code's own login, straight to the subscription provider"
        return Setup(unset=set(KEY_VARIABLES), notes=[note])
    return Setup(
        env={"ANTHROPIC_CUSTOM_HEADERS": f"{RUN_TOKEN_HEADER}: {token.reveal()}"},
        secret_names={"ANTHROPIC_CUSTOM_HEADERS"},
        unset=set(KEY_VARIABLES),
        notes=[
            "authentication: Claude Code's own login (its OAuth bearer goes to the "
            "subscription provider only); the run's token in the "
            f"{RUN_TOKEN_HEADER} header (ANTHROPIC_CUSTOM_HEADERS)"
        ],
    )


def context_window(tokens: int) -> Setup:
    """Where Claude Code compacts: the answering models' window, never more."""
    if tokens >= MIN_WINDOW:
        values = {WINDOW_VARIABLE: str(tokens)}
    else:  # below Claude Code's floor: compact at the same share of the floor
        values = {WINDOW_VARIABLE: str(MIN_WINDOW), PERCENT_VARIABLE: str(max(1, tokens // 1000))}
    said = ", ".join(f"{k}={v}" for k, v in values.items())
    return Setup(
        defaults=values,
        notes=[f"context window: {tokens} tokens, the smallest that may answer ({said})"],
    )


def fail_fast(context: FailFastContext, setup: Setup) -> Setup:
    return Setup(env={"CLAUDE_CODE_MAX_RETRIES": "0"})


AGENT = Agent(
    name="claude",
    title="Claude Code",
    executables=("claude", "claude-code"),
    default_command=("claude",),
    markers=(
        shape(r"API Error: Request rejected \(429\)"),
        # `│` beside the class, not in it: a non-ASCII character in a class with `\s` takes
        # ~0.5 ms to compile case-insensitively, on every run of this agent.
        Marker(
            r"re:(?:^|[\s\"'>]|│)API Error: Request rejected \(429\)",
            shape=True,
            name="API Error: Request rejected (429) (error text)",
        ),
        Marker('json:{"api_error_status": 429}'),
        # Subscriptions: "5-hour limit reached ∙ resets 3pm".
        Marker(r"re:limit reached\s*[∙·•|-]\s*resets\b", shape=True, name="limit reached ∙ resets"),
        Marker("API Error: 429"),
        Marker("rate_limit_error"),
        Marker("usage limit reached"),
    ),
    variables=VARIABLES,
    configure=configure,
    protocols=("anthropic",),
    fail_fast=fail_fast,
    fail_fast_doc="CLAUDE_CODE_MAX_RETRIES=0",
    keeps_login=True,
)
