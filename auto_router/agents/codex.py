"""Codex CLI (``codex``): ignores OPENAI_BASE_URL, so the provider is defined with ``-c``.

On a subscription run (``Target.keep_login``) the provider is defined with
``requires_openai_auth = true`` and no ``env_key``: Codex then sends its own login (the
ChatGPT access token and ``chatgpt-account-id`` from ``~/.codex/auth.json``) to the proxy,
and the run's token goes in a header named by ``env_http_headers`` (header -> variable, so
the token is in the child's environment, never on its command line). ``OPENAI_API_KEY`` and
``CODEX_API_KEY`` from the user's shell are dropped: Codex reads both as credentials, and one
would be forwarded to the ChatGPT backend in place of the login. Field names from Codex's
``ModelProviderInfo`` (openai/codex, codex-rs/model-provider-info/src/lib.rs, earlier
codex-rs/core/src/model_provider_info.rs: ``env_http_headers`` maps a header name to the
variable holding its value, and leaves the header out when that is unset or empty), checked
against the strings of the 0.169 binary and by running it (docs/launcher.md).
"""

from __future__ import annotations

import json

from ..limits.markers import Marker, shape
from ..secrets import Secret
from .base import RUN_TOKEN_HEADER, Agent, FailFastContext, Setup, Target

#: The id of the model provider auto-router defines for Codex on the command line.
PROVIDER_ID = "auto_router"
KEY_VARIABLE = "AUTO_ROUTER_CODEX_API_KEY"
#: A subscription run's token, sent by Codex as the ``RUN_TOKEN_HEADER`` header.
TOKEN_VARIABLE = "AUTO_ROUTER_CODEX_TOKEN"
VARIABLES = (KEY_VARIABLE, TOKEN_VARIABLE)
#: Credentials Codex reads from its environment before its login file.
KEY_VARIABLES = ("OPENAI_API_KEY", "CODEX_API_KEY")
DEFAULT_BASE_URL = "https://api.openai.com/v1"


def override(key: str, value: str | int | bool) -> list[str]:
    """``-c key=value`` with the value as TOML (a JSON string is a valid TOML string)."""
    if isinstance(value, bool):
        rendered = "true" if value else "false"
    else:
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
    if target.keep_login:
        setup = setup.merge(keep_login(target.api_key))
    elif target.api_key:
        setup.env[KEY_VARIABLE] = target.api_key.reveal()
        setup.secret_names.add(KEY_VARIABLE)
        setup.args += override(f"{prefix}.env_key", KEY_VARIABLE)
    elif "OPENAI_API_KEY" in provided:
        setup.args += override(f"{prefix}.env_key", "OPENAI_API_KEY")
    setup.args += override(f"{prefix}.wire_api", "responses")
    if target.model:
        setup.args += override("model", target.model)
    if target.context_window:
        setup.args += override("model_context_window", target.context_window)
    return setup


def keep_login(token: Secret | None) -> Setup:
    """Codex's own login as the credential; the run's token (through the proxy) in a header
    of its own."""
    prefix = f"model_providers.{PROVIDER_ID}"
    if token is None:  # direct, on the subscription provider itself
        return Setup(
            args=override(f"{prefix}.requires_openai_auth", True),
            unset=set(KEY_VARIABLES),
            notes=["authentication: Codex's own login, straight to the subscription provider"],
        )
    headers = f"{{{json.dumps(RUN_TOKEN_HEADER)} = {json.dumps(TOKEN_VARIABLE)}}}"
    return Setup(
        env={TOKEN_VARIABLE: token.reveal()},
        args=[
            *override(f"{prefix}.requires_openai_auth", True),
            "-c",
            f"{prefix}.env_http_headers={headers}",
        ],
        secret_names={TOKEN_VARIABLE},
        unset=set(KEY_VARIABLES),
        notes=[
            "authentication: Codex's own login (its ChatGPT token goes to the subscription "
            f"provider only); the run's token in the {RUN_TOKEN_HEADER} header "
            f"(env_http_headers, from {TOKEN_VARIABLE})"
        ],
    )


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
    keeps_login=True,
)
