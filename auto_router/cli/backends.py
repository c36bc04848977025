"""``auto-router backend list|show|add|edit|remove|enable|disable|order|default``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from ._common import JsonOption, emit, globals_of, print_json
from ._refs import parse_settings

if TYPE_CHECKING:
    from ..editing import EditResult

backend_app = typer.Typer(help="List, add, change and order backends.", no_args_is_help=True)

Name = Annotated[str, typer.Argument(metavar="BACKEND")]
SetOption = Annotated[
    list[str] | None, typer.Option("--set", metavar="KEY=VALUE", help="A setting (repeatable).")
]


def _backend(result: EditResult, name: str) -> dict[str, Any]:
    from ..providers.views import backend_as_json

    return backend_as_json(result.config, result.config.backend(name))


@backend_app.command("list")
def list_command(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List backends with their providers; the fallback order and default are marked."""
    from ..config import load_config
    from ..providers.views import backend_as_json

    config = load_config(globals_of(ctx).paths())
    rows = [backend_as_json(config, b) for b in config.backends.values()]
    if as_json:
        print_json(
            {"default": config.default_backend, "order": list(config.order), "backends": rows}
        )
        return
    if not rows:
        typer.echo("no backends configured")
        return
    for row in rows:
        tags = [t for t in ("default",) if row["default"]]
        if not row["enabled"]:
            tags.append("disabled")
        if not row["in_order"]:
            tags.append("not in order")
        label = row["name"] + (f" ({', '.join(tags)})" if tags else "")
        typer.echo(f"{label:<36} {', '.join(row['providers']) or '(no providers)'}")
    typer.echo(f"order: {', '.join(config.order) or '-'}")


@backend_app.command("show")
def show_command(ctx: typer.Context, name: Name, as_json: JsonOption = False) -> None:
    """Show one backend and its providers (secrets masked)."""
    from ..config import load_config
    from ..providers.views import backend_as_json, provider_as_json

    config = load_config(globals_of(ctx).paths())
    row = backend_as_json(config, config.backend(name))
    row["provider_details"] = [provider_as_json(p) for p in config.providers_of(name)]
    if as_json:
        print_json(row)
        return
    for key in ("name", "enabled", "default", "model", "agent", "cooldown", "description"):
        if row[key] not in (None, ""):
            typer.echo(f"{key:<12} {row[key]}")
    typer.echo("providers:")
    for p in row["provider_details"]:
        state = "" if p["enabled"] else " (disabled)"
        typer.echo(f"  {p['name']:<28} {p['type']:<12} {p['base_url'] or '-'}{state}")


@backend_app.command("add")
def add_command(
    ctx: typer.Context,
    name: Name,
    settings: SetOption = None,
    providers: Annotated[
        str | None, typer.Option("--providers", help="Comma-separated rotation order.")
    ] = None,
    make_default: Annotated[bool, typer.Option("--default", help="Make it the default.")] = False,
    no_order: Annotated[
        bool, typer.Option("--no-order", help="Do not add it to the fallback order.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Add a [backends.NAME] table (and put it in the fallback order)."""
    from .. import editing

    names = [p.strip() for p in providers.split(",") if p.strip()] if providers else None
    result = editing.add_backend(
        globals_of(ctx).paths(),
        name,
        parse_settings(settings or []),
        providers=names,
        make_default=make_default,
        add_to_order=not no_order,
    )
    emit(as_json, {"added": True, "backend": _backend(result, name)}, f"added backend {name}")


@backend_app.command("edit")
def edit_command(
    ctx: typer.Context,
    name: Name,
    settings: SetOption = None,
    unset: Annotated[
        list[str] | None, typer.Option("--unset", metavar="KEY", help="Remove a setting.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Change a backend's settings; the rest of the file is kept as it is."""
    from .. import editing

    result = editing.edit_backend(
        globals_of(ctx).paths(), name, set=parse_settings(settings or []), unset=unset or []
    )
    emit(
        as_json,
        {"changed": bool(result.changed), "backend": _backend(result, name)},
        f"updated backend {name}" if result.changed else f"backend {name} unchanged",
    )


@backend_app.command("remove")
def remove_command(
    ctx: typer.Context,
    name: Name,
    with_providers: Annotated[
        bool, typer.Option("--with-providers", help="Also delete its provider tables.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Remove a backend (from the fallback order too)."""
    from .. import editing

    editing.remove_backend(globals_of(ctx).paths(), name, remove_providers=with_providers)
    emit(as_json, {"removed": True, "backend": name}, f"removed backend {name}")


def _set_enabled(ctx: typer.Context, name: str, enabled: bool, as_json: bool) -> None:
    from .. import editing

    result = editing.set_backend_enabled(globals_of(ctx).paths(), name, enabled)
    word = "enabled" if enabled else "disabled"
    emit(as_json, {"backend": _backend(result, name)}, f"{word} backend {name}")


@backend_app.command("enable")
def enable_command(ctx: typer.Context, name: Name, as_json: JsonOption = False) -> None:
    """Use the backend again."""
    _set_enabled(ctx, name, True, as_json)


@backend_app.command("disable")
def disable_command(ctx: typer.Context, name: Name, as_json: JsonOption = False) -> None:
    """Skip the backend (enabled = false)."""
    _set_enabled(ctx, name, False, as_json)


@backend_app.command("order")
def order_command(
    ctx: typer.Context,
    names: Annotated[list[str], typer.Argument(metavar="BACKEND", help="First to last.")],
    as_json: JsonOption = False,
) -> None:
    """Rewrite [message_backend].order: which backend to fall back to, in turn."""
    from .. import editing

    order = list(editing.set_backend_order(globals_of(ctx).paths(), names).config.order)
    emit(as_json, {"order": order}, f"order: {', '.join(order)}")


@backend_app.command("default")
def default_command(ctx: typer.Context, name: Name, as_json: JsonOption = False) -> None:
    """Set [message_backend].default: the backend used when none is named."""
    from .. import editing

    editing.set_default_backend(globals_of(ctx).paths(), name)
    emit(as_json, {"default": name}, f"default backend: {name}")
