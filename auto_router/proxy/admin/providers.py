"""``/v1/providers``: list, show, add, edit, remove, enable/disable, rename, raw config, reload.

Every change goes through ``auto_router.editing`` (comments kept, validated, locked, atomic
write), exactly as ``auto-router provider ...`` does, and the rows have the shape of
``auto-router provider list --json`` (plus the rotation status).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from ...config import ProviderConfig
from ...errors import AutoRouterError
from ...providers.views import masked_table, provider_as_json
from ...rotation.pools import KeyStatus
from ...rotation.service import ProviderStatus, Rotator, status_label
from ._base import (
    ApiError,
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

if TYPE_CHECKING:
    from ...editing import EditResult


def provider_row(provider: ProviderConfig, status: ProviderStatus | None) -> dict[str, Any]:
    """``provider list --json``'s row, plus where the provider stands in rotation."""
    data = provider_as_json(provider)
    current = status is not None and status.current
    cooldown = None if status is None else status.cooldown_until
    data["current"] = current
    data["model"] = provider.model
    data["status"] = status_label(provider.enabled, current, cooldown)
    data["cooldown_until"] = cooldown
    data["last_error"] = status.state.last_error if status and status.cooling else None
    data["circuit"] = "closed" if status is None else status.circuit
    data["circuit_until"] = None if status is None else status.circuit_until
    if status is not None and status.keys:  # a key pool: each key by mask and id
        data["keys"] = [
            {
                "index": k.index,
                "id": k.id,
                "masked": k.masked,
                "current": k.current,
                "status": _key_label(k),
                "disabled": k.disabled,
                "cooldown_until": k.cooldown_until,
                "circuit": k.circuit,
                "problem": k.problem,
            }
            for k in status.keys
        ]
    return data


def _key_label(key: KeyStatus) -> str:
    if key.disabled:
        return "disabled"
    return "unusable" if key.problem else status_label(True, key.current, key.cooldown_until)


def provider_rows(rotator: Rotator, backend: str | None = None) -> list[dict[str, Any]]:
    """Rows of every provider (of ``backend``), in rotation order. Blocking: SQLite reads."""
    config = rotator.config
    names = [backend] if backend else list(config.backends)
    for name in names:
        config.backend(name)
    states = {(b.name, p.name): p for b in rotator.status() for p in b.providers}
    return [
        provider_row(p, states.get((name, p.name)))
        for name in names
        for p in config.providers_of(name)
    ]


def one_row(rotator: Rotator, backend: str, provider: str) -> dict[str, Any]:
    rotator.config.provider(backend, provider)
    for row in provider_rows(rotator, backend):
        if row["name"] == provider:
            return row
    raise AssertionError("unreachable: the provider exists")  # pragma: no cover


async def _row(request: Request, backend: str, provider: str) -> dict[str, Any]:
    return await in_thread(one_row, services(request).rotator, backend, provider)


def _ref(request: Request) -> tuple[str, str]:
    params = request.path_params
    return params["backend"], params["provider"]


# ------------------------------------------------------------------------- reading


@admin_endpoint
async def list_providers(request: Request) -> Response:
    query = request.query_params
    backend = query.get("backend") or None
    kind = query.get("type") or None
    enabled = query_bool(request, "enabled")
    rows = await in_thread(provider_rows, services(request).rotator, backend)
    rows = [
        r
        for r in rows
        if (kind is None or r["type"] == kind) and (enabled is None or r["enabled"] == enabled)
    ]
    return ok({"providers": rows})


@admin_endpoint
async def show_provider(request: Request) -> Response:
    return ok(await _row(request, *_ref(request)))


# ------------------------------------------------------------------------- changing


@admin_endpoint
async def add_provider(request: Request) -> Response:
    paths = config_paths(request)
    body = await Body.read(request)
    backend = body.string("backend")
    provider = body.string("id")
    template = body.opt_string("template")
    settings = body.mapping("settings")
    env = body.string_map("env")
    description = body.opt_string("description")
    position = body.opt_int("position")
    create_backend = body.flag("create_backend")
    body.done()
    result: EditResult = await in_thread(
        editing_module().add_provider,
        paths,
        backend,
        provider,
        settings,
        env,
        description=description,
        position=position,
        create_backend=create_backend,
        template=template,
    )
    edited(request)
    order = [p.name for p in result.config.providers_of(backend)]
    row = await _row(request, backend, provider)
    location = f"/v1/providers/{backend}/{provider}"
    return ok({"provider": row, "order": order}, 201, {"location": location})


@admin_endpoint
async def edit_provider(request: Request) -> Response:
    """Like ``provider edit``: ``set`` / ``unset`` settings, ``env`` / ``unenv`` variables."""
    paths = config_paths(request)
    backend, provider = _ref(request)
    body = await Body.read(request)
    settings = body.mapping("set")
    unset = body.names("unset")
    env = body.string_map("env")
    unenv = body.names("unenv")
    body.done()
    if not (settings or unset or env or unenv):
        raise invalid("nothing to change", hint='give "set", "unset", "env" or "unenv"')
    _no_nulls(settings)
    result: EditResult = await in_thread(
        editing_module().edit_provider,
        paths,
        backend,
        provider,
        set=settings,
        unset=unset,
        env=env,
        unenv=unenv,
    )
    edited(request)
    return ok({"provider": await _row(request, backend, provider), "changed": bool(result.changed)})


