"""Events of headroom readings (issue 19, "Notifications"): a window crossing a ``[notify]
thresholds`` mark (once per crossing), a window that reset, the return to the preferred
provider under ``priority``, and a threshold cooldown seen from the state alone. Pure tables;
the same through a real proxy is in tests/proxy/test_threshold_events.py."""

from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType

import pytest

from auto_router.config.notify import DEFAULT_THRESHOLDS
from auto_router.limits.headroom import Window
from auto_router.rotation.events import (
    RESET,
    RETURN,
    ROTATION,
    THRESHOLD,
    transitions,
    window_events,
)
from auto_router.rotation.policy import BackendState, ProviderState, record_threshold

NOW = 10_000.0
NAMES = ("one", "two")
MARKS = DEFAULT_THRESHOLDS


def requests(used: int, *, reset_at: float = NOW + 60, seen_at: float = NOW) -> Window:
    return Window("requests", 20 - used, 20, reset_at, seen_at)


def crossed(before: tuple[Window, ...], after: tuple[Window, ...]) -> list[tuple[str, object]]:
    """(kind, mark or windows) of each event of one reading."""
    found = window_events("qwen", "one", before, after, NOW, MARKS)
    return [(e.kind, e.detail.get("mark", e.detail.get("windows"))) for e in found]


OLD = NOW - 30  # when the reading before was taken

TABLE = [
    ("first reading: no event", (), (requests(17),), []),
    ("below every mark", (requests(10, seen_at=OLD),), (requests(15),), []),
    ("reaches 80", (requests(15, seen_at=OLD),), (requests(16),), [(THRESHOLD, 80.0)]),
    ("already past 80: no second event", (requests(16, seen_at=OLD),), (requests(17),), []),
    ("reaches 95", (requests(18, seen_at=OLD),), (requests(19),), [(THRESHOLD, 95.0)]),
    ("reaches 100", (requests(19, seen_at=OLD),), (requests(20),), [(THRESHOLD, 100.0)]),
    ("from 75 to 100 at once: one event, the highest mark", (requests(15, seen_at=OLD),),
     (requests(20),), [(THRESHOLD, 100.0)]),
    ("less used (a sliding window): no event", (requests(18, seen_at=OLD),), (requests(12),), []),
    ("reset after 80: a reset", (requests(17, reset_at=NOW - 1, seen_at=OLD),), (requests(1),),
     [(RESET, ["requests"])]),
    ("reset under every mark: no news", (requests(5, reset_at=NOW - 1, seen_at=OLD),),
     (requests(1),), []),
    ("reset and at 80 again in one reading", (requests(17, reset_at=NOW - 1, seen_at=OLD),),
     (requests(16),), [(RESET, ["requests"]), (THRESHOLD, 80.0)]),
    ("a window with no limit (no utilization) says nothing",
     (Window("requests", 3, None, NOW + 5, OLD),), (Window("requests", 1, None, NOW + 5, NOW),), []),
    ("a subscription's 5h window by its name", (Window("5h", 30, 100, NOW + 99, OLD),),
     (Window("5h", 4, 100, NOW + 99, NOW),), [(THRESHOLD, 95.0)]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("before", "after", "events"), [r[1:] for r in TABLE], ids=[r[0] for r in TABLE]
)
def test_window_events(
    before: tuple[Window, ...], after: tuple[Window, ...], events: list[tuple[str, object]]
) -> None:
    assert crossed(before, after) == events


def test_no_marks_no_threshold_events() -> None:
    assert window_events("qwen", "one", (requests(15),), (requests(20),), NOW, ()) == []


def test_a_threshold_event_says_which_window_and_how_much() -> None:
    (event,) = window_events(
        "qwen", "one", (requests(15, seen_at=OLD),), (requests(16),), NOW, MARKS
    )
    assert event.line() == "threshold: qwen: one at 80% of its requests window (16/20)"
    assert event.to_json()["window"] == "requests"
    assert event.to_json()["reset_at"] == NOW + 60


def backend(
    current: str | None = "one", last: str | None = None, **providers: ProviderState
) -> BackendState:
    return BackendState(
        "qwen", current=current, last_success=last, providers=MappingProxyType(providers)
    )


def kinds(before: BackendState, after: BackendState, strategy: str) -> list[str]:
    found = transitions(NAMES, before, after, NOW, marks=MARKS, strategy=strategy)
    return [e.kind for e in found]


def test_priority_back_on_the_preferred_provider_is_a_return() -> None:
    on_two = backend("two", "two")
    back = backend("two", "one", one=ProviderState(successes=1))
    assert kinds(on_two, back, "priority") == [RETURN]
    (event,) = transitions(NAMES, on_two, back, NOW, strategy="priority")
    assert event.line() == "return: qwen: back on one (from two)"
    # Moving down the order, or under another strategy, is no return.
    assert kinds(backend("one", "one"), backend("one", "two"), "priority") == []
    assert kinds(on_two, back, "sticky") == []


def test_a_threshold_cooldown_from_a_headroom_write_is_told_without_a_reason() -> None:
    windows = (requests(19),)
    before = backend().with_provider("one", ProviderState(headroom=(requests(18, seen_at=OLD),)))
    with_windows = before.with_provider("one", replace(before.provider("one"), headroom=windows))
    after = record_threshold(NAMES, with_windows, "one", NOW, NOW + 60, "proxy: threshold: x")
    assert kinds(before, after, "priority") == [THRESHOLD, ROTATION, THRESHOLD]
    below, _, mark = transitions(NAMES, before, after, NOW, marks=MARKS)
    assert below.message == "one below its headroom mark"
    assert below.detail == {"until": NOW + 60, "reason": "proxy: threshold: x"}
    assert mark.detail["mark"] == 95.0
