"""qwen-code (``qwen``): OpenAI-compatible variables; retries off through system settings."""

from __future__ import annotations

from ..limits.markers import Marker, shape
from .base import Agent, FailFastContext, Setup, Target, credential_given, system_settings_overlay

VARIABLES = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_MODEL")


def configure(target: Target, provided: frozenset[str]) -> Setup:
    setup = Setup()
    if target.api_key and not credential_given(provided, "OPENAI_API_KEY"):
        setup.env["OPENAI_API_KEY"] = target.api_key.reveal()
        setup.secret_names.add("OPENAI_API_KEY")
    if target.base_url and "OPENAI_BASE_URL" not in provided:
        setup.env["OPENAI_BASE_URL"] = target.base_url.rstrip("/")
    if target.model and "OPENAI_MODEL" not in provided:
        setup.env["OPENAI_MODEL"] = target.model
    return setup


def fail_fast(context: FailFastContext, setup: Setup) -> Setup:
    # model.generationConfig.maxRetries = 0 turns off the OpenAI SDK's own retries inside
    # each of qwen-code's attempts. qwen-code 0.24.4 still makes 7 attempts per request
    # (waiting Retry-After between them, else 1.5 s doubling up to 30 s), and no setting or
    # variable changes that; without the knob each attempt is itself retried by the SDK.
    return system_settings_overlay(
        context,
        env_name="QWEN_CODE_SYSTEM_SETTINGS_PATH",
        default_paths={
            "linux": "/etc/qwen-code/settings.json",
            "darwin": "/Library/Application Support/QwenCode/settings.json",
            "win32": r"C:\ProgramData\qwen-code\settings.json",
        },
        overlay={"model": {"generationConfig": {"maxRetries": 0}}},
        file_name="qwen-system-settings.json",
    )


AGENT = Agent(
    name="qwen",
    title="qwen-code",
    executables=("qwen", "qwen-code"),
    default_command=("qwen",),
    markers=(
        # Text mode (0.24.4): on stderr, exit 1 (verbatim, fake server):
        #   [API Error: 429 Rate limit reached for gpt-4.1 in organization ... ]
        #   Possible quota limitations in place or slow response times detected. Please wait ...
        # Also inside --output-format json, where older versions exit 0.
        # `│` beside the class, not in it: a non-ASCII character in a class with `\s` takes
        # ~0.5 ms to compile case-insensitively, on every run of this agent.
        Marker(
            r"re:(?:^|[\s\"'>]|│)\[API Error: 429\b",
            shape=True,
            name="[API Error: 429 (error text)",
        ),
        shape(r"Possible quota limitations in place"),
        Marker("[API Error: 429"),
        Marker("Possible quota limitations in place"),
    ),
    variables=VARIABLES,
    configure=configure,
    protocols=("openai",),
    fail_fast=fail_fast,
    fail_fast_doc="QWEN_CODE_SYSTEM_SETTINGS_PATH -> a temporary copy of the system settings "
    "with model.generationConfig.maxRetries = 0 (no SDK retries; qwen-code's own 7 attempts "
    "remain)",
)
