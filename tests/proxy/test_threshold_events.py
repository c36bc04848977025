"""Threshold, reset and return events through a real proxy (issue 19, "Notifications"): a fake
upstream lowers ``x-ratelimit-remaining-requests`` on every answer; ``GET /v1/events`` and a
real ``[notify]`` command (a script appending to a file) see each of the 80, 95 and 100 %
marks once, not once per answer, the window's reset when the provider is used again, and,
under ``priority``, the return to the preferred provider."""

from __future__ import annotations

import contextlib
import json
import queue
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from auto_router.demo.fake_upstream import Dwindling, FakeProvider, FakeUpstream
from auto_router.paths import Paths
from auto_router.rotation.service import Rotator
from auto_router.secrets import Secret
from tests.helpers import closed_after_test, serve

from .conftest import Clock, make_app, two_providers

pytestmark = pytest.mark.integration

ADMIN = "adm-tok-0123456789abcdefXYZW"
AUTH = {"authorization": f"Bearer {ADMIN}"}
MESSAGES = [{"role": "user", "content": "hi"}]
NOTIFY = """\
import sys
with open(sys.argv[1], "a") as f:
    f.write(sys.argv[-1] + "\\n")
"""


def ask(client: openai.OpenAI) -> str:
    reply = client.chat.completions.create(model="m", messages=MESSAGES)  # type: ignore[arg-type]
    return reply.choices[0].message.content or ""


class Events:
    """The events of an SSE stream, read in a thread: ``next`` waits at most ``timeout``
    seconds (heartbeat comments would keep a plain read waiting forever)."""

    def __init__(self, lines: Iterator[str]) -> None:
        self._queue: queue.Queue[tuple[str, dict[str, object]]] = queue.Queue()
        self._thread = threading.Thread(target=self._read, args=(lines,), daemon=True)
        self._thread.start()

    def _read(self, lines: Iterator[str]) -> None:
        name = ""
        with contextlib.suppress(httpx.HTTPError):  # the stream closed at the test's end
            for line in lines:
                if line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: "):
                    self._queue.put((name, json.loads(line[6:])))

    def next(self, timeout: float = 20.0) -> tuple[str, dict[str, object]]:
        return self._queue.get(timeout=timeout)

    def take(self, count: int) -> list[tuple[str, dict[str, object]]]:
        return [self.next() for _ in range(count)]

    def none_more(self) -> bool:
        """Nothing more came (in a short while: the events of a write come at once)."""
        try:
            self._queue.get(timeout=0.5)
        except queue.Empty:
            return True
        return False


def configure(home: Paths, one: str, two: str, tmp: Path, backend: str) -> Path:
    script, out = tmp / "notify.py", tmp / "notified.txt"
    script.write_text(NOTIFY)
    command = json.dumps([sys.executable, str(script), str(out)])
    two_providers(home, one, two, extra_llm=f"[notify]\ncommand = {command}\n")
    text = home.llm_config.read_text().replace("providers =", f"{backend}\nproviders =")
    home.llm_config.write_text(text)
    return out


def notified(path: Path, count: int) -> list[str]:
    deadline = time.monotonic() + 20  # a hang guard, nothing is timed
    while time.monotonic() < deadline:
        lines = path.read_text().splitlines() if path.exists() else []
        if len(lines) >= count:
            return lines
        time.sleep(0.02)
    raise AssertionError(f"the notify command ran fewer than {count} times")


