"""The agents auto-router knows, in one table. A new agent is one module plus one line here.

The agent of a backend is its ``agent`` key, else the one whose executable is the command's
basename, else the one named like the backend, else ``generic``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Final

from ..config import BackendConfig
from ..errors import ConfigValidationError
from . import aider, claude, codex, gemini, generic, qwen
from .base import Agent, FailFastContext, Setup, Target

AGENTS: Final[Mapping[str, Agent]] = MappingProxyType(
    {a.name: a for a in (qwen.AGENT, codex.AGENT, claude.AGENT, gemini.AGENT, aider.AGENT)}
    | {"generic": generic.AGENT}
)

__all__ = ["AGENTS", "Agent", "FailFastContext", "Setup", "Target", "agent_for", "get_agent"]


def get_agent(name: str) -> Agent:
    try:
        return AGENTS[name]
    except KeyError:
        raise ConfigValidationError(
            f"unknown agent {name!r} (known: {', '.join(AGENTS)})",
            hint="set `agent` in [backends.<name>] to one of those, or leave it out",
        ) from None


def executable_name(command: str) -> str:
    """``/usr/local/bin/qwen`` -> ``qwen``; ``claude.cmd`` -> ``claude``."""
    name = os.path.basename(command)
    for suffix in (".exe", ".cmd", ".bat", ".ps1", ".js"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def agent_for(backend: BackendConfig, argv: Sequence[str] | None) -> Agent:
    """Which agent a backend's child is: ``agent`` key, command basename, backend name."""
    if backend.agent:
        return get_agent(backend.agent)
    if argv:
        found = _by_executable(executable_name(argv[0]))
        if found is not None:
            return found
    if backend.name in AGENTS:
        return AGENTS[backend.name]
    found = _by_executable(backend.name)
    if found is not None:
        return found
    head = backend.name.split("-", 1)[0].split("_", 1)[0]
    return AGENTS.get(head, AGENTS["generic"])


def _by_executable(name: str) -> Agent | None:
    for agent in AGENTS.values():
        if name in agent.executables:
            return agent
    return None
