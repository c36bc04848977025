"""``eval "$(auto-router env)"``: crafted names are refused, every value stays one literal
word, in the real shells."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from auto_router.errors import InvalidIdentifierError
from auto_router.launcher.shells import export_lines, unset_lines
from tests.helpers import require_program

HOSTILE = {
    "QUOTES": "it's \"double\" and 'single' \\ back\\slash",
    "NEWLINES": "line1\nline2\r\nline3\n",
    "SUBST": "$(touch {marker}) ${{HOME}} $HOME",
    "BACKTICKS": "`touch {marker}`",
    "PERCENT": "100% %PATH% %%",
    "UNICODE": "ключ ✓ ’smart’ ‘quotes’ „low‟ 🔑",
    "SEMICOLON": "a; touch {marker} & echo hi | cat > {marker}",
    "EMPTY": "",
    "DOLLAR_PAREN_PS": "$(Write-Host hi) $env:PATH",
    "FISH": "(touch {marker}) \\' {marker}",
}
CLEAN_ENV = {"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"}


def _values(marker: Path) -> dict[str, str]:
    return {k: v.format(marker=marker) for k, v in HOSTILE.items()}


def _probe(shell: str, names: list[str]) -> str:
    if shell == "fish":
        return "; ".join(f"printf '%s\\0' \"${n}\"" for n in names)
    return "; ".join(f'printf "%s\\0" "${{{n}}}"' for n in names)


def _run_in(shell: str, script: str, names: list[str]) -> dict[str, str]:
    require_program(shell, f"apt-get install -y {shell}")
    probe = _probe(shell, names)
    argv = {
        "bash": ["bash", "--norc", "--noprofile", "-c", f'eval "$1"; {probe}', "bash", script],
        "zsh": ["zsh", "-f", "-c", f'eval "$1"; {probe}', "zsh", script],
        "fish": ["fish", "--no-config", "-c", f"eval $argv[1]; {probe}", script],
    }[shell]
    if shell == "fish":  # fish's eval takes one line at a time; source the whole script
        argv = ["fish", "--no-config", "-c", f"printf '%s' $argv[1] | source; {probe}", script]
    # Bytes, not text: universal newlines would turn the value's \r\n into \n.
    result = subprocess.run(argv, capture_output=True, check=True, env=CLEAN_ENV)
    assert result.stderr == b""
    out = result.stdout.decode()
    return dict(zip(names, out.split("\0")[:-1], strict=True))


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_every_value_survives_the_real_shell(shell: str, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    values = _values(marker)
    script = "\n".join(export_lines(shell, values))
    assert _run_in(shell, script, list(values)) == values
    assert not marker.exists(), "a value was executed"
    cleared = "\n".join([*export_lines(shell, values), *unset_lines(shell, values)])
    if shell != "fish":  # "${X}" of an unset variable is empty in bash and zsh
        assert set(_run_in(shell, cleared, list(values)).values()) == {""}


def _read_powershell_verbatim(text: str) -> tuple[str, str]:
    """PowerShell's rule for a single-quoted (verbatim) string, from the language spec
    (about_Quoting_Rules, §2.3.5.2): it starts and ends with any single-quote character
    (' ‘ ’ ‚ ‛); inside, two of them in a row stand for one; nothing else is special.
    Returns (value, the rest of the line after the closing quote)."""
    quotes = "'\u2018\u2019\u201a\u201b"
    assert text[0] in quotes
    out: list[str] = []
    i = 1
    while i < len(text):
        ch = text[i]
        if ch in quotes:
            if i + 1 < len(text) and text[i + 1] in quotes:
                out.append(ch)
                i += 2
                continue
            return "".join(out), text[i + 1 :]
        out.append(ch)
        i += 1
    raise AssertionError("unterminated string")


def test_powershell_quoting_by_the_languages_rule(tmp_path: Path) -> None:
    """pwsh is not installed on this machine class; the lines are checked against the
    documented verbatim-string rule instead (and run for real below when pwsh exists)."""
    values = _values(tmp_path / "pwned")
    for (name, value), line in zip(values.items(), export_lines("powershell", values), strict=True):
        prefix = f"$env:{name} = "
        assert line.startswith(prefix)
        parsed, rest = _read_powershell_verbatim(line[len(prefix) :])
        assert parsed == value
        assert rest == "", "something after the string would run"


@pytest.mark.skipif(shutil.which("pwsh") is None, reason="pwsh not installed (rule test above)")
def test_powershell_for_real(tmp_path: Path) -> None:  # pragma: no cover - needs pwsh
    values = _values(tmp_path / "pwned")
    script = "\n".join(export_lines("powershell", values))
    probe = "; ".join(f"[Console]::Out.Write($env:{n} + [char]0)" for n in values)
    result = subprocess.run(
        ["pwsh", "-NoProfile", "-Command", script + "\n" + probe],
        capture_output=True,
        text=True,
        check=True,
    )
    got = dict(zip(values, result.stdout.split("\0")[:-1], strict=True))
    # Environment variables cannot hold an empty value on Windows semantics: pwsh unsets.
    assert {k: v for k, v in got.items() if values[k]} == {k: v for k, v in values.items() if v}


@pytest.mark.parametrize("name", ["A=ECHO;${A,,} PWNED>&2;B", "1ABC", "MY-KEY", "A B", ""])
def test_the_exporters_refuse_a_name_that_is_not_one(name: str) -> None:
    for shell in ("bash", "zsh", "fish", "powershell"):
        with pytest.raises(InvalidIdentifierError):
            export_lines(shell, {name: "v"})
        with pytest.raises(InvalidIdentifierError):
            unset_lines(shell, [name])


CRAFTED_KEY = "A=ECHO;${A,,} PWNED>&2;B"


def _cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AUTO_ROUTER_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "auto_router", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_a_crafted_variable_name_is_a_config_error(tmp_path: Path) -> None:
    """The attack from the issue: this key was accepted, and ``eval "$(auto-router env)"``
    then ran ``echo PWNED``."""
    (tmp_path / "llm_config.toml").write_text(
        '[backends.qwen]\nproviders = ["one"]\n[message_backend]\ndefault = "qwen"\n'
    )
    meta = tmp_path / "provider_metadata.toml"
    meta.write_text(
        '[qwen.one]\nbase_url = "http://127.0.0.1:9/v1"\nGOOD_NAME_2 = "ok"\n'
        f'"{CRAFTED_KEY}" = "v"\n'
    )
    validate = _cli(tmp_path, "config", "validate")
    assert validate.returncode == 78
    first = validate.stderr.splitlines()[0]
    assert f"{meta}:4:" in first and CRAFTED_KEY in first
    assert "not a valid environment variable name" in first
    assert "Traceback" not in validate.stderr
    env = _cli(tmp_path, "env", "--shell", "bash")
    assert env.returncode != 0 and env.stdout == ""
    evaluated = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", f'eval "$({sys.executable} -m auto_router env)"'],
        capture_output=True,
        text=True,
        env={**os.environ, "AUTO_ROUTER_HOME": str(tmp_path)},
    )
    # The payload would print PWNED on a line of its own; the refusal quotes the key only.
    assert "PWNED" not in evaluated.stdout
    assert "PWNED" not in evaluated.stderr.splitlines()
    assert "not a valid environment variable name" in evaluated.stderr
