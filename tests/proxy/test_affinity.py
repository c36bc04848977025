"""Session affinity: the bounded map, the session id of a request, and the router's plans
for a session and for round-robin turns (issue 19)."""

from __future__ import annotations

from pathlib import Path

import pytest

from auto_router.config import load_config
from auto_router.paths import resolve_paths
from auto_router.proxy.affinity import MAX_SESSION_ID, Affinity, session_id
from auto_router.proxy.routing import Plan, Router
from auto_router.rotation.policy import record_success, record_usage_limit
from auto_router.rotation.state import MemoryStateStore
from tests.helpers import FakeClock, write_config

A, B = ("qwen", "a"), ("qwen", "b")


def test_a_binding_is_kept_replaced_and_forgotten_when_idle() -> None:
    clock = FakeClock()
    affinity = Affinity(clock, idle=3600)
    key = ("s", "qwen")
    assert affinity.get(key) is None
    affinity.bind(key, A)
    assert affinity.get(key) == A
    affinity.bind(key, B)  # moved: sticks to the new one
    assert affinity.get(key) == B
    clock.advance(3000)
    assert affinity.get(key) == B
    affinity.bind(key, B)  # each answer binds again: the idle time starts over
    clock.advance(3000)
    assert affinity.get(key) == B
    clock.advance(601)
    assert affinity.get(key) is None
    assert len(affinity) == 0


def test_the_map_is_bounded_least_recently_used_out_first() -> None:
    affinity = Affinity(FakeClock(), size=3)
    for name in "wxyz"[:3]:
        affinity.bind((name, "qwen"), A)
    affinity.get(("w", "qwen"))  # w used: x is now the oldest
    affinity.bind(("z", "qwen"), B)
    assert len(affinity) == 3
    assert affinity.get(("x", "qwen")) is None
    assert [affinity.get((n, "qwen")) for n in "wyz"] == [A, A, B]


@pytest.mark.parametrize(
    ("header", "run", "expected"),
    [
        (None, None, None),
        ("", None, None),
        ("abc", None, "h:abc"),
        ("abc", "d1", "h:abc"),  # a client's own session wins over its run
        (None, "d1", "r:d1"),
        ("r:d1", None, "h:r:d1"),  # no way into a run's binding by naming it
        ("x" * 1000, None, "h:" + "x" * MAX_SESSION_ID),
    ],
)
def test_session_id(header: str | None, run: str | None, expected: str | None) -> None:
    assert session_id(header, run) == expected


def router(tmp_path: Path, strategy: str, clock: FakeClock) -> tuple[Router, MemoryStateStore]:
    llm = f'[backends.qwen]\nproviders = ["a", "b", "c"]\nstrategy = "{strategy}"\n'
    meta = "".join(
        f'[qwen.{n}]\nbase_url = "http://127.0.0.1:9/v1"\napi_key = "sk-{n}-secret-0000"\n'
        for n in "abc"
    )
    config = load_config(resolve_paths(write_config(tmp_path, llm, meta)))
    store = MemoryStateStore()
    return Router(config, store, clock=clock), store


def order(plan: Plan) -> str:
    return "".join(t.provider for t in plan.candidates)


def test_round_robin_turns_are_plans_made_once(tmp_path: Path) -> None:
    r, _ = router(tmp_path, "round-robin", FakeClock())
    first = [r.plan("qwen", "openai+") for _ in range(3)]
    assert [order(p) for p in first] == ["abc", "bca", "cab"]
    again = [r.plan("qwen", "openai+") for _ in range(3)]
    assert all(x is y for x, y in zip(first, again, strict=True))  # no re-planning per turn


@pytest.mark.parametrize("strategy", ["sticky", "priority", "round-robin"])
def test_a_session_keeps_its_provider_under_every_strategy(tmp_path: Path, strategy: str) -> None:
    clock = FakeClock()
    r, store = router(tmp_path, strategy, clock)
    plan = r.plan("qwen", "openai+", session="r:run1")
    r.bind("r:run1", plan, plan.candidates[1])  # say b answered (a failed once)
    assert [order(r.plan("qwen", "openai+", session="r:run1"))[0] for _ in range(4)] == ["b"] * 4
    # b runs out: the session must move, and the plan no longer holds b
    store.update(
        "qwen", lambda s: record_usage_limit(("a", "b", "c"), s, "b", clock.now, clock.now + 60)
    )
    moved = r.plan("qwen", "openai+", session="r:run1")
    assert "b" not in order(moved)
    r.bind("r:run1", moved, moved.candidates[0])
    kept = moved.candidates[0].provider
    clock.advance(61)  # b is back; the session stays where it moved
    assert order(r.plan("qwen", "openai+", session="r:run1"))[0] == kept
    assert order(r.plan("qwen", "openai+", session="other"))[0] in "abc"


def test_an_expected_turn_or_session_success_costs_no_state_write(tmp_path: Path) -> None:
    """The recorder writes record_success only when the provider differs from the plan's
    ``last_success``: each turn's and each session's plan expects its first candidate."""
    clock = FakeClock()
    r, store = router(tmp_path, "round-robin", clock)
    assert r.plan("qwen", "openai+").last_success["qwen"] is None  # first success: written
    store.update("qwen", lambda s: record_success(s, "a", clock.now))
    turns = [r.plan("qwen", "openai+") for _ in range(3)]
    assert [p.last_success["qwen"] for p in turns] == [p.candidates[0].provider for p in turns]
    c = next(t for t in turns[0].candidates if t.provider == "c")
    r.bind("s", turns[0], c)
    session = r.plan("qwen", "openai+", session="s")
    assert session.last_success["qwen"] == session.candidates[0].provider == "c"
