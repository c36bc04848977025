"""``auto-router migrate``: import auto-coder, qwen-providers.toml and provider-router .env."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..migrate import Sources, apply_migration, plan_migration
from ._common import globals_of, print_json


def migrate_command(
    ctx: typer.Context,
    source_dir: Annotated[
        Path | None,
        typer.Option("--from", help="auto-coder's directory (default: ~/.auto-coder)."),
    ] = None,
    llm_config: Annotated[
        Path | None, typer.Option("--llm-config", help="A legacy llm_config.toml.")
    ] = None,
    provider_metadata: Annotated[
        Path | None, typer.Option("--provider-metadata", help="A legacy provider_metadata.toml.")
    ] = None,
    qwen_providers: Annotated[
        Path | None, typer.Option("--qwen-providers", help="A legacy qwen-providers.toml.")
    ] = None,
    env_file: Annotated[
        Path | None, typer.Option("--env-file", help="A provider-router .env file.")
    ] = None,
    env_backend: Annotated[
        str, typer.Option("--env-backend", help="Backend for the .env's providers.")
    ] = "qwen",
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the diff; write nothing.")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Replace existing files (kept as .bak).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Import the configuration of auto-coder and the Node provider router."""
    defaults = Sources.defaults(source_dir)
    sources = Sources(
        llm_config=llm_config or defaults.llm_config,
        provider_metadata=provider_metadata or defaults.provider_metadata,
        qwen_providers=qwen_providers or defaults.qwen_providers,
        env_file=env_file,
        env_backend=env_backend,
    )
    paths = globals_of(ctx).paths()
    plan = plan_migration(paths, sources)
    if as_json:
        print_json(
            {
                "imported": [str(p) for p in plan.imported],
                "notes": list(plan.notes),
                "changes": plan.changes,
                "dry_run": dry_run,
                "diff": plan.diff(paths),
            }
        )
    else:
        for path in plan.imported:
            typer.echo(f"reading {path}")
        for note in plan.notes:
            typer.echo(f"  {note}")
    if dry_run:
        if not as_json:
            typer.echo(plan.diff(paths) or "nothing would change", nl=False)
        return
    if not plan.changes:
        if not as_json:
            typer.echo("nothing to change")
        return
    result = apply_migration(paths, plan, force=force)
    if not as_json:
        for path in result.changed:
            typer.echo(f"wrote {path}")
        for warning in result.warnings:
            typer.echo(f"warning: {warning}", err=True)
