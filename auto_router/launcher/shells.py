"""Export and unset lines for ``eval "$(auto-router env)"``, quoted for each shell."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Final

from ..errors import InvalidIdentifierError

SHELLS: Final = ("bash", "zsh", "fish", "powershell")
#: A name every shell takes literally. The configuration refuses others; this is the
#: second lock, since a name is printed unquoted for ``eval``.
_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def check_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise InvalidIdentifierError(f"{name!r} is not a valid environment variable name")
    return name


def quote(shell: str, value: str) -> str:
    """``value`` as one literal word of ``shell``, whatever characters it holds."""
    if shell in ("bash", "zsh"):
        return "'" + value.replace("'", "'\\''") + "'"
    if shell == "fish":
        # In single quotes fish only treats \\ and \' specially; newlines stay literal.
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if shell == "powershell":
        # Single-quoted strings are literal; a quote (any of PowerShell's quote characters)
        # is escaped by doubling it.
        out = []
        for ch in value:
            out.append(ch * 2 if ch in "'\u2018\u2019\u201a\u201b" else ch)
        return "'" + "".join(out) + "'"
    raise ValueError(f"unknown shell {shell!r} (expected one of {', '.join(SHELLS)})")


def export_lines(shell: str, variables: Mapping[str, str]) -> list[str]:
    lines = []
    for name, value in variables.items():
        check_name(name)
        quoted = quote(shell, value)
        if shell in ("bash", "zsh"):
            lines.append(f"export {name}={quoted}")
        elif shell == "fish":
            lines.append(f"set -gx {name} {quoted}")
        else:
            lines.append(f"$env:{name} = {quoted}")
    return lines


def unset_lines(shell: str, names: Iterable[str]) -> list[str]:
    lines = []
    for name in names:
        check_name(name)
        if shell in ("bash", "zsh"):
            lines.append(f"unset {name}")
        elif shell == "fish":
            lines.append(f"set -e {name}")
        elif shell == "powershell":
            lines.append(f"Remove-Item Env:{name} -ErrorAction SilentlyContinue")
        else:
            raise ValueError(f"unknown shell {shell!r}")
    return lines


def comment(text: str) -> str:
    """A comment line; ``#`` starts one in all four shells."""
    return "# " + text.replace("\n", " ")


def render(
    shell: str,
    variables: Mapping[str, str],
    *,
    unset: bool = False,
    masked: Iterable[str] = (),
    header: Iterable[str] = (),
) -> list[str]:
    """The whole script: comments, then export (or unset) lines. ``masked`` names get
    ``****`` instead of their value (for a terminal, where nobody will eval it)."""
    hidden = set(masked)
    lines = [comment(text) for text in header]
    if unset:
        return lines + unset_lines(shell, variables)
    shown = {name: ("****" if name in hidden else value) for name, value in variables.items()}
    return lines + export_lines(shell, shown)


def default_shell(environ: Mapping[str, str]) -> str:
    name = environ.get("SHELL", "").rsplit("/", 1)[-1]
    if name in SHELLS:
        return name
    return "powershell" if "PSModulePath" in environ and not name else "bash"
