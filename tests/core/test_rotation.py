"""The rotation policy, table-driven, with time passed in explicitly."""

from __future__ import annotations

from types import MappingProxyType

import pytest

from auto_router.errors import AllProvidersExhaustedError
from auto_router.rotation.policy import (
    BackendState,
    Candidate,
    ProviderState,
    advance,
    choose,
    current_provider,
    earliest_available,
    record_failure,
    record_success,
    record_usage_limit,
    reset,
    set_current,
)
from auto_router.rotation.service import status_label

NAMES = ("a", "b", "c")
NOW = 1000.0


def state(current: str | None = None, **cooling: float) -> BackendState:
    providers = {name: ProviderState(cooldown_until=until) for name, until in cooling.items()}
    return BackendState("qwen", current=current, providers=MappingProxyType(providers))


@pytest.mark.parametrize(
    ("before", "expected", "why"),
    [
        (state(), "a", "no state: the first provider"),
        (state("b"), "b", "sticky: the stored current"),
        (state("b", b=NOW + 10), "c", "current cooling: the next one"),
        (state("c", c=NOW + 10), "a", "wraps around"),
        (state("c", c=NOW + 10, a=NOW + 10), "b", "skips every cooling provider"),
        (state("b", b=NOW - 1), "b", "an expired cooldown no longer counts"),
        (state("b", b=NOW), "b", "a cooldown ending now is over"),
        (state("gone"), "a", "a provider no longer configured is ignored"),
        (state(None, a=NOW + 1, b=NOW + 1, c=NOW + 1), None, "everything cooling"),
    ],
)
def test_current_provider(before: BackendState, expected: str | None, why: str) -> None:
    assert current_provider(NAMES, before, NOW) == expected, why


@pytest.mark.parametrize(
    ("before", "expected", "rotated"),
    [
        (state(), "b", True),
        (state("b"), "c", True),
        (state("c"), "a", True),
        (state("a", b=NOW + 5), "c", True),
        (state("a", b=NOW + 5, c=NOW + 5), "a", False),
    ],
)
def test_advance(before: BackendState, expected: str, rotated: bool) -> None:
    after, moved = advance(NAMES, before, NOW)
    assert moved is rotated
    assert current_provider(NAMES, after, NOW) == expected


def test_advance_with_a_single_provider_does_not_rotate() -> None:
    after, moved = advance(("only",), state(), NOW)
    assert not moved
    assert after == state()


@pytest.mark.parametrize(
    ("before", "provider", "until", "current_after"),
    [
        (state(), "a", NOW + 60, "b"),
        (state("b"), "b", NOW + 60, "c"),
        (state("c"), "c", NOW + 60, "a"),
        (state("a", b=NOW + 99), "a", NOW + 60, "c"),
        # A pinned provider that is not current ran out: current stays (even where the
        # provider after the pinned one is usable and would otherwise take over).
        (state("a"), "c", NOW + 60, "a"),
        (state("a"), "b", NOW + 60, "a"),
        (state("c"), "a", NOW + 60, "c"),
        (state("a", c=NOW + 99), "b", NOW + 60, "a"),
    ],
)
def test_usage_limit_rotates_when_the_current_provider_runs_out(
    before: BackendState, provider: str, until: float, current_after: str
) -> None:
    after = record_usage_limit(NAMES, before, provider, NOW, until, "quota")
    assert after.current == current_after
    assert after.provider(provider).cooldown_until == until
    assert after.provider(provider).usage_limits == 1
    assert after.provider(provider).last_error == "quota"
    assert current_provider(NAMES, after, NOW) == current_after


def test_when_all_cool_down_rotation_resumes_after_the_last_one() -> None:
    s = state()
    for name in NAMES:
        s = record_usage_limit(NAMES, s, name, NOW, NOW + 100, None)
    assert current_provider(NAMES, s, NOW) is None
    assert s.current == "a"  # c ran out last: a is next in order
    assert current_provider(NAMES, s, NOW + 100) == "a"


def test_a_reset_time_in_the_past_still_counts_the_limit_but_expires_at_once() -> None:
    after = record_usage_limit(NAMES, state(), "a", NOW, NOW - 50, None)
    assert after.provider("a").cooldown_until == NOW
    assert current_provider(NAMES, after, NOW) == "b"


def test_success_clears_the_cooldown_and_is_the_last_used() -> None:
    s = record_usage_limit(NAMES, state(), "a", NOW, NOW + 100, None)
    s = record_success(s, "a", NOW + 1)
    assert s.provider("a").cooldown_until is None
    assert s.provider("a").successes == 1
    assert s.last_success == "a"
    assert s.current == "b"  # success does not move rotation back


def test_failure_is_counted_but_does_not_rotate() -> None:
    s = record_failure(state("a"), "a", NOW, "502 bad gateway")
    assert s.current == "a"
    assert s.provider("a").failures == 1
    assert s.provider("a").last_error == "502 bad gateway"
    assert s.provider("a").is_available(NOW)


def test_set_current_clears_that_providers_cooldown() -> None:
    s = set_current(state("a", c=NOW + 100), "c")
    assert current_provider(NAMES, s, NOW) == "c"


def test_reset_clears_rotation_and_cooldowns_but_keeps_counters() -> None:
    s = record_usage_limit(NAMES, state(), "a", NOW, NOW + 100, None)
    s = reset(s)
    assert s.current is None
    assert current_provider(NAMES, s, NOW) == "a"
    assert s.provider("a").usage_limits == 1


def test_earliest_available() -> None:
    assert earliest_available(NAMES, state(a=NOW + 30, b=NOW + 10, c=NOW + 20)) == ("b", NOW + 10)
    assert earliest_available((), state()) is None


def test_choose_falls_back_to_the_next_backend() -> None:
    states = {"qwen": state(None, a=NOW + 5, b=NOW + 5, c=NOW + 5)}
    candidates = [Candidate("qwen", NAMES), Candidate("gemini", ("g1",))]
    assert choose(candidates, states, NOW) == ("gemini", "g1")


def test_choose_raises_with_the_earliest_time_when_nothing_is_left() -> None:
    states = {
        "qwen": state(None, a=NOW + 50, b=NOW + 40, c=NOW + 60),
        "gemini": BackendState(
            "gemini", providers=MappingProxyType({"g1": ProviderState(cooldown_until=NOW + 30)})
        ),
    }
    candidates = [Candidate("qwen", NAMES), Candidate("gemini", ("g1",))]
    with pytest.raises(AllProvidersExhaustedError) as info:
        choose(candidates, states, NOW)
    assert info.value.earliest_available_at == NOW + 30
    assert info.value.earliest is not None
    assert (info.value.earliest.backend, info.value.earliest.provider) == ("gemini", "g1")
    assert "the earliest, gemini/g1, is available again at" in str(info.value)
    assert info.value.exit_code == 75


@pytest.mark.parametrize(
    ("enabled", "current", "cooldown_until", "label"),
    [
        (False, True, NOW, "disabled"),  # disabled wins over everything
        (True, True, NOW, "cooling"),  # a cooldown wins over being current
        (True, True, None, "current"),
        (True, False, None, "ready"),
    ],
)
def test_status_label(
    enabled: bool, current: bool, cooldown_until: float | None, label: str
) -> None:
    """The one word ``/health`` and ``provider list --json`` both show."""
    assert status_label(enabled, current, cooldown_until) == label
