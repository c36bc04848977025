"""What an agent module describes: how to point the agent at a provider, how it reports a
usage limit, and how to make it give up quickly instead of retrying a 429 for minutes.

An agent is data plus two small functions. ``configure`` turns the provider's lowercase
settings (``base_url``, ``api_key``, ``model``) into the variables (and, for Codex, the
arguments) the agent reads; ``fail_fast`` returns the knobs for the child process only.
Neither ever writes to the user's own settings files.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from ..limits.markers import Marker
from ..secrets import Secret


class Target(NamedTuple):
    """Where the child should send its requests (values expanded; the key stays a Secret)."""

    backend: str
    provider: str | None
    protocol: str = "openai"
    type: str = "openai"
    base_url: str | None = None
    api_key: Secret | None = None
    model: str | None = None
    api_version: str | None = None
    #: Keep the agent's own login (issue 20): through the proxy, on a backend with a
    #: subscription provider (``auth = "passthrough"``), for an agent whose login the proxy
    #: can carry (``Agent.keeps_login``); ``api_key`` is then the run's token, which goes in
    #: the ``RUN_TOKEN_HEADER`` header, never as the agent's credential. Direct, on a
    #: subscription provider: ``api_key`` is ``None`` and the login goes straight there.
    keep_login: bool = False
    #: The smallest context window (tokens) among the models that may answer, when known.
    context_window: int | None = None


#: The header a run's token travels in when the agent's own credential takes the bearer.
RUN_TOKEN_HEADER = "X-Auto-Router-Token"


@dataclass
class Setup:
    """Variables and arguments an agent module adds for one child process."""

    env: dict[str, str] = field(default_factory=dict)
    #: Arguments inserted right after the executable (Codex's ``-c key=value`` overrides).
    args: list[str] = field(default_factory=list)
    #: Names in ``env`` whose values are credentials (masked in --dry-run).
    secret_names: set[str] = field(default_factory=set)
    #: Human-readable notes for --dry-run and ``env`` (never values).
    notes: list[str] = field(default_factory=list)
    #: Variables of the parent's environment the child must not inherit (an API key in the
    #: user's shell would replace the login a subscription run keeps).
    unset: set[str] = field(default_factory=set)
    #: Variables set only when the parent's environment has none of that name (the user's
    #: own choice wins): the context window a run tells Claude Code.
    defaults: dict[str, str] = field(default_factory=dict)

    def merge(self, other: Setup) -> Setup:
        return Setup(
            env={**self.env, **other.env},
            args=[*self.args, *other.args],
            secret_names=self.secret_names | other.secret_names,
            notes=[*self.notes, *other.notes],
            unset=self.unset | other.unset,
            defaults={**self.defaults, **other.defaults},
        )


class FailFastContext(NamedTuple):
    """What a fail-fast knob may use: a private temporary directory and the parent env."""

    workdir: Path
    environ: Mapping[str, str]


Configure = Callable[[Target, frozenset[str]], Setup]
FailFast = Callable[[FailFastContext, Setup], Setup]
#: Files an agent needs for one child whatever ``fail_fast`` says (``bool``: fail fast?).
Prepare = Callable[[FailFastContext, Setup, bool], Setup]


def _no_fail_fast(context: FailFastContext, setup: Setup) -> Setup:
    return Setup()


class Agent(NamedTuple):
    """One coding-agent CLI auto-router knows."""

    name: str
    title: str
    #: Executable basenames that identify the agent (``qwen``, ``claude``...).
    executables: tuple[str, ...]
    #: The command run when neither the provider nor the backend names one.
    default_command: tuple[str, ...] | None
    markers: tuple[Marker, ...]
    #: The variables ``configure`` may set, for documentation and ``--unset``.
    variables: tuple[str, ...]
    configure: Configure
    #: The API families it can talk to ("openai", "anthropic", "gemini"), the one it is
    #: pointed at first; empty: whatever the provider speaks (a generic command).
    protocols: tuple[str, ...] = ()
    #: The families it can be pointed at the local proxy in (``None``: ``protocols``); an
    #: agent with no base-URL setting for some API must not talk to the proxy in it.
    proxy_protocols: tuple[str, ...] | None = None
    fail_fast: FailFast = _no_fail_fast
    #: One line on the fail-fast knob, for docs and --dry-run.
    fail_fast_doc: str = "none known"
    #: Settings files for the child (in the attempt's temporary directory), called for every
    #: launched attempt with whether to fail fast; for agents whose knobs and required
    #: settings live in the same file (Gemini CLI).
    prepare: Prepare | None = None
    #: The agent has a login of its own that the proxy can forward to a subscription
    #: provider (Claude Code's OAuth, Codex's ChatGPT), and a way to send the run's token
    #: beside it (a custom header).
    keeps_login: bool = False


def credential_given(provided: frozenset[str], *names: str) -> bool:
    """Did the provider export one of ``names`` itself (then leave that group alone)?"""
    return any(n in provided for n in names)


def strip_suffix(url: str, *suffixes: str) -> str:
    url = url.rstrip("/")
    for suffix in suffixes:
        if url.endswith(suffix):
            return url[: -len(suffix)]
    return url


# --------------------------------------------------------------------------- settings files


def system_settings_overlay(
    context: FailFastContext,
    *,
    env_name: str,
    default_paths: Mapping[str, str],
    overlay: Mapping[str, Any],
    file_name: str,
) -> Setup:
    """A copy of the system settings file with ``overlay`` merged in, for the child only.

    qwen-code and Gemini CLI read a "system settings" file that overrides the user's own,
    whose path an environment variable can change. The existing one (if any) is read, never
    written; the copy lives in ``context.workdir``, which is deleted after the run. When the
    existing file cannot be read as JSON, the knob is left off rather than lose its content.
    """
    current = context.environ.get(env_name) or default_paths.get(sys.platform) or ""
    base: Any = {}
    if current and os.path.exists(current):
        try:
            base = json.loads(Path(current).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return Setup(notes=[f"fail-fast off: cannot read {current} as JSON"])
        if not isinstance(base, dict):
            return Setup(notes=[f"fail-fast off: {current} is not a JSON object"])
    merged = deep_merge(base, overlay)
    path = context.workdir / file_name
    path.write_text(json.dumps(merged, indent=2), encoding="utf-8")
    return Setup(env={env_name: str(path)})


def deep_merge(base: Mapping[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    result = dict(base)
    for key, value in overlay.items():
        if isinstance(value, Mapping) and isinstance(result.get(key), Mapping):
            result[key] = deep_merge(result[key], value)
        else:
            result[key] = value
    return result
