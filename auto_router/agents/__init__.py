"""The agents auto-router knows, in one table. A new agent is one module plus one line here.

The agent of a backend is its ``agent`` key, else the one whose executable is the command's
basename, else the one named like the backend, else ``generic``.

The table names each agent's module and executables; a module is imported when its agent is
first looked up. A run needs one agent, and each module builds its markers (compiled regular
expressions) at import: importing all seven cost ~10 ms of every ``run``. A test checks that the
executables here are the module's own.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from importlib import import_module
from types import MappingProxyType
from typing import Final

from ..config import BackendConfig
from ..errors import ConfigValidationError
from .base import Agent, FailFastContext, Setup, Target

#: name -> (module in this package, executable basenames that identify the agent).
TABLE: Final[Mapping[str, tuple[str, tuple[str, ...]]]] = MappingProxyType(
    {
        "qwen": ("qwen", ("qwen", "qwen-code")),
        "codex": ("codex", ("codex",)),
        "claude": ("claude", ("claude", "claude-code")),
        "gemini": ("gemini", ("gemini", "gemini-cli")),
        "aider": ("aider", ("aider",)),
        "opencode": ("opencode", ("opencode",)),
        "generic": ("generic", ()),
    }
)


class _Agents(Mapping[str, Agent]):
    """The agents by name, read-only; each module is imported on its first lookup."""

    def __getitem__(self, name: str) -> Agent:
        module, _ = TABLE[name]
        agent: Agent = import_module(f"{__name__}.{module}").AGENT
        return agent

    def __contains__(self, name: object) -> bool:
        return name in TABLE  # without importing the module (Mapping's would)

    def __iter__(self) -> Iterator[str]:
        return iter(TABLE)

    def __len__(self) -> int:
        return len(TABLE)

    def __repr__(self) -> str:
        return f"AGENTS({', '.join(TABLE)})"


AGENTS: Final[Mapping[str, Agent]] = _Agents()

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
    return AGENTS[head] if head in TABLE else AGENTS["generic"]


def _by_executable(name: str) -> Agent | None:
    for agent, (_, executables) in TABLE.items():
        if name in executables:
            return AGENTS[agent]
    return None
