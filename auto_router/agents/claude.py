"""Claude Code (``claude``): Anthropic variables; ``CLAUDE_CODE_MAX_RETRIES=0``."""

from __future__ import annotations

from ..limits.markers import Marker, shape
from .base import Agent, FailFastContext, Setup, Target, credential_given, strip_suffix

VARIABLES = (
    "ANTHROPIC_BASE_URL",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "ANTHROPIC_MODEL",
)
OFFICIAL_HOSTS = ("api.anthropic.com",)


def configure(target: Target, provided: frozenset[str]) -> Setup:
    setup = Setup()
    base_url = strip_suffix(target.base_url, "/v1") if target.base_url else None
    if base_url and "ANTHROPIC_BASE_URL" not in provided:
        setup.env["ANTHROPIC_BASE_URL"] = base_url
    if target.api_key and not credential_given(
        provided, "ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN"
    ):
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
    return setup


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
)
