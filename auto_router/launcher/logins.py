"""Runs that keep the agent's own login (issue 20), and the context window a run tells it.

A backend whose providers include a subscription (``auth = "passthrough"``: the agent's own
Claude, ChatGPT or Google login, forwarded by the proxy to that provider and to no other)
changes how a run through the proxy authenticates: an agent that has such a login
(``Agent.keeps_login``) and a subscription of its own API on the backend keeps it as its
credential, and the run's token travels beside it, in a header of its own
(``agents.base.RUN_TOKEN_HEADER``; Gemini CLI, which has no such header, in the path of its
``CODE_ASSIST_ENDPOINT``). Any other agent, or a backend with no subscription for it, sends
the run's token as its API key, as before.

An agent reads its context window once, at start, but the proxy may move the session to a
model with a smaller one at any request: the run tells it the smallest window among the
providers that may answer (those that declare ``context_window``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

from ..agents import Agent
from ..config import Config, ProviderConfig


def smallest_window(providers: Iterable[ProviderConfig]) -> int | None:
    """The smallest declared ``context_window``; ``None`` when none declares one."""
    windows = [p.context_window for p in providers if p.context_window]
    return min(windows) if windows else None


class Login(NamedTuple):
    """How a run through the proxy points its agent."""

    #: The agent keeps its own login; the run's token goes in a header.
    keep: bool
    #: The smallest context window of the providers that may answer.
    context_window: int | None


def login_of(config: Config, backend: str, agent: Agent) -> Login:
    """For ``agent`` on ``backend`` through the proxy."""
    providers: Sequence[ProviderConfig] = config.enabled_providers_of(backend)
    # Only a subscription of the agent's own API carries its login: Gemini CLI's Google
    # login is for a Gemini one (Code Assist), never for a Claude or ChatGPT one.
    keep = agent.keeps_login and any(
        p.passthrough and p.protocol in agent.protocols for p in providers
    )
    return Login(keep, smallest_window(providers))
