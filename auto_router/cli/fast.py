"""The commands that run most often, parsed without typer's parameter machinery.

``status`` (in prompts), ``env`` (in shell start-up files), ``run`` (on every agent
invocation) and ``proxy`` (long-running) should start about as fast as the interpreter.
typer 0.29 coerces every parameter that is not a flag through a pydantic ``TypeAdapter``:
importing pydantic costs more than the interpreter's own start-up, and ~10 MB of resident
memory for the proxy. So a plain command line of these four commands is parsed here and
handed to the function the typer command calls; ``--help``, and anything these parsers do not
accept, goes through typer, which answers or reports the error as usual. ``status`` has only
flags; the usual ``run`` and ``env`` lines are read by ``_quick``, without even argparse, and
the rest by argparse. Tests check that each parser accepts exactly the options of its typer
command, and that ``_quick`` reads whatever it accepts as argparse does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from ._plain import Globals, split_globals

if TYPE_CHECKING:
    import argparse  # imported where used: only env, run and proxy need it


class _Fallback(Exception):
    """The command line is not a plain one: let typer parse it."""


def _parser(prog: str) -> argparse.ArgumentParser:
    import argparse

    class Parser(argparse.ArgumentParser):
        def error(self, message: str) -> NoReturn:
            raise _Fallback(message)

    return Parser(prog=f"auto-router {prog}", add_help=False, allow_abbrev=False)


def _at_least(minimum: float, kind: Callable[[str], float]) -> Callable[[str], float]:
    def convert(text: str) -> float:
        value = kind(text)
        if value < minimum:
            raise ValueError(text)  # typer reports it, with the option's name
        return value

    return convert


#: The converters of run's numbers, shared by both readers so that they agree.
_ATTEMPTS = _at_least(1, int)
_SECONDS = _at_least(0.001, float)


def env_parser() -> argparse.ArgumentParser:
    return _spec_parser("env")


def run_parser() -> argparse.ArgumentParser:
    import argparse

    parser = _spec_parser("run")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    return parser


def _spec_parser(name: str) -> argparse.ArgumentParser:
    """The argparse form of ``QUICK[name]``: one table, so both readers know one set of
    options. A destination set by two flags (``--via-proxy``/``--direct``) is a
    mutually exclusive pair whose default is ``None``."""
    parser = _parser(name)
    for dest, names in _options_by_dest(name).items():
        _, convert, _ = QUICK[name][names[0]]
        if convert is not None:
            parser.add_argument(*names, dest=dest, type=convert)
        elif len(names) == 1:
            parser.add_argument(names[0], dest=dest, action="store_true")
        else:
            group = parser.add_mutually_exclusive_group()
            for option in names:
                constant = QUICK[name][option][2]
                group.add_argument(option, dest=dest, action="store_const", const=constant)
    return parser


def _options_by_dest(name: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for option, (dest, _, _) in QUICK[name].items():
        found.setdefault(dest, []).append(option)
    return found


def _defaults(name: str) -> dict[str, Any]:
    """What argparse gives an option left out: ``None`` for a value or a flag pair, else
    ``False``."""
    defaults: dict[str, Any] = {}
    for dest, names in _options_by_dest(name).items():
        has_value = QUICK[name][names[0]][1] is not None
        defaults[dest] = None if has_value or len(names) > 1 else False
    return defaults | ({"command": []} if name == "run" else {})


def proxy_parser() -> argparse.ArgumentParser:
    import argparse

    parser = _parser("proxy")
    parser.add_argument("--host")
    parser.add_argument("--port", type=int)
    parser.add_argument("--backend")
    parser.add_argument("--upstream")
    parser.add_argument("--api-key-env")
    parser.add_argument("--log-json", action="store_true")
    parser.add_argument("--request-log", action=argparse.BooleanOptionalAction, default=None)
    return parser


#: Commands whose options are all flags, read without argparse: building an argparse parser
#: (terminal size and gettext look-ups included) costs ~15 ms, a tenth of the goal for status.
FLAGS: dict[str, dict[str, str]] = {"status": {"--json": "as_json", "--watch": "watch"}}
PARSERS: dict[str, Callable[[], argparse.ArgumentParser]] = {
    "env": env_parser,
    "run": run_parser,
    "proxy": proxy_parser,
}


#: ``run`` and ``env``: option -> (dest, converter, constant); a flag has no converter and
#: stores its constant. ``_quick`` reads these, and their argparse parsers are built from
#: them; ``DEFAULTS`` are what argparse gives the options left out.
Spec = tuple[str, Callable[[str], Any] | None, Any]
QUICK: dict[str, dict[str, Spec]] = {
    "env": {
        "--backend": ("backend", str, None),
        "-b": ("backend", str, None),
        "--provider": ("provider", str, None),
        "--shell": ("shell", str, None),
        "--unset": ("unset", None, True),
        "--reveal": ("reveal", None, True),
        "--json": ("as_json", None, True),
    },
    "run": {
        "--backend": ("backend", str, None),
        "-b": ("backend", str, None),
        "--provider": ("provider", str, None),
        "--max-attempts": ("max_attempts", _ATTEMPTS, None),
        "--no-rotate": ("no_rotate", None, True),
        "--dry-run": ("dry_run", None, True),
        "--allow-backend-switch": ("allow_backend_switch", None, True),
        "--timeout": ("timeout", _SECONDS, None),
        "--via-proxy": ("via_proxy", None, True),
        "--direct": ("via_proxy", None, False),
    },
}
DEFAULTS: dict[str, dict[str, Any]] = {name: _defaults(name) for name in QUICK}


def fast_path(argv: Sequence[str]) -> int | None:
    """Run a plain ``status``/``env``/``run``/``proxy`` command line and return its exit
    status; ``None`` when typer should parse it instead."""
    config_dir, args = split_globals(argv)
    if not args or args[0] not in (*FLAGS, *PARSERS):
        return None
    try:
        options = _parse(args[0], args[1:])
    except _Fallback:
        return None
    g = Globals(config_dir=config_dir)
    if args[0] == "status":
        if options.pop("watch") and not options["as_json"]:
            from .watch import watch_status

            watch_status(g)
            return 0
        from .status import show_status

        show_status(g, **options)
        return 0
    if args[0] == "proxy":
        from .proxy_cmds import run_proxy

        run_proxy(config_dir, **options)
        return 0
    return _launch(args[0], g, options)


def _parse(name: str, args: list[str]) -> dict[str, Any]:
    flags = FLAGS.get(name)
    if flags is None:
        if name in QUICK:
            try:
                return _quick(name, args)
            except _Fallback:
                pass  # an unusual shape: argparse reads it (and leaves errors to typer)
        return vars(PARSERS[name]().parse_args(args))
    if not set(args) <= set(flags):
        raise _Fallback(f"not only flags: {args}")
    return {dest: flag in args for flag, dest in flags.items()}


def _quick(name: str, args: list[str]) -> dict[str, Any]:
    """The usual shapes of a ``run``/``env`` command line (``--opt VALUE``, ``--opt=VALUE``,
    ``-b VALUE``, flags, then ``--`` or the command's first word), read without argparse:
    importing it and building a parser cost a few ms of every agent invocation. Anything
    else raises ``_Fallback``; what this accepts, argparse reads the same (a test checks)."""
    spec, options, seen = QUICK[name], dict(DEFAULTS[name]), set()
    index = 0
    while index < len(args):
        arg = args[index]
        if name == "run" and (arg == "-" or not arg.startswith("-") or arg == "--"):
            options["command"] = args[index:]  # with its "--", as argparse's REMAINDER
            return options
        key, equals, value = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        if key not in spec or (spec[key][0] == "via_proxy" and "via_proxy" in seen):
            raise _Fallback(arg)
        dest, convert, constant = spec[key]
        if convert is None:
            if equals:
                raise _Fallback(arg)
            options[dest] = constant
        else:
            if not equals:
                index += 1
                if index == len(args) or args[index].startswith("-"):
                    raise _Fallback(arg)
                value = args[index]
            try:
                options[dest] = convert(value)
            except ValueError:
                raise _Fallback(arg) from None
        seen.add(dest)
        index += 1
    return options


def _launch(name: str, g: Globals, options: dict[str, Any]) -> int:
    """``env`` and ``run``: the functions the typer commands call, called directly."""
    from .launch import print_env, run_command

    if name == "env":
        print_env(g, **options)
        return 0
    command = options.pop("command")
    return run_command(g, command[1:] if command[:1] == ["--"] else command, **options)