@admin_endpoint
async def remove_provider(request: Request) -> Response:
    paths = config_paths(request)
    backend, provider = _ref(request)
    result: EditResult = await in_thread(editing_module().remove_provider, paths, backend, provider)
    edited(request)
    order = (
        [p.name for p in result.config.providers_of(backend)]
        if backend in result.config.backends
        else []
    )
    return ok({"deleted": f"{backend}/{provider}", "order": order})


@admin_endpoint
async def reset_key(request: Request) -> Response:
    """One key of a pool back in rotation now (its cooldown and circuit cleared)."""
    backend, provider = _ref(request)
    rotator = services(request).rotator
    await in_thread(rotator.reset_key, backend, provider, request.path_params["key"])
    return ok(await _row(request, backend, provider))


async def _set_key_enabled(request: Request, enabled: bool) -> Response:
    """A pool key in or out of ``disabled_keys``: an edit of the file, as ``provider key
    disable|enable`` makes it."""
    paths = config_paths(request)
    backend, provider = _ref(request)
    key = request.path_params["key"]
    done = await in_thread(editing_module().set_key_enabled, paths, backend, provider, key, enabled)
    edited(request)
    changed = bool(done.result.changed)
    return ok({"provider": await _row(request, backend, provider), "changed": changed})


@admin_endpoint
async def enable_key(request: Request) -> Response:
    return await _set_key_enabled(request, True)


@admin_endpoint
async def disable_key(request: Request) -> Response:
    return await _set_key_enabled(request, False)


async def _set_enabled(request: Request, enabled: bool) -> Response:
    paths = config_paths(request)
    backend, provider = _ref(request)
    result: EditResult = await in_thread(
        editing_module().set_provider_enabled, paths, backend, provider, enabled
    )
    edited(request)
    return ok({"provider": await _row(request, backend, provider), "changed": bool(result.changed)})


@admin_endpoint
async def enable_provider(request: Request) -> Response:
    return await _set_enabled(request, True)


@admin_endpoint
async def disable_provider(request: Request) -> Response:
    return await _set_enabled(request, False)


@admin_endpoint
async def rename_provider(request: Request) -> Response:
    paths = config_paths(request)
    backend, provider = _ref(request)
    body = await Body.read(request)
    new = body.string("id")
    body.done()
    store = services(request).rotator.store
    await in_thread(editing_module().rename_provider, paths, backend, provider, new, store=store)
    edited(request)
    row = await _row(request, backend, new)
    return ok({"provider": row, "renamed_from": f"{backend}/{provider}"})


# ------------------------------------------------------------------------- raw table


def _etag(digest: str) -> str:
    return f'"{digest}"'


@admin_endpoint
async def get_config(request: Request) -> Response:
    """The provider's table as written, secrets masked; ``ETag`` for a later ``If-Match``."""
    paths = config_paths(request)
    backend, provider = _ref(request)
    editing = editing_module()
    table = await in_thread(editing.read_provider_table, paths, backend, provider)
    return ok(masked_table(table), headers={"etag": _etag(editing.table_digest(table))})


@admin_endpoint
async def put_config(request: Request) -> Response:
    """Replace the whole table (keys left out are removed). Masked values sent back as they
    were read keep the real value; ``If-Match`` refuses the write if the table changed."""
    paths = config_paths(request)
    backend, provider = _ref(request)
    body = await Body.read(request)
    values = body.everything()
    _no_nulls(values)
    expected = _if_match(request)
    editing = editing_module()
    await in_thread(
        editing.replace_provider,
        paths,
        backend,
        provider,
        values,
        expected=expected,
        keep_masked=True,
    )
    edited(request)
    table = await in_thread(editing.read_provider_table, paths, backend, provider)
    return ok(masked_table(table), headers={"etag": _etag(editing.table_digest(table))})


def _if_match(request: Request) -> str | None:
    value = request.headers.get("if-match")
    if value is None or value.strip() == "*":
        return None
    return value.strip().removeprefix("W/").strip('"')


def _no_nulls(values: dict[str, Any], prefix: str = "") -> None:
    for key, value in values.items():
        if value is None:
            raise invalid(
                f"{prefix}{key} is null, and TOML has no null",
                hint='leave the key out (or list it in "unset") to remove it',
            )
        if isinstance(value, dict):
            _no_nulls(value, f"{prefix}{key}.")


# ------------------------------------------------------------------------- reload


@admin_endpoint
async def reload_config(request: Request) -> Response:
    """Re-read both files now (hand edits are also picked up by themselves, by mtime)."""
    found = services(request)
    found.rotator.invalidate_config()
    snapshot = found.router.snapshot()
    error = found.router.reload_error
    if error is not None:
        code = error.code if isinstance(error, AutoRouterError) else "CONFIG_ERROR"
        raise ApiError(
            409,
            code,
            str(error),
            hint="fix the file; the previous configuration stays in force until then",
        )
    config = snapshot.config
    data: dict[str, Any] = {
        "reloaded": True,
        "config_version": snapshot.version,
        "backends": list(config.backends),
        "providers": sum(len(t) for t in config.providers.values()),
        "warnings": [str(w) for w in config.warnings],
    }
    if "provider" in request.path_params:
        data["provider"] = await _row(request, *_ref(request))
    return ok(data)
