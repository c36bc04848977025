"""``auto-router config path|init|validate|show``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from ._common import JsonOption, emit, globals_of, print_json

if TYPE_CHECKING:
    from ..config import Config

config_app = typer.Typer(help="Where the configuration lives; create, check and show it.")


@config_app.command("path")
def path_command(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Print where the configuration files and the state database are."""
    paths = globals_of(ctx).paths()
    rows = {
        "config_dir": paths.config_dir,
        "llm_config": paths.llm_config,
        "provider_metadata": paths.provider_metadata,
        "data_dir": paths.data_dir,
        "database": paths.database,
    }
    if as_json:
        print_json({k: str(v) for k, v in rows.items()})
        return
    for key, value in rows.items():
        exists = "" if value.exists() else "  (not created yet)"
        typer.echo(f"{key:<18} {value}{exists}")


@config_app.command("init")
def init_command(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Write commented starter files (never overwrites an existing file)."""
    from ..config.starter import init_config

    written, kept = init_config(globals_of(ctx).paths())
    emit(
        as_json,
        {"written": [str(p) for p in written], "kept": [str(p) for p in kept]},
        *(f"wrote {path}" for path in written),
        *(f"kept {path} (already exists)" for path in kept),
    )


@config_app.command("validate")
def validate_command(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Check both files; list every problem with file, line and key. Exit 78 when invalid."""
    from ..config import load_config, parse_proxy_settings
    from ..errors import ConfigError

    paths = globals_of(ctx).paths()
    try:
        config = load_config(paths)
        parse_proxy_settings(config)  # the tokens' ${VAR}s, as the proxy would expand them
    except ConfigError as exc:
        problems = [str(p) for p in exc.problems] or [str(exc)]
        if as_json:
            print_json({"valid": False, "errors": problems, "warnings": []})
        else:
            for problem in problems:
                typer.echo(f"error: {problem}", err=True)
        raise typer.Exit(exc.exit_code) from None
    warnings = [str(w) for w in config.warnings]
    if as_json:
        kinds = {p.key: p.kind for table in config.providers.values() for p in table.values()}
        print_json({"valid": True, "errors": [], "warnings": warnings, "kinds": kinds})
        return
    for warning in warnings:
        typer.echo(f"warning: {warning}", err=True)
    found = ", ".join(str(p) for p in config.files_found) or "no files (empty configuration)"
    typer.echo(f"ok: {found}")
    for line in provider_kind_lines(config):
        typer.echo(line)


def provider_kind_lines(config: Config) -> list[str]:
    """One line per provider: its kind, and what came from which agent variable."""
    from ..config.kinds import DESCRIPTION, derived_lines

    lines = []
    for table in config.providers.values():
        for p in table.values():
            line = f"  {p.key}: {DESCRIPTION[p.kind]}"
            if p.derived:
                line += f", type {p.type}: " + ", ".join(derived_lines(p.derived))
            lines.append(line)
    return lines


@config_app.command("show")
def show_command(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Show the configuration as auto-router understands it. Secrets are masked."""
    from ..config import load_config
    from ..providers.views import config_as_json

    config = load_config(globals_of(ctx).paths())
    data = config_as_json(config)
    if as_json:
        print_json(data)
        return
    typer.echo(f"default backend: {config.default_backend or '-'}")
    typer.echo(f"order: {', '.join(config.order) or '-'}")
    for backend in data["backends"]:
        typer.echo(f"\n[{backend['name']}] enabled={backend['enabled']} model={backend['model']}")
        for provider in backend["providers"]:
            typer.echo(
                f"  {provider['name']}: type={provider['type']} "
                f"enabled={provider['enabled']} base_url={provider['base_url']}"
            )
            for key, value in provider["settings"].items():
                typer.echo(f"    {key} = {value}")
            for key, value in provider["env"].items():
                typer.echo(f"    {key} = {value}")
