"""Strategies (``[backends.X] strategy``) and session affinity: the pure policy, table-driven,
the config key's checks, and what the rotation service and ``status`` say (issue 19)."""

from __future__ import annotations

from pathlib import Path
from types import MappingProxyType

import pytest

from auto_router.config import load_config
from auto_router.config.model import PRIORITY, ROUND_ROBIN, STICKY
from auto_router.errors import AllProvidersExhaustedError, ConfigValidationError
from auto_router.paths import resolve_paths
from auto_router.rotation.policy import (
    BackendState,
    Candidate,
    ProviderState,
    choose,
    pick,
    serving_order,
    session_order,
)
from auto_router.rotation.service import Rotator
from auto_router.rotation.state import MemoryStateStore
from tests.helpers import FakeClock, write_config

NAMES = ("a", "b", "c")
NOW = 1000.0
LATER = NOW + 10


def state(current: str | None = None, last: str | None = None, **cooling: float) -> BackendState:
    providers = {name: ProviderState(cooldown_until=until) for name, until in cooling.items()}
    return BackendState(
        "qwen", current=current, last_success=last, providers=MappingProxyType(providers)
    )


# (strategy, state, pick, serving order at turn 0, why)
CASES = [
    (STICKY, state(), "a", "abc", "no state: the first"),
    (STICKY, state("b"), "b", "bca", "sticky stays on the current one"),
    (STICKY, state("b", a=NOW - 1), "b", "bca", "a's cooldown ended: sticky does not go back"),
    (STICKY, state("b", b=LATER), "c", "cab", "current cooling: the next in order"),
    (STICKY, state("a", a=LATER, b=LATER, c=LATER), None, "abc", "all cooling"),
    (PRIORITY, state(), "a", "abc", "no state: the first"),
    (PRIORITY, state("b"), "a", "abc", "priority ignores the current one"),
    (PRIORITY, state("b", a=NOW - 1), "a", "abc", "a's cooldown ended: back to a at once"),
    (PRIORITY, state("b", a=NOW), "a", "abc", "a cooldown ending exactly now is over"),
    (PRIORITY, state("a", a=LATER), "b", "abc", "a cooling: the next in order serves"),
    (PRIORITY, state(a=LATER, b=LATER), "c", "abc", "only c is available"),
    (PRIORITY, state(a=LATER, b=LATER, c=LATER), None, "abc", "all cooling"),
    (ROUND_ROBIN, state(), "a", "abc", "nothing served yet: the first"),
    (ROUND_ROBIN, state(last="a"), "b", "abc", "after a, b"),
    (ROUND_ROBIN, state(last="c"), "a", "abc", "after the last, the first"),
    (ROUND_ROBIN, state(last="a", b=LATER), "c", "abc", "b cooling: skipped"),
    (ROUND_ROBIN, state(last="gone"), "a", "abc", "a provider no longer configured"),
    (ROUND_ROBIN, state(a=LATER, b=LATER, c=LATER), None, "abc", "all cooling"),
]


@pytest.mark.parametrize(("strategy", "before", "expected", "order", "why"), CASES)
def test_pick_and_serving_order(
    strategy: str, before: BackendState, expected: str | None, order: str, why: str
) -> None:
    assert pick(NAMES, before, NOW, strategy) == expected, why
    got = serving_order(NAMES, before, NOW, strategy)
    assert "".join(got) == order, why
    if strategy != ROUND_ROBIN and expected is not None:
        # the first available in the order is what pick says (round-robin's pick goes
        # after the last that served instead; the proxy counts turns: see below)
        assert next(n for n in got if before.provider(n).is_available(NOW)) == expected


@pytest.mark.parametrize(
    ("before", "turns"),
    [
        (state(), ["abc", "bca", "cab", "abc"]),
        (state(b=LATER), ["abc", "cab", "abc"]),
        (state(a=LATER, c=LATER), ["bca", "bca"]),
        (state(a=LATER, b=LATER, c=LATER), ["abc", "abc"]),
    ],
)
def test_round_robin_turns_start_at_each_available_provider(
    before: BackendState, turns: list[str]
) -> None:
    got = [
        "".join(serving_order(NAMES, before, NOW, ROUND_ROBIN, turn)) for turn in range(len(turns))
    ]
    assert got == turns


