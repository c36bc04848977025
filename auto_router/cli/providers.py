"""``auto-router provider list|show|add|edit|remove|enable|disable|rename|order|test|templates``;
``provider key add|remove`` is in provider_keys.py."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from ._common import Globals, JsonOption, emit, fail, globals_of, print_json
from ._refs import parse_assignments, parse_settings, resolve_ref, split_ref
from .provider_keys import key_app

if TYPE_CHECKING:
    from ..config import Config, ProviderConfig
    from ..editing import EditResult
    from ..providers.health import HealthResult

provider_app = typer.Typer(
    help="List, add, change, remove and test providers.", no_args_is_help=True
)
provider_app.add_typer(key_app, name="key")

BackendOption = Annotated[
    str | None, typer.Option("--backend", "-b", help="The backend (or write BACKEND/PROVIDER).")
]
Ref = Annotated[str, typer.Argument(metavar="BACKEND/PROVIDER", help="Which provider.")]
OptionalRef = Annotated[str | None, typer.Argument(metavar="BACKEND/PROVIDER")]
SetOption = Annotated[
    list[str] | None, typer.Option("--set", metavar="KEY=VALUE", help="A setting (repeatable).")
]
EnvOption = Annotated[
    list[str] | None,
    typer.Option("--env", metavar="NAME=VALUE", help="An exported variable (repeatable)."),
]


def _load(g: Globals) -> Config:
    from ..config import load_config

    return load_config(g.paths())


def _edited(g: Globals, result: EditResult, backend: str, provider: str) -> dict[str, Any]:
    """The provider as it is after an edit (for --json)."""
    return _row(result.config.provider(backend, provider), _current(g, result.config))


def _current(g: Globals, config: Config) -> dict[str, str | None]:
    rotator = g.rotator()
    return {name: rotator.current_provider_name(name) for name in config.backends}


def _row(provider: ProviderConfig, current: dict[str, str | None]) -> dict[str, Any]:
    from ..providers.views import provider_as_json

    data = provider_as_json(provider)
    data["current"] = current.get(provider.backend) == provider.name
    data["model"] = provider.model
    return data


def _serves(config: Config, provider: ProviderConfig) -> dict[str, Any]:
    """Which client protocols the proxy serves from ``provider``, natively or translated."""
    from ..providers.serves import serves

    translate = provider.translate
    if translate is None:
        translate = config.backend(provider.backend).translate
    native, translated = serves(
        provider.protocol, responses=provider.responses, translate=translate
    )
    return {"protocol": provider.protocol, "native": native, "translated": translated}


@provider_app.command("list")
def list_command(
    ctx: typer.Context,
    backend: BackendOption = None,
    enabled: Annotated[
        bool | None,
        typer.Option("--enabled/--disabled", help="Only enabled (or only disabled) providers."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """List providers in rotation order; * marks the current one. Secrets are masked."""
    g = globals_of(ctx)
    config = _load(g)
    names = [backend] if backend else list(config.backends)
    current = _current(g, config)
    rows = [
        _row(p, current)
        for name in names
        for p in config.providers_of(name)
        if enabled is None or p.enabled == enabled
    ]
    if as_json:
        print_json({"providers": rows})
        return
    if not rows:
        typer.echo("no providers" + (f" in backend {backend}" if backend else ""))
        return
    for row in rows:
        mark = "*" if row["current"] else " "
        state = "enabled" if row["enabled"] else "disabled"
        ref = f"{row['backend']}/{row['name']}"
        line = f"{mark} {ref:<32} {row['type']:<12} {state:<8} {row['base_url'] or '-'}"
        if row["description"]:
            line += f"  - {row['description']}"
        typer.echo(line)


@provider_app.command("show")
def show_command(
    ctx: typer.Context, ref: Ref, backend: BackendOption = None, as_json: JsonOption = False
) -> None:
    """Show one provider's settings (secrets masked; ${VAR} references as written)."""
    g = globals_of(ctx)
    config = _load(g)
    b, p = resolve_ref(config, ref, backend)
    provider = config.provider(b, p)
    row = _row(provider, _current(g, config))
    row["serves"] = _serves(config, provider)
    if as_json:
        print_json(row)
        return
    typer.echo(f"{b}/{p}" + ("  (current)" if row["current"] else ""))
    for key in ("description", "type", "enabled", "base_url"):
        if row[key] not in (None, ""):
            typer.echo(f"  {key} = {row[key]}")
    for key, value in {**row["settings"], **row["env"]}.items():
        typer.echo(f"  {key} = {value}")
    _echo_kind(provider, row["serves"])


