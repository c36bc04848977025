"""``auto-router stats``: the proxy log per provider; ``--cost`` adds tokens and cost per day.

The sums come from the store (``store.requests.stats``, ``store.usage``), the prices from the
configuration (``providers.pricing``); this module only renders them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ._common import JsonOption, globals_of, iso, parse_since, print_json
from .proxy_cmds import _columns, _ms

if TYPE_CHECKING:
    from ..config import Config
    from ..store.requests import ProviderStats
    from ..store.usage import Usage


def stats(
    ctx: typer.Context,
    since: Annotated[
        str | None,
        typer.Option("--since", help="Only requests since: 30m, 12h, 7d, or an ISO date/time."),
    ] = None,
    with_cost: Annotated[
        bool,
        typer.Option(
            "--cost",
            help="Tokens in/out and cost (USD, from price_input/price_output) per provider "
            "and per day.",
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Per provider: requests, errors, failovers, p50/p95 latency, tokens (from the proxy log)."""
    from ..store.requests import read_stats

    start = parse_since(since)
    paths = globals_of(ctx).paths()
    from .logdb import log_url

    url = log_url(ctx)
    rows = read_stats(paths, since=start, url=url)
    if with_cost:
        from ..store.usage import read_usage

        config = _config(ctx)
        totals = read_usage(paths, since=start, url=url)
        days = read_usage(paths, since=start, per_day=True, url=url)
    if as_json:
        data: dict[str, Any] = {"since": iso(start), "providers": [r.to_json() for r in rows]}
        if with_cost:
            data["cost"] = [usage_json(u, config) for u in totals]
            data["days"] = [usage_json(u, config) for u in days]
        print_json(data)
        return
    if not rows:
        typer.echo("no proxied requests recorded" + (f" since {since}" if since else ""))
        return
    typer.echo(render_stats(rows))
    if with_cost:
        typer.echo("\ncost per provider:\n" + render_usage(totals, config))
        typer.echo("\nper day:\n" + render_usage(days, config))


def _config(ctx: typer.Context) -> Config | None:
    """The configuration the prices come from; an unreadable one prices nothing (the
    tokens are still worth showing, and ``config validate`` says what is wrong)."""
    from ..config import load_config
    from ..errors import AutoRouterError

    try:
        return load_config(globals_of(ctx).paths())
    except AutoRouterError:
        return None


def usage_cost(usage: Usage, config: Config | None) -> float | None:
    from ..providers.pricing import cost, prices_in

    prices = prices_in(config, usage.backend, usage.provider)
    return cost(prices, usage.prompt_tokens, usage.completion_tokens)


def usage_json(usage: Usage, config: Config | None) -> dict[str, Any]:
    data = usage.to_json()
    spent = usage_cost(usage, config)
    data["cost_usd"] = None if spent is None else round(spent, 6)
    if usage.day is None:
        del data["day"]
    return data


def render_usage(rows: Sequence[Usage], config: Config | None) -> str:
    """A table of tokens in/out and cost (led by the day for rows of one day)."""
    from ..providers.pricing import format_cost

    lead = ("day",) if rows and rows[0].day is not None else ()
    table: list[tuple[str, ...]] = [(*lead, "provider", "requests", "in", "out", "cost")]
    for u in rows:
        table.append(
            (
                *((u.day or "-",) if lead else ()),
                f"{u.backend or '-'}/{u.provider or '-'}",
                str(u.requests),
                f"{u.prompt_tokens:,}",
                f"{u.completion_tokens:,}",
                format_cost(usage_cost(u, config)),
            )
        )
    if len(table) == 1:
        return "  no answered requests"
    return "\n".join("  " + line for line in _columns(table).splitlines())


def render_stats(rows: list[ProviderStats]) -> str:
    header = ("provider", "requests", "errors", "failovers", "p50 ms", "p95 ms", "tokens")
    table: list[tuple[str, ...]] = [header]
    for r in rows:
        name = f"{r.backend or '-'}/{r.provider or '-'}"
        table.append(
            (
                name,
                str(r.requests),
                str(r.errors),
                str(r.failovers),
                _ms(r.p50_ms),
                _ms(r.p95_ms),
                f"{r.total_tokens:,}",
            )
        )
    return _columns(table)
