"""The quick reader of ``run`` and ``env`` command lines (``cli/fast.py``) against argparse.

``_quick`` reads the usual shapes without importing argparse and gives up on anything else,
which argparse (then typer) reads as before. Whatever it accepts must come out exactly as the
argparse parser reads it: checked on the usual lines and on many random ones.
"""

from __future__ import annotations

import random

import pytest

from auto_router.cli.fast import DEFAULTS, PARSERS, QUICK, _Fallback, _quick

WORDS = ("--", "-", "true", "claude", "qwen", "", "-x", "3", "0", "1.5", "nan", "-1", "a=b")


def argparse_reads(name: str, args: list[str]) -> dict[str, object] | None:
    try:
        return vars(PARSERS[name]().parse_args(args))
    except _Fallback:
        return None


def quick_reads(name: str, args: list[str]) -> dict[str, object] | None:
    try:
        return _quick(name, args)
    except _Fallback:
        return None


@pytest.mark.parametrize("name", sorted(QUICK))
def test_quick_knows_the_options_and_defaults_of_the_argparse_parser(name: str) -> None:
    parser = PARSERS[name]()
    options = {o for a in parser._actions for o in a.option_strings}
    assert set(QUICK[name]) == options
    assert DEFAULTS[name] == vars(parser.parse_args([]))


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("run", ["--no-rotate", "--", "true"]),
        ("run", ["-b", "qwen", "--provider=p", "--max-attempts", "2", "claude", "--json"]),
        ("run", ["--direct", "--timeout=1.5", "--dry-run", "--", "--", "x"]),
        ("run", ["--via-proxy", "--allow-backend-switch"]),
        ("run", ["--backend=a=b", "-", "x"]),
        ("env", []),
        ("env", ["--backend", "qwen", "--shell", "fish", "--unset", "--reveal", "--json"]),
        ("env", ["-b", "", "--provider", "p", "--backend=other"]),
    ],
)
def test_the_usual_lines_are_read_quickly_and_as_argparse_reads_them(
    name: str, args: list[str]
) -> None:
    quick = quick_reads(name, args)
    assert quick is not None
    assert quick == argparse_reads(name, args)


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("run", ["--max-attempts", "0", "true"]),  # argparse gives up too: typer says why
        ("run", ["--timeout", "-1"]),
        ("run", ["--via-proxy", "--direct"]),
        ("run", ["-bqwen"]),
        ("run", ["--no-rotate=1"]),
        ("run", ["--backend"]),
        ("run", ["--back", "q"]),
        ("env", ["extra"]),
        ("env", ["--", "x"]),
    ],
)
def test_other_shapes_are_left_to_argparse(name: str, args: list[str]) -> None:
    assert quick_reads(name, args) is None


@pytest.mark.parametrize("name", sorted(QUICK))
def test_whatever_quick_accepts_argparse_reads_the_same(name: str) -> None:
    rng = random.Random(16)
    tokens = [*QUICK[name], *(f"{o}={w}" for o in QUICK[name] for w in ("", "2", "q")), *WORDS]
    accepted = 0
    for _ in range(4000):
        args = [rng.choice(tokens) for _ in range(rng.randint(0, 6))]
        quick = quick_reads(name, args)
        if quick is not None:
            accepted += 1
            assert quick == argparse_reads(name, args), args
    assert accepted > 200  # the random lines do exercise the quick reader
