"""Rotation events: which state changes make which events (a table), the bus's bounds, the
Rotator publishing them, ``[notify]`` checked, and the notify command's timeout."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from types import MappingProxyType

import pytest

from auto_router.config import load_config
from auto_router.config.notify import DEFAULT_THRESHOLDS, NotifyConfig
from auto_router.errors import ConfigValidationError
from auto_router.paths import Paths
from auto_router.rotation.events import (
    CIRCUIT,
    EXHAUSTION,
    RECOVERY,
    RESET,
    ROTATION,
    THRESHOLD,
    Event,
    EventBus,
    marks_crossed,
    transitions,
)
from auto_router.rotation.notify import Notifier, run_command
from auto_router.rotation.policy import BackendState, ProviderState
from auto_router.rotation.service import Rotator

NOW = 1000.0
NAMES = ("one", "two")


def state(current: str | None = "one", **providers: ProviderState) -> BackendState:
    return BackendState("qwen", current=current, providers=MappingProxyType(providers))


COOLING = ProviderState(cooldown_until=NOW + 60)
OPEN = ProviderState(streak=3, circuit_until=NOW + 30)
FAILING = ProviderState(streak=2, failures=2)
HEALED = ProviderState(failures=2, successes=1)

TABLE = [
    ("nothing changed", state(), state(), None, []),
    ("a switch", state(), state("two", one=COOLING), None, [ROTATION]),
    ("all cooling", state("two", one=COOLING), state("two", one=COOLING, two=COOLING), None,
     [EXHAUSTION]),
    ("circuit opens", state(one=FAILING), state(one=OPEN), None, [CIRCUIT]),
    ("circuit closes, serving again", state(one=OPEN), state(one=HEALED), None,
     [CIRCUIT, RECOVERY]),
    ("answered after failures", state(one=FAILING), state(one=HEALED), None, [RECOVERY]),
    ("a cooldown cleared (reset)", state("two", one=COOLING), state("two"), None, [RECOVERY]),
    ("answered after its cooldown ran out: a reset",
     state("two", one=ProviderState(cooldown_until=NOW - 1)),
     state("two", one=ProviderState(successes=1)), None, [RESET]),
    ("answered after failures and a cooldown: a recovery",
     state("two", one=ProviderState(cooldown_until=NOW - 1, streak=1)),
     state("two", one=ProviderState(successes=1)), None, [RECOVERY]),
    ("a healthy provider answering is no event", state(one=ProviderState(successes=1)),
     state(one=ProviderState(successes=2)), None, []),
    ("below the headroom mark", state(), state("two", one=COOLING), "proxy: threshold 4% left",
     [THRESHOLD, ROTATION]),
    ("a plain limit is no threshold", state(), state("two", one=COOLING), "proxy: HTTP 429",
     [ROTATION]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("before", "after", "reason", "kinds"),
    [row[1:] for row in TABLE],
    ids=[row[0] for row in TABLE],
)
def test_transitions(
    before: BackendState, after: BackendState, reason: str | None, kinds: list[str]
) -> None:
    assert [e.kind for e in transitions(NAMES, before, after, NOW, reason)] == kinds


def test_a_switch_says_from_and_to() -> None:
    (event,) = transitions(NAMES, state(), state("two", one=COOLING), NOW)
    assert event.line() == "rotation: qwen: switched from one to two"
    assert event.to_json()["from"] == "one" and event.to_json()["to"] == "two"


def test_a_full_queue_drops_and_counts_and_never_blocks() -> None:
    bus = EventBus()
    slow = bus.subscribe(limit=2)
    event = Event(ROTATION, "qwen", "two", "x", NOW)
    bus.publish([event] * 5)
    assert len(slow.drain()) == 2
    assert slow.dropped == 3
    slow.close()
    assert not bus.listening


def test_the_rotator_publishes_what_its_writes_change(tmp_path: Path) -> None:
    paths = Paths(config_dir=tmp_path, data_dir=tmp_path)
    paths.llm_config.write_text('[backends.qwen]\nproviders = ["one", "two"]\n')
    paths.provider_metadata.write_text(
        '[qwen.one]\nbase_url = "http://127.0.0.1:9/v1"\n[qwen.two]\nbase_url = "http://127.0.0.1:9/v1"\n'
    )
    rotator = Rotator(paths, clock=lambda: NOW)
    with rotator.events.subscribe() as sub:
        rotator.record_usage_limit("qwen", "one", reason="proxy: HTTP 429")
        rotator.record_usage_limit("qwen", "two", reason="proxy: HTTP 429")
        rotator.reset("qwen")
        kinds = [(e.kind, e.provider) for e in sub.drain()]
    assert kinds == [
        (ROTATION, "two"),
        (EXHAUSTION, None),
        (ROTATION, "one"),
        (RECOVERY, "one"),
        (RECOVERY, "two"),
    ]


def _config(tmp_path: Path, notify: str) -> Paths:
    paths = Paths(config_dir=tmp_path, data_dir=tmp_path)
    paths.llm_config.write_text(f"[backends.qwen]\nproviders = []\n\n[notify]\n{notify}\n")
    paths.provider_metadata.write_text("")
    return paths


def test_notify_config(tmp_path: Path) -> None:
    config = load_config(_config(tmp_path, 'command = ["notify-send", "auto-router"]'))
    assert config.notify == NotifyConfig(("notify-send", "auto-router"), DEFAULT_THRESHOLDS)
    config = load_config(_config(tmp_path, "command = []\nthresholds = [95, 50]\ntimeout = 2"))
    assert config.notify.thresholds == (50.0, 95.0) and config.notify.timeout == 2.0
    assert load_config(_config(tmp_path, "thresholds = []")).notify.thresholds == ()  # none


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('command = "notify-send"', "[notify].command"),
        ("command = [1]", "[notify].command"),
        ("thresholds = [0, 80]", "[notify].thresholds"),
        ("thresholds = [120]", "[notify].thresholds"),
        ("timeout = -1", "[notify].timeout"),
    ],
)
def test_notify_problems_name_file_line_and_key(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(ConfigValidationError) as caught:
        load_config(_config(tmp_path, text))
    assert caught.value.key_path == key
    assert caught.value.line == 5
    assert caught.value.path == tmp_path / "llm_config.toml"


def test_a_hanging_command_and_its_children_are_killed(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    script = (
        "import subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
        f"open({str(pid_file)!r}, 'w').write(str(child.pid))\n"
        "time.sleep(600)\n"
    )
    started = time.monotonic()
    assert run_command([sys.executable, "-c", script], 1.0, str) is None
    assert time.monotonic() - started < 60  # a hang guard: it did not wait the 600 s
    child = int(pid_file.read_text())
    with pytest.raises(ProcessLookupError):
        for _ in range(500):  # killed with the group; reaped by init, which may take a moment
            os.kill(child, 0)
            time.sleep(0.02)


def test_a_failing_command_is_logged_redacted_and_the_next_event_runs(tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    script = (
        "import sys\n"
        "if 'fail' in sys.argv[-1]: sys.exit('sk-secret-000 leaked')\n"
        f"open({str(out)!r}, 'a').write(sys.argv[-1] + '\\n')\n"
    )
    bus = EventBus()
    config = NotifyConfig((sys.executable, "-c", script))
    seen: list[str] = []
    notifier = Notifier(
        bus, lambda: config, lambda t: seen.append(t) or t.replace("sk-secret-000", "****")
    ).start()
    bus.publish(
        [Event(ROTATION, "qwen", "x", "fail", NOW), Event(ROTATION, "qwen", "y", "ok", NOW)]
    )
    deadline = time.monotonic() + 20
    while not out.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    notifier.close()
    assert out.read_text() == "rotation: qwen: ok\n"
    assert any("sk-secret-000" in text for text in seen)  # went through the redactor
    assert notifier.ran == 2


@pytest.mark.parametrize(
    ("before", "after", "crossed"),
    [(None, 50.0, ()), (70.0, 85.0, (80.0,)), (79.0, 100.0, (80.0, 95.0, 100.0)),
     (85.0, 90.0, ()), (96.0, 10.0, ())],
)  # fmt: skip
def test_marks_crossed(before: float | None, after: float, crossed: tuple[float, ...]) -> None:
    """Percent used before and after an answer -> the ``[notify] thresholds`` it passed."""
    assert marks_crossed(before, after, DEFAULT_THRESHOLDS) == crossed


def test_close_with_finish_runs_the_events_still_queued(tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    script = f"import sys; open({str(out)!r}, 'a').write(sys.argv[-1] + '\\n')\n"
    bus = EventBus()
    config = NotifyConfig((sys.executable, "-c", script))
    notifier = Notifier(bus, lambda: config).start()
    bus.publish([Event(ROTATION, "qwen", "x", f"event {n}", NOW) for n in range(3)])
    notifier.close(20.0, finish=True)  # at once: the events are still queued
    assert out.read_text().splitlines() == [f"rotation: qwen: event {n}" for n in range(3)]
    bus.publish([Event(ROTATION, "qwen", "x", "after", NOW)])  # closed: not run
    assert notifier.ran == 3
