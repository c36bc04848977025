"""Codex CLI (``codex``): ignores OPENAI_BASE_URL, so the provider is defined with ``-c``."""

from __future__ import annotations

import json

from ..limits.markers import Marker, shape
from .base import Agent, FailFastContext, Setup, Target

#: The id of the model provider auto-router defines for Codex on the command line.
PROVIDER_ID = "auto_router"
KEY_VARIABLE = "AUTO_ROUTER_CODEX_API_KEY"
VARIABLES = (KEY_VARIABLE,)
DEFAULT_BASE_URL = "https://api.openai.com/v1"


def override(key: str, value: str | int) -> list[str]:
    """``-c key=value`` with the value as TOML (a JSON string is a valid TOML string)."""
    rendered = json.dumps(value) if isinstance(value, str) else str(value)
    return ["-c", f"{key}={rendered}"]


def configure(target: Target, provided: frozenset[str]) -> Setup:
    setup = Setup()
    if target.provider is None:
        return setup  # fallback mode: Codex's own configuration
    if target.base_url is None and target.api_key is None:
        # A variables-only provider names no endpoint: Codex keeps its own configuration
        # (with the provider's variables) rather than one pointed at a host nobody wrote.
        return setup
    prefix = f"model_providers.{PROVIDER_ID}"
    setup.args += override("model_provider", PROVIDER_ID)
    setup.args += override(f"{prefix}.name", f"auto-router {target.backend}/{target.provider}")
    setup.args += override(f"{prefix}.base_url", (target.base_url or DEFAULT_BASE_URL).rstrip("/"))
    if target.api_key:
        setup.env[KEY_VARIABLE] = target.api_key.reveal()
        setup.secret_names.add(KEY_VARIABLE)
        setup.args += override(f"{prefix}.env_key", KEY_VARIABLE)
    elif "OPENAI_API_KEY" in provided:
        setup.args += override(f"{prefix}.env_key", "OPENAI_API_KEY")
    setup.args += override(f"{prefix}.wire_api", "responses")
    if target.model:
        setup.args += override("model", target.model)
    return setup


def fail_fast(context: FailFastContext, setup: Setup) -> Setup:
    if "model_provider" not in " ".join(setup.args):
        return Setup(notes=["fail-fast off: no provider defined for codex (fallback mode)"])
    prefix = f"model_providers.{PROVIDER_ID}"
    return Setup(
        args=[
            *override(f"{prefix}.request_max_retries", 0),
            *override(f"{prefix}.stream_max_retries", 0),
        ]
    )


AGENT = Agent(
    name="codex",
    title="Codex CLI",
    executables=("codex",),
    default_command=("codex",),
    markers=(
        # On stderr, as "ERROR: ..." lines or the TUI's "■ ..." lines.
        shape(r"exceeded retry limit, last status: 429"),
        shape(r"Quota exceeded\. Check your plan"),
        shape(r"You've hit your usage limit"),
        Marker("exceeded retry limit, last status: 429"),
        Marker("Quota exceeded. Check your plan"),
        Marker("You've hit your usage limit"),
    ),
    variables=VARIABLES,
    configure=configure,
    protocols=("openai",),
    fail_fast=fail_fast,
    fail_fast_doc=f"-c model_providers.{PROVIDER_ID}.request_max_retries=0 and "
    f"-c model_providers.{PROVIDER_ID}.stream_max_retries=0",
)
