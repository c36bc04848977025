"""The live feed: one ``request`` event per proxied request, for the dashboard (issue 21).

Made in ``Recorder.finish`` only while some subscriber takes the kind
(``EventBus.feed_wanted``), so a proxy nobody watches pays one attribute read per request.
What goes in is what the request log's row shows on the page, and no more: the time, the
endpoint, who answered, the models, status, latency, tokens, cost and the failed attempts.
Never a body, a header, an error text from upstream or a credential (a pool key appears by
its salted id, as in ``GET /v1/requests``).
"""

from __future__ import annotations

from typing import Any

from ..config import Config
from ..providers.pricing import cost, prices_in
from ..rotation.events import REQUEST, Event
from .exchange import Exchange


def request_event(ex: Exchange, duration_ms: float, config: Config | None) -> Event:
    """The feed's event for ``ex``, which has just finished after ``duration_ms``."""
    prompt, completion, total = ex.usage
    prices = prices_in(config, ex.backend, ex.provider)
    detail: dict[str, Any] = {
        "endpoint": ex.endpoint.name,
        "method": ex.method,
        "stream": ex.stream,
        "status": ex.status,
        "client_model": ex.client_model,
        "upstream_model": ex.upstream_model,
        "duration_ms": round(duration_ms, 3),
        "ttfb_ms": None if ex.ttfb is None else round(ex.ttfb * 1000, 3),
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": total,
        "cost_usd": cost(prices, prompt, completion),
        "attempts": ex.attempts,
        "failed": [
            {"backend": f.backend, "provider": f.provider, "status": f.status} for f in ex.failed
        ],
        "key_id": ex.key_id,
        "run_id": ex.run[1].run_id if ex.run is not None else None,
    }
    where = f"{ex.backend or '-'}/{ex.provider or '-'}"
    message = f"{ex.endpoint.name} {ex.status} {where} {round(duration_ms)} ms"
    return Event(REQUEST, ex.backend or "", ex.provider, message, ex.ts, detail)
