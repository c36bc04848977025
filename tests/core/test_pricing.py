"""Prices and cost: the arithmetic as a table, the fallback to a template's published price,
the price keys' checks, and the run summary line built from a run's record."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from auto_router.config import ProviderConfig, load_config
from auto_router.errors import ConfigValidationError
from auto_router.launcher.session import usage_summary
from auto_router.paths import resolve_paths
from auto_router.providers.pricing import (
    UNKNOWN,
    Prices,
    add_costs,
    cost,
    format_cost,
    format_tokens,
    prices_of,
)
from auto_router.providers.templates import TEMPLATES, get_template
from tests.helpers import write_config

PRICED = Prices(input=3.0, output=15.0)


@pytest.mark.parametrize(
    ("prices", "prompt", "completion", "expected"),
    [
        (PRICED, 1_000_000, 1_000_000, 18.0),
        (PRICED, 48_200, 3_100, 48_200 * 3 / 1e6 + 3_100 * 15 / 1e6),
        (PRICED, 0, 0, 0.0),
        (PRICED, 7, 0, 7 * 3 / 1e6),
        (Prices(0.0, 0.0), 10_000, 500, 0.0),  # a model priced at 0 is free, and known
        (UNKNOWN, 10, 5, None),  # no price: unknown, never 0
        (Prices(input=3.0), 10, 5, None),  # output tokens with no output price
        (Prices(input=3.0), 10, 0, 10 * 3 / 1e6),  # no output tokens: the missing price is moot
        (Prices(output=15.0), 0, 5, 5 * 15 / 1e6),
        (PRICED, None, 5, None),  # no count: unknown
        (PRICED, 10, None, None),
        (UNKNOWN, 0, 0, 0.0),  # nothing used costs nothing, priced or not
    ],
)
def test_cost(
    prices: Prices, prompt: int | None, completion: int | None, expected: float | None
) -> None:
    got = cost(prices, prompt, completion)
    if expected is None:
        assert got is None
    else:
        assert got is not None and math.isclose(got, expected, abs_tol=1e-12)


def test_a_sum_with_an_unknown_part_is_unknown() -> None:
    assert add_costs([0.5, 0.25]) == 0.75
    assert add_costs([]) == 0.0
    assert add_costs([0.5, None]) is None


@pytest.mark.parametrize(
    ("value", "shown"),
    [(None, "?"), (0.0, "$0.00"), (0.21, "$0.21"), (1234.5, "$1,234.50"), (0.0042, "$0.0042")],
)
def test_format_cost(value: float | None, shown: str) -> None:
    assert format_cost(value) == shown


@pytest.mark.parametrize(
    ("count", "shown"),
    [(0, "0"), (950, "950"), (48_200, "48.2k"), (3_100, "3.1k"), (1_250_000, "1.2M")],
)
def test_format_tokens(count: int, shown: str) -> None:
    assert format_tokens(count) == shown


def provider(**settings: object) -> ProviderConfig:
    return ProviderConfig(backend="b", name="p", **settings)  # type: ignore[arg-type]


def test_a_provider_price_wins_and_each_side_falls_back_to_the_template() -> None:
    deepseek = get_template("deepseek")
    assert deepseek.price_input is not None and deepseek.price_output is not None
    url = deepseek.base_url
    assert prices_of(provider(base_url=url)) == Prices(deepseek.price_input, deepseek.price_output)
    assert prices_of(provider(base_url=f"{url}/")) == prices_of(provider(base_url=url))
    assert prices_of(provider(base_url=url, price_input=1.0)) == Prices(1.0, deepseek.price_output)
    assert prices_of(provider(base_url=url, price_input=1.0, price_output=2.0)) == Prices(1.0, 2.0)
    # another host, or a template without a published price: unknown
    assert prices_of(provider(base_url="http://127.0.0.1:9/v1")) == UNKNOWN
    assert prices_of(provider()) == UNKNOWN
    assert prices_of(provider(base_url="http://127.0.0.1:11434/v1")) == UNKNOWN  # ollama


def test_every_template_price_cites_its_page() -> None:
    priced = [t for t in TEMPLATES if t.price_input is not None or t.price_output is not None]
    assert priced  # the mechanism is in use
    for template in priced:
        assert template.price_source and "https://" in template.price_source, template.name
        assert "price_input" not in template.provider_settings()  # never written to the file


LLM = '[backends.b]\nproviders = ["p"]\n'


def test_price_keys_load(tmp_path: Path) -> None:
    meta = '[b.p]\nbase_url = "http://127.0.0.1:9/v1"\nprice_input = 3\nprice_output = 0.5\n'
    config = load_config(resolve_paths(write_config(tmp_path, LLM, meta)))
    found = config.provider("b", "p")
    assert (found.price_input, found.price_output) == (3.0, 0.5)
    assert config.warnings == ()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("-1", "a number >= 0"),
        ('"3"', "a number >= 0"),
        ("true", "a number >= 0"),
        ("nan", "a number >= 0"),
        ("inf", "at most 10,000"),
        ("20000", "at most 10,000"),
    ],
)
def test_bad_prices_are_errors_with_their_key(tmp_path: Path, value: str, message: str) -> None:
    meta = f'[b.p]\nbase_url = "http://127.0.0.1:9/v1"\nprice_output = {value}\n'
    with pytest.raises(ConfigValidationError) as info:
        load_config(resolve_paths(write_config(tmp_path, LLM, meta)))
    assert "price_output" in str(info.value) and message in str(info.value)


def event(
    provider: str | None, usage: list[int | None] | None, status: int = 200
) -> dict[str, object]:
    data: dict[str, object] = {"failed": [], "provider": provider, "status": status}
    if usage is not None:
        data["usage"] = usage
    return data


def test_the_summary_line_adds_tokens_and_cost() -> None:
    events = [event("zai", [40_000, 2_000])] * 10 + [event("kimi", [4_100, 550])] * 2
    prices = {"zai": Prices(0.5, 2.0), "kimi": Prices(1.0, 4.0)}
    assert usage_summary(events, prices) == (
        "12 requests, 408.2k tokens in / 21.1k out, $0.25 (zai 10, kimi 2)"
    )


def test_the_summary_line_without_prices_says_tokens_only() -> None:
    events = [event("zai", [100, 20]), event("kimi", [50, 5])]
    assert usage_summary(events, {"zai": Prices(0.5, 2.0)}) == (
        "2 requests, 150 tokens in / 25 out (zai 1, kimi 1)"
    )


def test_the_summary_line_counts_failures_and_answers_without_usage() -> None:
    events = [event(None, [None, None], 429), event("a", None), event("a", [None, None])]
    assert usage_summary(events, {}) == "3 requests (a 2)"
    assert usage_summary([], {}) is None
