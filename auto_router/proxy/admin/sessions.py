"""``GET /v1/sessions``: which provider each session with affinity is on (``affinity.py``).

A session's id never leaves the proxy: it is a run token's digest or a string a client chose
(``X-Auto-Router-Session``), which may mean something to it. Each is shown as a short hash
keyed per process (``Affinity.label``) and, for a run, its run id, backend and command (the
basename the attempts log keeps). Newest first; a session idle past the affinity's limit is
forgotten and not listed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ...paths import Paths
from ...runs import RunEntry
from ...store.attempts import history
from ._base import admin_endpoint, in_thread, ok, services

#: Sessions listed at most (the map holds up to 10,000).
MAX_SESSIONS = 200


@admin_endpoint
async def list_sessions(request: Request) -> Response:
    found = services(request)
    affinity = found.router.affinity
    # Read on the event loop, which is the only one that changes the map.
    entries = affinity.entries()[:MAX_SESSIONS]
    tokens = found.proxy.run_tokens
    runs = await in_thread(tokens.runtime.entries) if tokens is not None else {}
    commands = await in_thread(_commands, found.paths, list(runs.values()))
    sessions = []
    for (session, routed), (backend, slot), seen in entries:
        provider, _, key = slot.partition("#")
        row: dict[str, Any] = {
            "id": affinity.label(session),
            "kind": "run" if session.startswith("r:") else "client",
            "routed": routed,
            "backend": backend,
            "provider": provider,
            "key_id": key or None,
            "last_seen": seen,
        }
        entry = runs.get(session[2:]) if session.startswith("r:") else None
        if entry is not None:
            row["run_id"] = entry.run_id
            row["command"] = commands.get(entry.run_id)
        sessions.append(row)
    return ok({"sessions": sessions})


def _commands(paths: Paths | None, runs: Iterable[RunEntry]) -> Mapping[str, str]:
    """run id -> the command of its last attempt (blocking: SQLite reads)."""
    if paths is None:
        return {}
    found: dict[str, str] = {}
    for entry in runs:
        rows = history(paths.database, run_id=entry.run_id, limit=1)
        if rows:
            found[entry.run_id] = rows[-1].command
    return found