def test_each_mark_is_told_once_and_the_reset_when_used_again(
    home: Paths, clock: Clock, tmp_path: Path
) -> None:
    plan = Dwindling(FakeProvider("one", text="plan"), clock, limit=20, window=60.0)
    with FakeUpstream(plan) as up_one, FakeUpstream(FakeProvider("two")) as up_two:
        # rotate_below = 0: the plan serves to its last request, so every mark is reached
        out = configure(home, up_one.url, up_two.url, tmp_path, "rotate_below = 0")
        app = make_app(home, clock, admin_token=Secret(ADMIN))
        with serve(app) as base, httpx.Client(base_url=base, timeout=20) as admin:
            client = closed_after_test(
                openai.OpenAI(base_url=f"{base}/v1", api_key="k", max_retries=0)
            )
            with admin.stream("GET", "/v1/events?kinds=threshold,reset", headers=AUTH) as sse:
                lines = sse.iter_lines()
                assert next(lines) == ": connected"
                stream = Events(lines)
                assert [ask(client) for _ in range(23)] == ["plan"] * 23  # 3 past the limit
                seen = stream.take(3)
                assert stream.none_more()  # once per mark, not once per answer
                clock.advance(61.0)  # the window resets; nothing is told until it is used
                assert ask(client) == "plan"
                seen.append(stream.next())
                assert [ask(client) for _ in range(15)] == ["plan"] * 15  # 16 of 20 again
                seen.append(stream.next())
            told = notified(out, 5)
    assert [(kind, data["provider"], data.get("mark")) for kind, data in seen] == [
        ("threshold", "one", 80.0),
        ("threshold", "one", 95.0),
        ("threshold", "one", 100.0),
        ("reset", "one", None),
        ("threshold", "one", 80.0),  # a new crossing after the reset: told again
    ]
    assert seen[0][1]["window"] == "requests"
    assert told == [
        "threshold: qwen: one at 80% of its requests window (16/20)",
        "threshold: qwen: one at 95% of its requests window (19/20)",
        "threshold: qwen: one at 100% of its requests window (20/20)",
        "reset: qwen: requests window of one reset",
        "threshold: qwen: one at 80% of its requests window (16/20)",
    ]


def served_last(home: Paths, provider: str) -> None:
    deadline = time.monotonic() + 20  # a hang guard, nothing is timed
    while Rotator(home).state("qwen").last_success != provider:
        assert time.monotonic() < deadline, f"{provider}'s success was never written"
        time.sleep(0.01)


def test_priority_tells_the_overflow_and_the_return(
    home: Paths, clock: Clock, tmp_path: Path
) -> None:
    plan = Dwindling(FakeProvider("one", text="plan"), clock, limit=8, window=5.0)
    with FakeUpstream(plan) as up_one, FakeUpstream(FakeProvider("two", text="two")) as up_two:
        backend = 'strategy = "priority"\nrotate_below = 0.25'
        out = configure(home, up_one.url, up_two.url, tmp_path, backend)
        app = make_app(home, clock, admin_token=Secret(ADMIN))
        with serve(app) as base, httpx.Client(base_url=base, timeout=20) as admin:
            client = closed_after_test(
                openai.OpenAI(base_url=f"{base}/v1", api_key="k", max_retries=0)
            )
            with admin.stream("GET", "/v1/events", headers=AUTH) as sse:
                lines = sse.iter_lines()
                assert next(lines) == ": connected"
                stream = Events(lines)
                assert [ask(client) for _ in range(8)] == ["plan"] * 7 + ["two"]
                left = stream.take(3)
                served_last(home, "two")  # two's success is written in the background
                clock.advance(5.0)  # the plan's window resets
                assert ask(client) == "plan"
                back = stream.take(2)
                assert stream.none_more()
            told = notified(out, 5)
    # The 7th answer: 1 of 8 left, below the mark (25 %), and past the 80 % mark.
    assert [(kind, data["provider"], data.get("mark")) for kind, data in left] == [
        ("threshold", "one", None),
        ("rotation", "two", None),
        ("threshold", "one", 80.0),
    ]
    assert left[0][1]["message"] == "one below its headroom mark"
    # Back on the plan: the return (which says its cooldown ended), then the window's reset.
    assert [(kind, data["provider"]) for kind, data in back] == [
        ("return", "one"),
        ("reset", "one"),
    ]
    assert (back[0][1]["from"], back[0][1]["to"]) == ("two", "one")
    assert told == [
        "threshold: qwen: one below its headroom mark",
        "rotation: qwen: switched from one to two",
        "threshold: qwen: one at 80% of its requests window (7/8)",
        "return: qwen: back on one (from two)",
        "reset: qwen: requests window of one reset",
    ]
