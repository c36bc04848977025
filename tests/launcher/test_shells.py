from __future__ import annotations

import subprocess

import pytest

from auto_router.launcher.shells import export_lines, quote, render, unset_lines

NASTY = {
    "PLAIN": "abc",
    "QUOTES": 'it\'s "quoted" $HOME `id` \\ back',
    "NEWLINE": "line1\nline2",
    "EMPTY": "",
    "UNICODE": "ключ’s ✓",
}


def eval_in_bash(script: str, names: list[str]) -> dict[str, str]:
    probe = "; ".join(f'printf "%s\\0" "${{{n}-<unset>}}"' for n in names)
    result = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", f'eval "$1"; {probe}', "bash", script],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin"},
    )
    values = result.stdout.split("\0")[:-1]
    return dict(zip(names, values, strict=True))


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_bash_and_zsh_lines_survive_a_real_eval(shell: str) -> None:
    script = "\n".join(export_lines(shell, NASTY))
    assert eval_in_bash(script, list(NASTY)) == NASTY
    unset = "\n".join(export_lines(shell, NASTY) + unset_lines(shell, NASTY))
    assert set(eval_in_bash(unset, list(NASTY)).values()) == {"<unset>"}


def test_fish_text() -> None:
    assert export_lines("fish", {"A": "it's a \\ b"}) == ["set -gx A 'it\\'s a \\\\ b'"]
    assert unset_lines("fish", ["A"]) == ["set -e A"]


def test_powershell_text() -> None:
    assert export_lines("powershell", {"A": "it's ‘x’ $env:HOME"}) == [
        "$env:A = 'it''s ‘‘x’’ $env:HOME'"
    ]
    assert unset_lines("powershell", ["A"]) == ["Remove-Item Env:A -ErrorAction SilentlyContinue"]


def test_render_masks_on_request_and_comments_headers() -> None:
    lines = render("bash", {"KEY": "secret-value", "URL": "u"}, masked={"KEY"}, header=["hi"])
    assert lines == ["# hi", "export KEY='****'", "export URL='u'"]
    assert "secret-value" not in "\n".join(lines)


def test_unknown_shell() -> None:
    with pytest.raises(ValueError, match="unknown shell"):
        quote("tcsh", "x")
