"""``auto-router provider key add|remove|disable|enable``: a provider's key pool (issues 19, 21).

Keys are shown by mask and id only. ``add`` takes ``${VAR}`` (kept as written, expanded when
used) or a literal key, which is then written to the file: it says so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from ._common import JsonOption, emit, globals_of
from ._refs import resolve_ref

if TYPE_CHECKING:
    from ..config.pools import PoolKey

key_app = typer.Typer(
    help="Add, remove, disable and enable the keys of a provider's key pool.", no_args_is_help=True
)

Ref = Annotated[str, typer.Argument(metavar="BACKEND/PROVIDER", help="Which provider.")]
BackendOption = Annotated[
    str | None, typer.Option("--backend", "-b", help="The backend (or write BACKEND/PROVIDER).")
]


def _listed(keys: tuple[PoolKey, ...]) -> list[dict[str, Any]]:
    return [
        {"index": k.index, "id": k.id, "masked": k.masked, "disabled": k.disabled} for k in keys
    ]


def _lines(keys: tuple[PoolKey, ...]) -> list[str]:
    return [
        f"  key {k.index}  {k.masked}"
        + (f"  id {k.id}" if k.id else "")
        + ("  disabled" * k.disabled)
        for k in keys
    ]


@key_app.command("add")
def add_command(
    ctx: typer.Context,
    ref: Ref,
    value: Annotated[str, typer.Argument(metavar="VALUE", help="${VAR} (better) or the key.")],
    backend: BackendOption = None,
    as_json: JsonOption = False,
) -> None:
    """Add a key to a provider's pool (a provider with api_key gets api_keys = [both])."""
    from .. import editing
    from ..config import load_config

    g = globals_of(ctx)
    b, p = resolve_ref(load_config(g.paths()), ref, backend)
    done = editing.add_key(g.paths(), b, p, value)
    if "${" not in value:
        typer.echo(
            f"warning: the key is written as it is to {g.paths().provider_metadata} (made 0600); "
            'prefer a variable: "${MY_KEY}"',
            err=True,
        )
    emit(
        as_json,
        {"added": True, "backend": b, "provider": p, "keys": _listed(done.keys)},
        f"added a key to {b}/{p} ({len(done.keys)} keys)",
        *_lines(done.keys),
    )


@key_app.command("remove")
def remove_command(
    ctx: typer.Context,
    ref: Ref,
    key: Annotated[str, typer.Argument(metavar="KEY", help="Its id, mask, ${VAR} or index.")],
    backend: BackendOption = None,
    as_json: JsonOption = False,
) -> None:
    """Remove a key from a provider's pool, by its id, mask, ${VAR} text or index (from 1)."""
    from .. import editing
    from ..config import load_config

    g = globals_of(ctx)
    b, p = resolve_ref(load_config(g.paths()), ref, backend)
    done = editing.remove_key(g.paths(), b, p, key)
    gone = done.removed
    emit(
        as_json,
        {
            "removed": _listed((gone,))[0] if gone else None,
            "backend": b,
            "provider": p,
            "keys": _listed(done.keys),
        },
        f"removed key {gone.index} ({gone.masked}) from {b}/{p}" if gone else "removed",
        *_lines(done.keys),
    )


def _set_enabled(
    ctx: typer.Context, ref: str, key: str, backend: str | None, on: bool, as_json: bool
) -> None:
    from .. import editing
    from ..config import load_config

    g = globals_of(ctx)
    b, p = resolve_ref(load_config(g.paths()), ref, backend)
    done = editing.set_key_enabled(g.paths(), b, p, key, on)
    word = "enabled" if on else "disabled"
    changed = bool(done.result.changed)
    emit(
        as_json,
        {word: changed, "backend": b, "provider": p, "keys": _listed(done.keys)},
        f"{word} the key of {b}/{p}" if changed else f"the key of {b}/{p} was already {word}",
        *_lines(done.keys),
    )


KeyArgument = Annotated[str, typer.Argument(metavar="KEY", help="Its id, mask, ${VAR} or index.")]


@key_app.command("disable")
def disable_command(
    ctx: typer.Context,
    ref: Ref,
    key: KeyArgument,
    backend: BackendOption = None,
    as_json: JsonOption = False,
) -> None:
    """Keep a key in the file but out of rotation (disabled_keys); not the last enabled one."""
    _set_enabled(ctx, ref, key, backend, False, as_json)


@key_app.command("enable")
def enable_command(
    ctx: typer.Context,
    ref: Ref,
    key: KeyArgument,
    backend: BackendOption = None,
    as_json: JsonOption = False,
) -> None:
    """Put a disabled key back in rotation."""
    _set_enabled(ctx, ref, key, backend, True, as_json)
