"""Generate docs/cli.md from the typer app itself, so the reference cannot drift.

    python -m auto_router.cli.reference > docs/cli.md

A test compares the file with this output.
"""

from __future__ import annotations

from typing import Any

import typer.main

HEADER = """\
# auto-router command reference

Generated from the code by `python -m auto_router.cli.reference > docs/cli.md`;
a test fails when this file is out of date. Global options go before the command:
`auto-router --config-dir DIR status`.
"""


def render_reference() -> str:
    from .commands import app

    root = typer.main.get_command(app)
    parts = [HEADER]
    _render(root, ["auto-router"], parts)
    return "\n".join(parts).rstrip() + "\n"


def _render(command: Any, path: list[str], parts: list[str]) -> None:
    # Typer ships its own copy of click, so the command tree is walked by duck typing.
    name = " ".join(path)
    level = "#" * min(len(path) + 1, 4)
    parts.append(f"{level} `{name}`\n")
    help_text = (command.help or "").strip()
    if help_text:
        parts.append(help_text + "\n")
    with command.context_class(command, info_name=name) as ctx:
        usage = command.get_usage(ctx).strip()
        parts.append(f"```\n{usage}\n```\n")
        rows = []
        for param in command.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is not None:
                rows.append(f"- `{record[0]}`: {record[1]}" if record[1] else f"- `{record[0]}`")
        if rows:
            parts.append("\n".join(rows) + "\n")
        if hasattr(command, "list_commands"):
            for sub_name in command.list_commands(ctx):
                sub = command.get_command(ctx, sub_name)
                if sub is not None and not sub.hidden:
                    _render(sub, [*path, sub_name], parts)


if __name__ == "__main__":
    print(render_reference(), end="")
