"""``/v1/backends``: list, show, add, edit, remove, enable/disable, order, default; and the
rotation state: ``rotate`` and ``reset`` (what ``auto-router rotate|reset`` do)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from ...providers.views import backend_as_json
from ...rotation.service import Rotator
from ._base import (
    Body,
    admin_endpoint,
    config_paths,
    edited,
    editing_module,
    in_thread,
    invalid,
    ok,
    query_bool,
    services,
)
from .providers import provider_rows

if TYPE_CHECKING:
    from ...editing import EditResult


def backend_rows(rotator: Rotator) -> dict[str, Any]:
    """``backend list --json``, plus each backend's current provider. Blocking."""
    config = rotator.config
    status = {b.name: b for b in rotator.status()}
    rows = []
    for backend in config.backends.values():
        row = backend_as_json(config, backend)
        found = status.get(backend.name)
        row["current"] = found.current if found else None
        row["last_used"] = found.last_used if found else None
        rows.append(row)
    return {"default": config.default_backend, "order": list(config.order), "backends": rows}


def backend_detail(rotator: Rotator, name: str) -> dict[str, Any]:
    rotator.config.backend(name)
    rows: list[dict[str, Any]] = backend_rows(rotator)["backends"]
    row = next(r for r in rows if r["name"] == name)
    row["provider_details"] = provider_rows(rotator, name)
    return row


def _name(request: Request) -> str:
    name: str = request.path_params["backend"]
    return name


async def _detail(request: Request, name: str) -> dict[str, Any]:
    return await in_thread(backend_detail, services(request).rotator, name)


@admin_endpoint
async def list_backends(request: Request) -> Response:
    return ok(await in_thread(backend_rows, services(request).rotator))


@admin_endpoint
async def show_backend(request: Request) -> Response:
    return ok(await _detail(request, _name(request)))


@admin_endpoint
async def add_backend(request: Request) -> Response:
    paths = config_paths(request)
    body = await Body.read(request)
    name = body.string("name")
    settings = body.mapping("settings")
    providers = body.names("providers") if body.has("providers") else None
    make_default = body.flag("default")
    add_to_order = body.flag("add_to_order", default=True)
    body.done()
    await in_thread(
        editing_module().add_backend,
        paths,
        name,
        settings,
        providers=providers,
        make_default=make_default,
        add_to_order=add_to_order,
    )
    edited(request)
    return ok(await _detail(request, name), 201, {"location": f"/v1/backends/{name}"})


@admin_endpoint
async def edit_backend(request: Request) -> Response:
    paths = config_paths(request)
    name = _name(request)
    body = await Body.read(request)
    settings = body.mapping("set")
    unset = body.names("unset")
    body.done()
    if not (settings or unset):
        raise invalid("nothing to change", hint='give "set" or "unset"')
    result: EditResult = await in_thread(
        editing_module().edit_backend, paths, name, set=settings, unset=unset
    )
    edited(request)
    return ok({"backend": await _detail(request, name), "changed": bool(result.changed)})


@admin_endpoint
async def remove_backend(request: Request) -> Response:
    paths = config_paths(request)
    name = _name(request)
    with_providers = bool(query_bool(request, "with_providers"))
    await in_thread(editing_module().remove_backend, paths, name, remove_providers=with_providers)
    edited(request)
    return ok({"deleted": name})


async def _set_enabled(request: Request, enabled: bool) -> Response:
    paths = config_paths(request)
    name = _name(request)
    result: EditResult = await in_thread(editing_module().set_backend_enabled, paths, name, enabled)
    edited(request)
    return ok({"backend": await _detail(request, name), "changed": bool(result.changed)})


@admin_endpoint
async def enable_backend(request: Request) -> Response:
    return await _set_enabled(request, True)


@admin_endpoint
async def disable_backend(request: Request) -> Response:
    return await _set_enabled(request, False)


@admin_endpoint
async def set_order(request: Request) -> Response:
    """``backend order``: rewrite ``[message_backend].order``."""
    paths = config_paths(request)
    body = await Body.read(request)
    names = body.names("order", required=True)
    body.done()
    result: EditResult = await in_thread(editing_module().set_backend_order, paths, names)
    edited(request)
    return ok({"order": list(result.config.order), "changed": bool(result.changed)})


@admin_endpoint
async def set_default(request: Request) -> Response:
    """``backend default``: set ``[message_backend].default``."""
    paths = config_paths(request)
    body = await Body.read(request)
    name = body.string("backend")
    body.done()
    result: EditResult = await in_thread(editing_module().set_default_backend, paths, name)
    edited(request)
    return ok({"default": result.config.default_backend, "changed": bool(result.changed)})


@admin_endpoint
async def set_provider_order(request: Request) -> Response:
    """``provider order``: rewrite the backend's ``providers`` list."""
    paths = config_paths(request)
    name = _name(request)
    body = await Body.read(request)
    names = body.names("providers", required=True)
    body.done()
    result: EditResult = await in_thread(editing_module().set_provider_order, paths, name, names)
    edited(request)
    order = [p.name for p in result.config.providers_of(name)]
    return ok({"backend": name, "providers": order, "changed": bool(result.changed)})


# ------------------------------------------------------------------------- rotation state


def _rotate(rotator: Rotator, name: str) -> dict[str, Any]:
    previous = rotator.current_provider_name(name)
    moved = rotator.advance(name)
    current = rotator.current_provider_name(name)
    return {"backend": name, "rotated": moved, "previous": previous, "current": current}


def _reset(rotator: Rotator, name: str | None) -> dict[str, Any]:
    rotator.reset(name)
    names = [name] if name else list(rotator.config.backends)
    return {"reset": name or "all", "current": {n: rotator.current_provider_name(n) for n in names}}


@admin_endpoint
async def rotate_backend(request: Request) -> Response:
    """``auto-router rotate B``: move to the next usable provider now."""
    return ok(await in_thread(_rotate, services(request).rotator, _name(request)))


@admin_endpoint
async def reset_backend(request: Request) -> Response:
    """``auto-router reset B``: back to the first provider, cooldowns cleared."""
    return ok(await in_thread(_reset, services(request).rotator, _name(request)))


@admin_endpoint
async def reset_all(request: Request) -> Response:
    """``auto-router reset``: every backend."""
    return ok(await in_thread(_reset, services(request).rotator, None))