@pytest.mark.parametrize(
    ("order", "bound", "expected", "why"),
    [
        ("abc", None, "abc", "no session yet: the strategy's order"),
        ("abc", "a", "abc", "already first"),
        ("abc", "c", "cab", "bound first, the rest in order"),
        ("bca", "c", "cba", "after round-robin's rotation too"),
        ("ac", "b", "ac", "bound cannot serve (cooling, circuit open): must move"),
        ("", "a", "", "nothing can serve"),
    ],
)
def test_session_order_keeps_a_session_where_it_was_while_it_can_serve(
    order: str, bound: str | None, expected: str, why: str
) -> None:
    assert "".join(session_order(tuple(order), bound)) == expected, why


def test_choose_applies_each_backends_strategy() -> None:
    back = state("b", a=NOW - 1)  # current b, a's cooldown just ended
    states = {"x": back, "y": back}
    assert choose([Candidate("x", NAMES, PRIORITY)], states, NOW) == ("x", "a")
    assert choose([Candidate("x", NAMES, STICKY)], states, NOW) == ("x", "b")
    assert choose([Candidate("x", NAMES)], states, NOW) == ("x", "b")  # default: sticky
    cooling = {"x": state(a=LATER, b=LATER, c=LATER), "y": state(last="a")}
    found = choose(
        [Candidate("x", NAMES, PRIORITY), Candidate("y", NAMES, ROUND_ROBIN)], cooling, NOW
    )
    assert found == ("y", "b")
    with pytest.raises(AllProvidersExhaustedError):
        choose([Candidate("x", NAMES, PRIORITY)], cooling, NOW)


# ------------------------------------------------------------------ configuration


def test_strategy_defaults_to_sticky_and_takes_each_value(tmp_path: Path) -> None:
    llm = (
        '[backends.one]\nproviders = ["a"]\n'
        '[backends.two]\nproviders = ["a"]\nstrategy = "priority"\n'
        '[backends.three]\nproviders = ["a"]\nstrategy = "round-robin"\n'
    )
    meta = "[one.a]\n[two.a]\n[three.a]\n"
    config = load_config(resolve_paths(write_config(tmp_path, llm, meta)))
    assert [b.strategy for b in config.backends.values()] == [STICKY, PRIORITY, ROUND_ROBIN]


@pytest.mark.parametrize(
    ("value", "shown"),
    [('"fastest"', "a string ('fastest')"), ("1", "an integer (1)"), ('"Priority"', "'Priority'")],
)
def test_a_bad_strategy_names_file_line_key_and_the_choices(
    tmp_path: Path, value: str, shown: str
) -> None:
    llm = f'[backends.qwen]\nproviders = ["a"]\n\nstrategy = {value}\n'
    with pytest.raises(ConfigValidationError) as info:
        load_config(resolve_paths(write_config(tmp_path, llm, "[qwen.a]\n")))
    error = info.value
    assert error.path == tmp_path / "llm_config.toml"
    assert error.line == 4
    assert error.key_path == "[backends.qwen].strategy"
    assert 'expected one of "sticky", "priority", "round-robin"' in str(error)
    assert shown in str(error)


# ------------------------------------------------------------------ service and status


def rotator(tmp_path: Path, strategy: str, clock: FakeClock) -> Rotator:
    llm = f'[backends.qwen]\nproviders = ["a", "b"]\nstrategy = "{strategy}"\n'
    meta = '[qwen.a]\ncommand = "true"\n[qwen.b]\ncommand = "true"\n'
    return Rotator(
        resolve_paths(write_config(tmp_path, llm, meta)), store=MemoryStateStore(), clock=clock
    )


@pytest.mark.parametrize(("strategy", "after"), [(PRIORITY, "a"), (STICKY, "b")])
def test_the_launcher_choice_returns_to_the_first_under_priority_only(
    tmp_path: Path, strategy: str, after: str
) -> None:
    clock = FakeClock()
    r = rotator(tmp_path, strategy, clock)
    r.record_usage_limit("qwen", "a", reset_at=clock.now + 30)
    assert r.choose("qwen").provider_name == "b"
    clock.advance(31)
    assert r.choose("qwen").provider_name == after
    assert r.current_provider_name("qwen") == after
    (status,) = r.status()
    assert status.strategy == strategy
    assert [p.name for p in status.providers if p.current] == [after]


def test_the_launcher_choice_spreads_runs_under_round_robin(tmp_path: Path) -> None:
    r = rotator(tmp_path, ROUND_ROBIN, FakeClock())
    chosen = []
    for _ in range(4):
        name = r.choose("qwen").provider_name
        chosen.append(name)
        r.record_success("qwen", name)  # what a run that worked records
    assert chosen == ["a", "b", "a", "b"]
