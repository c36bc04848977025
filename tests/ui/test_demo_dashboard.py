"""``auto-router demo --dashboard``: the scripted loop a newcomer watches (the real command, in
a subprocess with a timeout, run fast), and the dashboard against it in real Chromium: a
provider cools down, the requests fail over, a window fills and resets."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from auto_router.demo.live import LiveDemo
from tests.ui.conftest import Watched

pytestmark = pytest.mark.integration


def first(lines: list[str], pattern: str, after: int = -1) -> int:
    """The index of the first line after ``after`` that matches ``pattern``."""
    for i, line in enumerate(lines):
        if i > after and re.search(pattern, line):
            return i
    pytest.fail(f"no line matches {pattern!r} after line {after}:\n" + "\n".join(lines))


def test_the_scripted_loop_cools_fails_over_and_fills_and_resets_a_window(
    tmp_path: Path,
) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    fast = ["--pace", "0.5", "--steps", "36"]
    done = subprocess.run(
        [sys.executable, "-m", "auto_router", "demo", "--dashboard", "--dir", str(tmp_path), *fast],
        capture_output=True,
        text=True,
        timeout=120,
        env={**env, "NO_COLOR": "1"},
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    lines = done.stdout.splitlines()
    # No display: the page's address is printed, with the token in its fragment.
    url = next(line.strip() for line in lines if "/ui#token=ara_" in line)
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/ui#token=ara_[\w-]+", url)
    steps = [
        line for line in lines if re.match(r"\d\d:\d\d:\d\d #\d+ ", line) or "(scripted:" in line
    ]
    assert "#0 200 from live/sub | sub's window: 1/10 used" in steps[0]
    # sub's window runs low: the requests overflow to alpha, sub's window left as it was.
    overflow = first(steps, r"200 from live/alpha \| sub's window: 8/10 used")
    assert all("from live/sub" in s for s in steps[:overflow] if "session" not in s)
    # alpha's scripted 429: the very next request fails over to beta...
    tripped = first(steps, r"scripted: alpha's quota runs out", overflow)
    assert re.search(r"200 from live/beta \(failed over from live/alpha\)", steps[tripped + 1])
    # ...which serves while alpha cools down; alpha comes back once its Retry-After is over.
    back = first(steps, r"200 from live/alpha \|", tripped + 2)
    assert all("from live/beta" in s for s in steps[tripped + 1 : back])
    # sub's window resets: the requests return to it, on a fresh window.
    returned = first(steps, r"200 from live/sub \| sub's window: 1/10 used", back)
    assert returned > back
    assert "Traceback" not in done.stderr


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[LiveDemo]:
    live = LiveDemo(tmp_path, open(os.devnull, "w"), pace=0.3)  # noqa: SIM115
    with live.running():
        yield live
    live.out.close()


def test_the_dashboard_shows_the_demo_cool_fail_over_and_a_window_fill_and_reset(
    demo: LiveDemo, watched: Watched
) -> None:
    page: Any = watched.page
    page.goto(f"{demo.url}/ui#token={demo.token}")
    page.locator("#conn.ok").wait_for(timeout=10_000)
    page.locator("body[data-events=open]").wait_for(timeout=10_000)
    loop = threading.Thread(target=demo.loop, args=(45,), daemon=True)
    loop.start()
    sub = page.locator('li.provider[data-provider="sub"]')
    bar = sub.locator('.bar[data-window="requests"]')
    # The window fills answer by answer...
    page.wait_for_function(
        '() => Number(document.querySelector(\'li.provider[data-provider="sub"] '
        '.bar[data-window="requests"]\')?.dataset.used) >= 80',
        timeout=15_000,
    )
    # ...sub is skipped until it resets, and says where the traffic went meanwhile.
    overflow = sub.locator(".overflow")
    overflow.wait_for(timeout=5000)
    assert re.fullmatch(r"overflowing to (alpha|beta), back at \d\d:\d\d", overflow.inner_text())
    # alpha's scripted 429: it cools down with a countdown; the feed shows the failover.
    alpha = page.locator('li.provider[data-provider="alpha"]')
    alpha.locator('[data-state="cooling"]').wait_for(timeout=15_000)
    assert re.search(r"back in \d+s", alpha.locator(".ticking").inner_text())
    page.locator("#feed-rows tr.failover").first.wait_for(timeout=5000)
    cells = page.locator("#feed-rows tr.failover").first.locator("td").all_inner_texts()
    assert cells[2] == "live/beta" and cells[8] == "alpha (429)"
    # alpha comes back; sub's window resets and the requests return to it.
    alpha.locator('[data-state="cooling"]').wait_for(state="detached", timeout=15_000)
    page.wait_for_function(
        '() => Number(document.querySelector(\'li.provider[data-provider="sub"] '
        '.bar[data-window="requests"]\')?.dataset.used) < 50',
        timeout=20_000,
    )
    sub.locator('[data-state="current"]').wait_for(timeout=10_000)
    assert int(bar.get_attribute("data-used")) < 50
    # The session the demo names is listed by its code, on the provider it stays on.
    session = page.locator("#sessions-rows tr").first
    session.wait_for(timeout=5000)
    assert "demo-agent-session" not in page.content()
    assert "client session" in session.inner_text()
    page.context.close()  # before the proxy stops: it ends the event stream
    loop.join(60)
    assert watched.errors == []
