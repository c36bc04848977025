"""Gemini CLI (``gemini``): Gemini variables; one attempt per request through system settings."""

from __future__ import annotations

from ..launcher.markers import Marker
from .base import (
    Agent,
    FailFastContext,
    Setup,
    Target,
    credential_given,
    strip_suffix,
    system_settings_overlay,
)

VARIABLES = ("GEMINI_API_KEY", "GOOGLE_GEMINI_BASE_URL", "GEMINI_MODEL")


def configure(target: Target, provided: frozenset[str]) -> Setup:
    setup = Setup()
    if target.api_key and not credential_given(provided, "GEMINI_API_KEY", "GOOGLE_API_KEY"):
        setup.env["GEMINI_API_KEY"] = target.api_key.reveal()
        setup.secret_names.add("GEMINI_API_KEY")
    if target.base_url and "GOOGLE_GEMINI_BASE_URL" not in provided:
        setup.env["GOOGLE_GEMINI_BASE_URL"] = strip_suffix(target.base_url, "/v1beta", "/v1")
    if target.model and "GEMINI_MODEL" not in provided:
        setup.env["GEMINI_MODEL"] = target.model
    return setup


def fail_fast(context: FailFastContext, setup: Setup) -> Setup:
    return system_settings_overlay(
        context,
        env_name="GEMINI_CLI_SYSTEM_SETTINGS_PATH",
        default_paths={
            "linux": "/etc/gemini-cli/settings.json",
            "darwin": "/Library/Application Support/GeminiCli/settings.json",
            "win32": r"C:\ProgramData\gemini-cli\settings.json",
        },
        overlay={"general": {"maxAttempts": 1}},
        file_name="gemini-system-settings.json",
    )


AGENT = Agent(
    name="gemini",
    title="Gemini CLI",
    executables=("gemini", "gemini-cli"),
    default_command=("gemini",),
    markers=(
        # On stderr; "failed with status 429" also shows on a retry that then succeeds,
        # so these count only with a non-zero exit (173 in JSON mode) or at the end.
        Marker("failed with status 429"),
        Marker("status: 429"),
        Marker("RESOURCE_EXHAUSTED"),
        Marker("Your quota will reset after"),
        Marker('json:{"error": {"code": 429}}'),
    ),
    variables=VARIABLES,
    configure=configure,
    fail_fast=fail_fast,
    fail_fast_doc="GEMINI_CLI_SYSTEM_SETTINGS_PATH -> a temporary copy of the system settings "
    "with general.maxAttempts = 1",
)
