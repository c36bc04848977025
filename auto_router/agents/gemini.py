"""Gemini CLI (``gemini``): Gemini variables; settings in a temporary ``GEMINI_CLI_HOME``.

On a run that keeps the login (``Target.keep_login``: a backend with a ``gemini`` provider of
``auth = "passthrough"``, template ``gemini-subscription``) Gemini CLI keeps its "Login with
Google": it gets ``CODE_ASSIST_ENDPOINT=http://127.0.0.1:PORT/r/<run token>`` (Code Assist's
base URL, which Gemini CLI 0.61 reads in ``CodeAssistServer.getBaseUrl`` and to which it
appends ``/v1internal:<method>``; the path carries the run's token because Gemini CLI has no
variable for a header of our own), and no key. Inherited ``GEMINI_API_KEY``,
``GOOGLE_API_KEY`` and ``GOOGLE_GEMINI_BASE_URL`` are dropped: where the settings name no auth
type, Gemini CLI takes one from the environment (``getAuthTypeFromEnv``: a base URL means
"gateway", ``GEMINI_API_KEY`` the API key), and the shell's key would then go straight to
Google's API, past the proxy, in place of the login.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..limits.markers import Marker
from .base import (
    Agent,
    FailFastContext,
    Setup,
    Target,
    credential_given,
    deep_merge,
    strip_suffix,
)

VARIABLES = ("GEMINI_API_KEY", "GOOGLE_GEMINI_BASE_URL", "GEMINI_MODEL", "CODE_ASSIST_ENDPOINT")
#: What would replace the Google login, or send requests past the proxy (module docstring).
KEY_VARIABLES = ("GEMINI_API_KEY", "GOOGLE_API_KEY", "GOOGLE_GEMINI_BASE_URL")
#: Gemini CLI's Code Assist base URL (default https://cloudcode-pa.googleapis.com).
ENDPOINT_VARIABLE = "CODE_ASSIST_ENDPOINT"


def configure(target: Target, provided: frozenset[str]) -> Setup:
    if target.keep_login:
        return keep_login(target)
    setup = Setup()
    if target.api_key and not credential_given(provided, "GEMINI_API_KEY", "GOOGLE_API_KEY"):
        setup.env["GEMINI_API_KEY"] = target.api_key.reveal()
        setup.secret_names.add("GEMINI_API_KEY")
    if target.base_url and "GOOGLE_GEMINI_BASE_URL" not in provided:
        setup.env["GOOGLE_GEMINI_BASE_URL"] = strip_suffix(target.base_url, "/v1beta", "/v1")
    if target.model and "GEMINI_MODEL" not in provided:
        setup.env["GEMINI_MODEL"] = target.model
    return setup


def keep_login(target: Target) -> Setup:
    """The Google login as the credential; Code Assist's base URL is the proxy's, with the
    run's token in its path (direct, on the passthrough provider: that provider's URL)."""
    setup = Setup(unset=set(KEY_VARIABLES))
    if target.model:
        setup.env["GEMINI_MODEL"] = target.model
    base = (target.base_url or "").rstrip("/")
    if target.api_key is None:  # direct, on the Code Assist provider itself
        if base:
            setup.env[ENDPOINT_VARIABLE] = base
        setup.notes.append("authentication: Gemini CLI's own Google login, straight to Code Assist")
        return setup
    setup.env[ENDPOINT_VARIABLE] = f"{base}/r/{target.api_key.reveal()}"
    setup.secret_names.add(ENDPOINT_VARIABLE)
    setup.notes.append(
        "authentication: Gemini CLI's own Google login (its bearer goes to the Code Assist "
        f"provider only); the run's token in the path of {ENDPOINT_VARIABLE}"
    )
    return setup


#: The auth type that makes Gemini CLI send GEMINI_API_KEY to GOOGLE_GEMINI_BASE_URL.
API_KEY_AUTH = "gemini-api-key"


def prepare(context: FailFastContext, setup: Setup, fail_fast: bool) -> Setup:
    """A temporary ``GEMINI_CLI_HOME`` whose ``.gemini`` mirrors the user's, with settings.

    Gemini CLI (0.61) reads its settings from ``$GEMINI_CLI_HOME/.gemini/settings.json``
    (default: the home directory). Two settings matter for a launched child:

    - ``general.maxAttempts = 1``, the fail-fast knob (one attempt per request instead of a
      ladder of ten). The system settings file cannot carry it: Gemini CLI skips a system
      settings file unless it and every directory above it are owned by root and not
      group/other-writable, which a per-run temporary file never is.
    - ``security.auth.selectedType = "gemini-api-key"``: with ``GOOGLE_GEMINI_BASE_URL`` set
      and no selected type, Gemini CLI picks the "gateway" auth type, and ``gemini -p``
      refuses it with "Invalid auth method selected." (exit 41).

    Every entry of the user's ``.gemini`` but ``settings.json`` is symlinked into the
    temporary one (credentials, history and trusted folders stay the user's); the settings
    are a merged copy. The user's own files are never written.
    """
    overlay: dict[str, Any] = {}
    if fail_fast:
        overlay["general"] = {"maxAttempts": 1}
    if "GEMINI_API_KEY" in setup.env or "GOOGLE_GEMINI_BASE_URL" in setup.env:
        overlay["security"] = {"auth": {"selectedType": API_KEY_AUTH}}
    if not overlay:
        return Setup()
    home = context.environ.get("GEMINI_CLI_HOME") or context.environ.get("HOME") or ""
    user_dir = Path(home or Path.home()) / ".gemini"
    own = user_dir / "settings.json"
    base: Any = {}
    if own.is_file():
        try:
            base = json.loads(own.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return Setup(notes=[f"gemini settings off: cannot read {own} as JSON"])
        if not isinstance(base, dict):
            return Setup(notes=[f"gemini settings off: {own} is not a JSON object"])
    child_home = context.workdir / "gemini-home"
    child_dir = child_home / ".gemini"
    child_dir.mkdir(parents=True, exist_ok=True)
    if user_dir.is_dir():
        for entry in user_dir.iterdir():
            if entry.name != "settings.json":
                (child_dir / entry.name).symlink_to(entry)
    merged = deep_merge(base, overlay)
    (child_dir / "settings.json").write_text(json.dumps(merged, indent=2), encoding="utf-8")
    return Setup(env={"GEMINI_CLI_HOME": str(child_home)})


AGENT = Agent(
    name="gemini",
    title="Gemini CLI",
    executables=("gemini", "gemini-cli"),
    default_command=("gemini",),
    markers=(
        # On stderr; "failed with status 429" also shows on a retry that then succeeds,
        # so these count only with a non-zero exit (1; 173 in JSON mode) or at the end.
        # Gemini CLI 0.61 with one attempt prints (verbatim, fake server):
        #   Attempt 1 failed: You exceeded your current quota, please check your plan ...
        #   Suggested retry after 5s.. Max attempts reached
        #   Error when talking to Gemini API Full report available at: ... RetryableQuotaError: ...
        #     status: 429
        Marker("failed with status 429"),
        Marker("status: 429"),
        Marker("RESOURCE_EXHAUSTED"),
        Marker("Your quota will reset after"),
        Marker("RetryableQuotaError"),
        Marker("TerminalQuotaError"),
        Marker(r"re:^Attempt \d+ failed: .*\bquota\b", name="Attempt N failed: ... quota"),
        Marker('json:{"error": {"code": 429}}'),
    ),
    variables=VARIABLES,
    configure=configure,
    protocols=("gemini",),
    prepare=prepare,
    keeps_login=True,
    fail_fast_doc="GEMINI_CLI_HOME -> a temporary mirror of ~/.gemini whose settings.json "
    "adds general.maxAttempts = 1",
)
