#!/usr/bin/env python3
"""The project's fake provider, set up for the real agent CLIs (127.0.0.1 only, stdlib only).

It is ``auto_router.demo``'s fake (``FakeUpstream`` running a ``FakeProvider``), the same one
the demo and the tests run, so it speaks the four wire formats the agents use:

- OpenAI chat completions (``POST .../chat/completions``, JSON or SSE): qwen-code;
- OpenAI Responses (``POST .../responses``, SSE): Codex CLI;
- Anthropic Messages (``POST .../v1/messages``, JSON or SSE): Claude Code;
- Gemini ``models/{model}:generateContent`` / ``:streamGenerateContent?alt=sse`` /
  ``:countTokens``: Gemini CLI.

Set up here for ``scripts/verify_real_agents.py``: one server stands for two providers. A
request whose key (``Authorization: Bearer``, ``x-api-key``, ``x-goog-api-key`` or ``?key=``)
contains ``limited`` gets a 429 with ``Retry-After`` and the provider's realistic error body;
any other key gets a minimal valid answer whose text is ``REPLY_TEXT``. Every request is
logged as one JSON line (path, key, model, status, tools offered, the turn answered).

With ``tools=True`` (``--tools``) the answers make a tool round trip: a request that offers
one of the agents' shell tools and carries no tool result yet gets a call of that tool
(``echo hello-from-tool``); once a tool result comes back the answer is ``DONE: <result>``.

Run by hand: ``python scripts/fake_provider.py --port 8765 --log requests.jsonl``.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import threading
from pathlib import Path
from typing import Any

# Runs from a checkout as well as from the project's venv: the fake needs no dependency.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from auto_router.demo.fake_upstream import FakeProvider, FakeUpstream
from auto_router.demo.provider import TOOL_MARKER

__all__ = ["REPLY_TEXT", "TOOL_MARKER", "ProviderServer"]

REPLY_TEXT = "PONG-FROM-THE-SECOND-PROVIDER"


class ProviderServer:
    """Two providers on one port: keys containing ``limited`` are out of quota."""

    def __init__(
        self, log_path: Path | None, retry_after: int = 5, port: int = 0, tools: bool = False
    ) -> None:
        self.provider = FakeProvider(
            "agents",
            text=REPLY_TEXT,
            pieces=None,
            retry_after=retry_after,
            limited_when="limited",
            tools=tools,
            log=log_path,
        )
        self._upstream = FakeUpstream(self.provider, port)

    @property
    def url(self) -> str:
        """The server's root (no ``/v1``): each agent's provider type adds its own path."""
        return self._upstream.root

    @property
    def requests(self) -> list[dict[str, Any]]:
        return self.provider.requests

    def start(self) -> ProviderServer:
        self._upstream.__enter__()
        return self

    def shutdown(self) -> None:
        self._upstream.__exit__(None, None, None)

    def server_close(self) -> None:
        """Nothing left to close after ``shutdown`` (kept for the callers' two-step stop)."""

    def serve_forever(self) -> None:
        self.start()
        try:
            threading.Event().wait()
        finally:
            self.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--log", type=Path, default=None)
    parser.add_argument("--retry-after", type=int, default=5)
    parser.add_argument("--tools", action="store_true", help="ask for a shell tool first")
    args = parser.parse_args()
    server = ProviderServer(args.log, args.retry_after, args.port, args.tools)
    print(f"fake provider on {server.url}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


if __name__ == "__main__":
    main()
