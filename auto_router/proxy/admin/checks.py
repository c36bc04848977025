"""Calls to the providers themselves: health of all, ``test`` one, list one's ``models``.

Each is POST-only (a GET is what a page can make a browser send without a preflight), and
like every management endpoint needs the admin token. These use httpx (a one-off
``AsyncClient`` per call, imported on first use), never the proxy's data-path session, so a
slow provider check cannot hold up proxied traffic. Every check has a timeout, and the whole
batch a deadline.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Final

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ...config import ProviderConfig
from ._base import admin_endpoint, error_body, in_thread, ok, query_bool, query_float, services

if TYPE_CHECKING:
    from ...providers.health import HealthResult

DEFAULT_TIMEOUT: Final = 5.0
MAX_TIMEOUT: Final = 60.0
#: Checks in flight at once.
CONCURRENCY: Final = 16


async def check_all(providers: list[ProviderConfig], timeout: float) -> list[HealthResult]:
    """Check ``providers`` concurrently; none takes longer than ``timeout`` (plus slack)."""
    import httpx

    from ...providers.health import HealthResult, acheck_configured_provider

    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(provider: ProviderConfig, client: httpx.AsyncClient) -> HealthResult:
        async with gate:
            return await acheck_configured_provider(provider, client, timeout=timeout)

    async with httpx.AsyncClient() as client:
        tasks = [asyncio.create_task(one(p, client)) for p in providers]
        if not tasks:
            return []
        # Waiting for the semaphore counts too: allow for the batches, then cut off.
        rounds = -(-len(tasks) // CONCURRENCY)
        done, pending = await asyncio.wait(tasks, timeout=timeout * rounds + 1.0)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
    results = []
    for provider, task in zip(providers, tasks, strict=True):
        if task in done and task.exception() is None:
            results.append(task.result())
        else:
            error = "no answer in time" if task in pending else "check failed"
            results.append(HealthResult(provider.backend, provider.name, False, error=error))
    return results


def _timeout(request: Request) -> float:
    return query_float(request, "timeout", default=DEFAULT_TIMEOUT, maximum=MAX_TIMEOUT)


@admin_endpoint
async def providers_health(request: Request) -> Response:
    """``POST /v1/providers/health[?backend=&timeout=&all=]``: enabled providers unless all.

    POST, not GET: it makes a key-bearing call to every provider."""
    timeout = _timeout(request)
    backend = request.query_params.get("backend") or None
    everyone = bool(query_bool(request, "all"))
    config = services(request).config
    names = [backend] if backend else list(config.backends)
    providers = [
        p
        for name in names
        for p in config.providers_of(name)
        if everyone or (p.enabled and config.backends[name].enabled)
    ]
    results = await check_all(providers, timeout)
    return ok(
        {
            "healthy": all(r.healthy for r in results),
            "checked": len(results),
            "unhealthy": sum(1 for r in results if not r.healthy),
            "providers": [r.as_json() for r in results],
        }
    )


async def _check_one(request: Request) -> HealthResult:
    params = request.path_params
    provider = services(request).config.provider(params["backend"], params["provider"])
    (result,) = await check_all([provider], _timeout(request))
    return result


@admin_endpoint
async def test_provider(request: Request) -> Response:
    """``provider test``: 200 either way; ``healthy`` says how it went."""
    return ok((await _check_one(request)).as_json())


@admin_endpoint
async def provider_models(request: Request) -> Response:
    """``auto-router models B/P``: the provider's own model list (502 when it cannot tell)."""
    result = await _check_one(request)
    data: dict[str, Any] = {**result.as_json(), "model_ids": list(result.model_ids)}
    if result.healthy:
        return ok(data)
    body = error_body(
        502,
        "UPSTREAM_ERROR",
        f"{result.backend}/{result.provider}: {result.error}",
        "check the provider with POST /v1/providers/{backend}/{id}/test",
    )
    body["result"] = data
    return JSONResponse(body, status_code=502)


@admin_endpoint
async def list_templates(request: Request) -> Response:
    """``provider templates``: what ``POST /v1/providers`` accepts as ``template``."""

    def rows() -> list[dict[str, Any]]:
        from ...providers.templates import TEMPLATES
        from ...providers.views import template_as_json

        return [template_as_json(t) for t in TEMPLATES]

    return ok({"templates": await in_thread(rows)})
