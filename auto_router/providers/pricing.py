"""What tokens cost: a provider's prices and the one place the arithmetic is done.

A price is USD per million tokens, input (prompt) and output (completion) apart, as vendors
publish them. A provider's own ``price_input`` / ``price_output`` win; else the template at
its ``base_url`` gives its published price; else the price is unknown. An unknown price makes
the cost unknown (``None``), never 0: a summary that said ``$0.00`` for a provider nobody
priced would read as "free".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..config import Config, ProviderConfig
from .templates import template_at

_PER: float = 1_000_000.0


@dataclass(frozen=True, slots=True)
class Prices:
    """USD per million tokens; ``None``: not known."""

    input: float | None = None
    output: float | None = None

    @property
    def known(self) -> bool:
        return self.input is not None and self.output is not None


UNKNOWN = Prices()


def prices_of(provider: ProviderConfig) -> Prices:
    """The provider's prices: its own settings, each falling back to its template's."""
    template = template_at(provider.base_url)
    own_in, own_out = provider.price_input, provider.price_output
    return Prices(
        own_in if own_in is not None else (template.price_input if template else None),
        own_out if own_out is not None else (template.price_output if template else None),
    )


def prices_in(config: Config | None, backend: str | None, provider: str | None) -> Prices:
    """The prices of ``backend/provider`` in ``config``; unknown for one no longer there."""
    if config is None or backend is None or provider is None:
        return UNKNOWN
    found = config.providers.get(backend, {}).get(provider)
    return prices_of(found) if found is not None else UNKNOWN


def cost(prices: Prices, prompt_tokens: int | None, completion_tokens: int | None) -> float | None:
    """USD for one request (or a sum of them); ``None`` when a price or a count is missing.

    A side with no tokens costs nothing whatever its price (a count of 0 needs no price),
    so a provider priced for input only still costs out requests that produced no output.
    """
    total = 0.0
    for tokens, price in ((prompt_tokens, prices.input), (completion_tokens, prices.output)):
        if tokens is None:
            return None
        if tokens == 0:
            continue
        if price is None:
            return None
        total += tokens * price / _PER
    return total


def add_costs(costs: Iterable[float | None]) -> float | None:
    """A sum of costs; unknown if any part is unknown (a partial sum would read as the whole)."""
    total = 0.0
    for part in costs:
        if part is None:
            return None
        total += part
    return total


def format_cost(value: float | None) -> str:
    """``$0.21``, ``$0.0042`` for small sums (a cent rounds many requests away), ``?``."""
    if value is None:
        return "?"
    if value == 0 or value >= 0.1:
        return f"${value:,.2f}"
    return f"${value:.4f}"


def format_tokens(count: int) -> str:
    """``950``, ``48.2k``, ``1.3M``."""
    if count < 1000:
        return str(count)
    if count < 1_000_000:
        return f"{count / 1000:.1f}k"
    return f"{count / 1_000_000:.1f}M"
