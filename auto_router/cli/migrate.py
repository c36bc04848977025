"""``auto-router migrate``: import auto-coder, qwen-providers.toml, a provider-router .env,
claude-code-router's config.json and cc-switch's providers."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperCommand

from ._common import JsonOption, globals_of, print_json

#: What an option given without a path stands for: that tool's default file.
_DEFAULT = "\0default"

if TYPE_CHECKING:
    from ..migrate import Plan, Sources
    from ..paths import Paths


class MigrateCommand(TyperCommand):
    """``--claude-code-router`` and ``--cc-switch`` take an optional path: given alone (last,
    or before another option) they mean that tool's default file. typer has no optional
    option values (it drops click's ``flag_value``), so the command line is completed here."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        completed: list[str] = []
        for index, arg in enumerate(args):
            completed.append(arg)
            following = args[index + 1] if index + 1 < len(args) else None
            if arg in _OPTIONAL_PATHS and (following is None or following.startswith("-")):
                completed.append(_DEFAULT)
        return super().parse_args(ctx, completed)


_OPTIONAL_PATHS = frozenset({"--claude-code-router", "--cc-switch"})


_From = Annotated[
    Path | None, typer.Option("--from", help="auto-coder's directory (default: ~/.auto-coder).")
]
_LlmConfig = Annotated[Path | None, typer.Option("--llm-config", help="A legacy llm_config.toml.")]
_Metadata = Annotated[
    Path | None, typer.Option("--provider-metadata", help="A legacy provider_metadata.toml.")
]
_Qwen = Annotated[
    Path | None, typer.Option("--qwen-providers", help="A legacy qwen-providers.toml.")
]
_EnvFile = Annotated[Path | None, typer.Option("--env-file", help="A provider-router .env file.")]
_EnvBackend = Annotated[
    str, typer.Option("--env-backend", help="Backend for the .env's providers.")
]
_Ccr = Annotated[
    str | None,
    typer.Option(
        "--claude-code-router",
        metavar="[PATH]",
        help="claude-code-router's config.json (default: ~/.claude-code-router/config.json).",
    ),
]
_CcrBackend = Annotated[
    str, typer.Option("--ccr-backend", help="Backend for claude-code-router's providers.")
]
_CcSwitch = Annotated[
    str | None,
    typer.Option(
        "--cc-switch",
        metavar="[PATH]",
        help="cc-switch's cc-switch.db or config.json (default: the one in ~/.cc-switch).",
    ),
]
_DryRun = Annotated[bool, typer.Option("--dry-run", help="Show the diff; write nothing.")]
_Force = Annotated[bool, typer.Option("--force", help="Replace existing files (kept as .bak).")]


def migrate_command(
    ctx: typer.Context,
    source_dir: _From = None,
    llm_config: _LlmConfig = None,
    provider_metadata: _Metadata = None,
    qwen_providers: _Qwen = None,
    env_file: _EnvFile = None,
    env_backend: _EnvBackend = "qwen",
    claude_code_router: _Ccr = None,
    ccr_backend: _CcrBackend = "claude",
    cc_switch: _CcSwitch = None,
    dry_run: _DryRun = False,
    force: _Force = False,
    as_json: JsonOption = False,
) -> None:
    """Import the configuration of auto-coder, the Node provider router, claude-code-router
    or cc-switch. auto-coder's files replace the configuration (--force); the providers of
    claude-code-router and cc-switch are added to it."""
    from ..migrate import apply_migration, plan_migration

    paths = globals_of(ctx).paths()
    others = claude_code_router is not None or cc_switch is not None
    legacy = (source_dir, llm_config, provider_metadata, qwen_providers, env_file)
    sources = _sources(*legacy) if not others or any(legacy) else _no_legacy()
    sources = replace(
        sources,
        env_backend=env_backend,
        claude_code_router=_ccr_path(claude_code_router),
        ccr_backend=ccr_backend,
        cc_switch=_cc_switch_path(cc_switch),
    )
    plan = plan_migration(paths, sources)
    written: list[str] = []
    warnings: list[str] = []
    if plan.changes and not dry_run:
        result = apply_migration(paths, plan, force=force)
        written = [str(changed) for changed in result.changed]
        warnings = [str(warning) for warning in result.warnings]
    if as_json:
        print_json(
            {
                "imported": [str(p) for p in plan.imported],
                "notes": list(plan.notes),
                "changes": plan.changes,
                "dry_run": dry_run,
                "diff": plan.diff(paths),
                "written": written,
                "warnings": warnings,
            }
        )
        return
    _echo(plan, paths, dry_run, written, warnings)


def _ccr_path(value: str | None) -> Path | None:
    from ..migrate.claude_code_router import DEFAULT_PATH

    if value is None:
        return None
    return DEFAULT_PATH.expanduser() if value == _DEFAULT else Path(value)


def _cc_switch_path(value: str | None) -> Path | None:
    from ..migrate.cc_switch import default_source

    if value is None:
        return None
    return default_source() if value == _DEFAULT else Path(value)


def _no_legacy() -> Sources:
    from ..migrate import Sources

    return Sources()


def _sources(
    source_dir: Path | None,
    llm_config: Path | None,
    provider_metadata: Path | None,
    qwen_providers: Path | None,
    env_file: Path | None,
) -> Sources:
    """The files named on the command line, else auto-coder's in ``--from`` (or ~/.auto-coder)."""
    from ..migrate import Sources

    defaults = Sources.defaults(source_dir)
    return Sources(
        llm_config=llm_config or defaults.llm_config,
        provider_metadata=provider_metadata or defaults.provider_metadata,
        qwen_providers=qwen_providers or defaults.qwen_providers,
        env_file=env_file,
    )


def _echo(plan: Plan, paths: Paths, dry_run: bool, written: list[str], warnings: list[str]) -> None:
    for source in plan.imported:
        typer.echo(f"reading {source}")
    for note in plan.notes:
        typer.echo(f"  {note}")
    if dry_run:
        typer.echo(plan.diff(paths) or "nothing would change", nl=False)
    elif not plan.changes:
        typer.echo("nothing to change")
    for target in written:
        typer.echo(f"wrote {target}")
    for warning in warnings:
        typer.echo(f"warning: {warning}", err=True)
