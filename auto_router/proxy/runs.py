"""Sessions of ``auto-router run --via-proxy`` on the data path.

Each launcher registers its run under a token (``auto_router.runs``). A request that carries
one is let in without a client token, is routed to the run's backend, is tied to the
run in the request log, and, when every provider is cooling down, gets its own protocol's 429
with ``Retry-After`` and the line ``run`` prints (instead of the generic 503).

Every request of a run leaves one event in the run's record (``failover_event``): who failed
and how, who answered, the status, and whether it was that cooling answer. The launcher reads
the record while the agent runs (an agent that waits out ``Retry-After: 3600`` is ended when
the run is not interactive), after each attempt (an agent that exits 0 although the proxy
answered none of its requests is not a success) and at the end (the summary: requests,
tokens and cost, failovers).
"""

from __future__ import annotations

from typing import Any, Final

from ..limits.cooling import cooling_line
from .asgi import Send
from .errors import error_body
from .exchange import Exchange, respond
from .routing import Plan


def bare_token(credential: str | None) -> str | None:
    """``Bearer x`` -> ``x``; any other credential as it is."""
    if credential and credential[:7].lower() == "bearer ":
        return credential[7:].strip()
    return credential


#: The start of ``cooling_line``, which ``answer_cooling`` puts in ``ex.error``.
_COOLING: Final = "all providers of "


def failover_event(ex: Exchange) -> dict[str, Any]:
    """One request of a run: who failed (and how), who answered, and whether the answer was
    the cooling 429 (every provider of the run's backend cooling down)."""
    cooling = ex.status == 429 and (ex.error or "").startswith(_COOLING)
    return {
        "ts": ex.ts,
        "failed": [[f.provider, f.status] for f in ex.failed],
        "provider": ex.provider if ex.status < 400 else None,
        "status": ex.status,
        "cooling": cooling,
        # the answering attempt's tokens, for the summary line's usage and cost
        "usage": list(ex.usage[:2]),
    }


async def answer_cooling(
    send: Send, ex: Exchange, plan: Plan, fresh: Plan | None, now: float
) -> bool:
    """When every provider of the run's backend is cooling down (``fresh``: the plan made
    again now), answer the agent's own 429 with ``Retry-After`` and the cooling line;
    ``False`` when some provider is usable (or the plan could not be made)."""
    if fresh is None or fresh.candidates:
        return False
    earliest = fresh.earliest
    available = earliest.available_at if earliest is not None else None
    name = (earliest.provider or earliest.backend) if earliest is not None else None
    message = cooling_line(plan.backend, name, available, now)
    headers: list[tuple[bytes, bytes]] = []
    if available is not None:
        headers.append((b"retry-after", str(max(1, int(available - now + 0.999))).encode()))
    ex.status, ex.error = 429, message
    body = error_body(ex.endpoint.error_format, 429, message, code="ALL_PROVIDERS_COOLING")
    await respond(send, 429, body, headers)
    return True