def _echo_kind(provider: ProviderConfig, served: dict[str, Any]) -> None:
    """The provider's kind, what came from agent variables, and what the proxy serves."""
    from ..config.kinds import DESCRIPTION, derived_lines

    typer.echo(f"  kind: {DESCRIPTION[provider.kind]}")
    if provider.derived:
        typer.echo("  from agent variables: " + ", ".join(derived_lines(provider.derived)))
    if not provider.has_api:
        return
    typer.echo(f"  protocol: {served['protocol']}; serves {', '.join(served['native'])} natively")
    typer.echo(
        "  through translation: " + (", ".join(served["translated"]) or "none (translate = false)")
    )


@provider_app.command("add")
def add_command(
    ctx: typer.Context,
    ref: OptionalRef = None,
    backend: BackendOption = None,
    provider_id: Annotated[
        str | None, typer.Option("--id", help="The new provider's name.")
    ] = None,
    template: Annotated[
        str | None, typer.Option("--template", "-t", help="Start from a built-in template.")
    ] = None,
    settings: SetOption = None,
    env: EnvOption = None,
    description: Annotated[str | None, typer.Option("--description", "-d")] = None,
    position: Annotated[
        int | None, typer.Option("--position", help="Place in the rotation order (1 = first).")
    ] = None,
    create_backend: Annotated[
        bool, typer.Option("--create-backend", help="Create the backend if it does not exist.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Add a provider table and append it to its backend's rotation order."""
    from .. import editing

    g = globals_of(ctx)
    b, p = _new_ref(ref, backend, provider_id)
    result = editing.add_provider(
        g.paths(),
        b,
        p,
        parse_settings(settings or []),
        parse_assignments(env or [], "--env"),
        description=description,
        position=position,
        create_backend=create_backend,
        template=template,
    )
    order = [x.name for x in result.config.providers_of(b)]
    emit(
        as_json,
        {"added": True, "provider": _edited(g, result, b, p), "order": order},
        f"added {b}/{p} (order: {', '.join(order)})",
    )


@provider_app.command("edit")
def edit_command(
    ctx: typer.Context,
    ref: Ref,
    backend: BackendOption = None,
    settings: SetOption = None,
    unset: Annotated[
        list[str] | None, typer.Option("--unset", metavar="KEY", help="Remove a setting.")
    ] = None,
    env: EnvOption = None,
    unenv: Annotated[
        list[str] | None, typer.Option("--unenv", metavar="NAME", help="Remove a variable.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Change a provider's settings and exported variables; the rest of the file is kept."""
    from .. import editing

    g = globals_of(ctx)
    b, p = resolve_ref(_load(g), ref, backend)
    result = editing.edit_provider(
        g.paths(),
        b,
        p,
        set=parse_settings(settings or []),
        unset=unset or [],
        env=parse_assignments(env or [], "--env"),
        unenv=unenv or [],
    )
    emit(
        as_json,
        {"changed": bool(result.changed), "provider": _edited(g, result, b, p)},
        f"updated {b}/{p}" if result.changed else f"{b}/{p} unchanged",
    )


@provider_app.command("remove")
def remove_command(
    ctx: typer.Context, ref: Ref, backend: BackendOption = None, as_json: JsonOption = False
) -> None:
    """Remove a provider's table and its place in the rotation order."""
    from .. import editing

    g = globals_of(ctx)
    b, p = resolve_ref(_load(g), ref, backend)
    editing.remove_provider(g.paths(), b, p)
    emit(as_json, {"removed": True, "backend": b, "provider": p}, f"removed {b}/{p}")


def _set_enabled(
    ctx: typer.Context, ref: str, backend: str | None, enabled: bool, as_json: bool
) -> None:
    from .. import editing

    g = globals_of(ctx)
    b, p = resolve_ref(_load(g), ref, backend)
    result = editing.set_provider_enabled(g.paths(), b, p, enabled)
    word = "enabled" if enabled else "disabled"
    emit(as_json, {"provider": _edited(g, result, b, p)}, f"{word} {b}/{p}")


@provider_app.command("enable")
def enable_command(
    ctx: typer.Context, ref: Ref, backend: BackendOption = None, as_json: JsonOption = False
) -> None:
    """Take a provider back into rotation."""
    _set_enabled(ctx, ref, backend, True, as_json)


@provider_app.command("disable")
def disable_command(
    ctx: typer.Context, ref: Ref, backend: BackendOption = None, as_json: JsonOption = False
) -> None:
    """Keep a provider but skip it in rotation (enabled = false)."""
    _set_enabled(ctx, ref, backend, False, as_json)


@provider_app.command("rename")
def rename_command(
    ctx: typer.Context,
    ref: Ref,
    new_name: Annotated[str, typer.Argument(metavar="NEW_NAME")],
    backend: BackendOption = None,
    as_json: JsonOption = False,
) -> None:
    """Rename a provider: its table, its place in the order and its rotation state."""
    from .. import editing

    g = globals_of(ctx)
    b, p = resolve_ref(_load(g), ref, backend)
    result = editing.rename_provider(g.paths(), b, p, new_name, store=g.rotator().store)
    emit(
        as_json,
        {"renamed": f"{b}/{p}", "provider": _edited(g, result, b, new_name)},
        f"renamed {b}/{p} to {b}/{new_name}",
    )


@provider_app.command("order")
def order_command(
    ctx: typer.Context,
    backend: Annotated[str, typer.Argument(metavar="BACKEND", help="The backend.")],
    providers: Annotated[
        list[str], typer.Argument(metavar="PROVIDER", help="Its providers, first to last.")
    ],
    as_json: JsonOption = False,
) -> None:
    """Rewrite a backend's rotation order."""
    from .. import editing

    result = editing.set_provider_order(globals_of(ctx).paths(), backend, providers)
    order = [x.name for x in result.config.providers_of(backend)]
    emit(as_json, {"backend": backend, "order": order}, f"{backend}: {', '.join(order)}")


@provider_app.command("test")
def test_command(
    ctx: typer.Context,
    ref: OptionalRef = None,
    backend: BackendOption = None,
    test_all: Annotated[bool, typer.Option("--all", help="Test every enabled provider.")] = False,
    timeout: Annotated[float | None, typer.Option("--timeout", help="Seconds.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Call the provider's models endpoint. Exit 0 only when every tested one is healthy."""
    import httpx

    from ..providers.health import check_configured_provider

    config = _load(globals_of(ctx))
    targets = _test_targets(config, ref, backend, test_all)
    with httpx.Client() as client:
        results = [check_configured_provider(p, client, timeout=timeout) for p in targets]
    if as_json:
        print_json({"results": [r.as_json() for r in results]})
    else:
        for result in results:
            typer.echo(_health_line(result))
    if not all(r.healthy for r in results):
        raise typer.Exit(1)


@provider_app.command("templates")
def templates_command(as_json: JsonOption = False) -> None:
    """List the built-in provider templates (for `provider add --template`)."""
    from ..providers.templates import TEMPLATES
    from ..providers.views import template_as_json

    rows = [template_as_json(t) for t in TEMPLATES]
    if as_json:
        print_json({"templates": rows})
        return
    for row in rows:
        key = f"${{{row['key_env']}}}" if row["key_env"] else "(no key)"
        typer.echo(f"{row['name']:<13} {row['type']:<13} {row['base_url'] or '(give base_url)'}")
        typer.echo(f"{'':<13} key {key}, auth {row['auth']}. {row['summary']}")


def _new_ref(ref: str | None, backend: str | None, provider_id: str | None) -> tuple[str, str]:
    b, p = split_ref(ref, backend) if ref is not None else (backend, provider_id)
    if ref is not None and provider_id is not None and provider_id != p:
        fail(f"{ref!r} and --id {provider_id!r} disagree")
    if b is None or p is None:
        fail(
            "say which backend and provider",
            hint="auto-router provider add --backend qwen --id my-provider (or qwen/my-provider)",
        )
    return b, p


def _test_targets(
    config: Config, ref: str | None, backend: str | None, test_all: bool
) -> list[ProviderConfig]:
    if ref is not None:
        b, p = resolve_ref(config, ref, backend)
        return [config.provider(b, p)]
    if test_all or backend is not None:
        names = [backend] if backend else list(config.backends)
        return [p for name in names for p in config.enabled_providers_of(name)]
    fail("say which provider to test", hint="auto-router provider test BACKEND/PROVIDER, or --all")


def _health_line(result: HealthResult) -> str:
    ref = f"{result.backend}/{result.provider}"
    if result.healthy:
        return (
            f"healthy    {ref}  HTTP {result.status_code}  {result.latency_ms:.0f} ms  "
            f"{result.models} models"
        )
    parts = [f"unhealthy  {ref}"]
    if result.status_code is not None:
        parts.append(f"HTTP {result.status_code}")
    if result.latency_ms is not None:
        parts.append(f"{result.latency_ms:.0f} ms")
    parts.append(result.error or "unknown error")
    return "  ".join(parts)
