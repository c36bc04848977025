"""``auto-router demo --dashboard``: rotation to watch, live, with the dashboard open.

A real proxy (the app ``auto-router proxy`` serves, in this process, on a free port) in
front of three fake providers of one backend, ``live`` (``strategy = "priority"``):

- ``sub``, subscription-like: first choice, its answers carry rate-limit headers whose
  ``requests`` window (``Script.limit`` requests per cycle) runs down answer by answer. Below
  its headroom mark (``rotate_below``) the proxy moves on until the window resets, and comes
  back to it then: the dashboard says "overflowing to alpha, back at HH:MM";
- ``alpha``, the overflow: once a cycle its quota runs out (a scripted 429 with
  ``Retry-After``): it cools down, with a countdown, and the requests fail over to ``beta``;
- ``beta``, the last resort, always answers.

One request goes through the proxy every ``pace`` seconds (every few of them in a session of
their own, which the dashboard lists with the provider it stays on), and a line says what
happened, until Ctrl-C. ``Script`` is the sequence in steps (one request a step), so a test
can run it fast (a smaller ``pace``) and check it.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import httpx

from ..paths import Paths
from ..secrets import Secret
from .actions import Action, Dwindling, Seen
from .fake_upstream import FakeProvider, FakeUpstream, free_port

LLM = """\
# Written by `auto-router demo --dashboard`: one backend, three fake providers on localhost.
[backends.live]
model = "demo-model"
strategy = "priority"            # the first provider that may serve: the "subscription"
providers = ["sub", "alpha", "beta"]

[message_backend]
default = "live"

[proxy]
max_retry_wait = 0               # a 429 fails over at once, never waits its Retry-After out
"""

META = """\
[live.sub]
description = "subscription-like: its request window fills, then resets"
base_url = "{sub}"
api_key = "demo-key-sub-0123456789"
rotate_below = 0.25              # move on with less than a quarter of the window left
price_input = 0.0                # a subscription: nothing per token
price_output = 0.0

[live.alpha]
description = "pay as you go: runs out of quota once a cycle (scripted 429)"
base_url = "{alpha}"
api_key = "demo-key-alpha-0123456789"
price_input = 3.0
price_output = 15.0

[live.beta]
description = "the last resort: always answers"
base_url = "{beta}"
api_key = "demo-key-beta-0123456789"
price_input = 0.5
price_output = 1.5
"""


@dataclass(frozen=True)
class Script:
    """The scripted cycle, in steps (one request a step)."""

    #: Steps in a cycle; ``sub``'s window lasts as long.
    cycle: int = 30
    #: Requests in ``sub``'s window.
    limit: int = 10
    #: The step of each cycle at which ``alpha``'s next answer is a 429.
    outage_at: int = 14
    #: Its ``Retry-After``, in steps.
    outage: int = 6
    #: Every this many steps, the request is in the session ``SESSION``.
    session_every: int = 4


#: The session the demo's every ``session_every``-th request names (X-Auto-Router-Session).
SESSION = "demo-agent-session"


@dataclass
class Flaky:
    """A fake provider whose next answer, once ``trip`` is called, is a 429 (then fine)."""

    inner: FakeProvider
    tripped: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def trip(self) -> None:
        with self._lock:
            self.tripped = True

    def __call__(self, seen: Seen) -> Action:
        with self._lock:
            limited, self.tripped = self.tripped, False
        self.inner.behaviour = "rate-limited" if limited else "ok"
        return self.inner(seen)


class LiveDemo:
    """The fakes, the proxy and the loop; ``running()`` starts the first two."""

    def __init__(
        self, directory: Path, out: TextIO, *, pace: float = 1.0, script: Script | None = None
    ) -> None:
        self.paths = Paths(config_dir=directory, data_dir=directory)
        self.out = out
        self.pace = pace
        self.script = script or Script()
        outage = max(1, round(self.script.outage * pace))
        self.sub = FakeProvider("sub", text="Hello from sub.", pieces=None)
        self.window = Dwindling(
            self.sub, time.time, limit=self.script.limit, window=self.script.cycle * pace
        )
        self.alpha = Flaky(FakeProvider("alpha", text="Hello from alpha.", retry_after=outage))
        self.beta = FakeProvider("beta", text="Hello from beta.", pieces=None)
        self.token = "ara_" + secrets.token_urlsafe(24)
        self.url = ""

    def say(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    @contextlib.contextmanager
    def running(self) -> Iterator[LiveDemo]:
        with (
            FakeUpstream(self.window) as sub,
            FakeUpstream(self.alpha) as alpha,
            FakeUpstream(self.beta) as beta,
        ):
            self.paths.llm_config.write_text(LLM, encoding="utf-8")
            self.paths.provider_metadata.write_text(
                META.format(sub=sub.url, alpha=alpha.url, beta=beta.url), encoding="utf-8"
            )
            with serve(self.paths, Secret(self.token)) as url:
                self.url = url
                yield self

    def step(self, n: int, client: httpx.Client) -> str:
        """Request number ``n``: what the script does first, then the request; its line."""
        script = self.script
        if n % script.cycle == script.outage_at:
            self.alpha.trip()
            self.say("  (scripted: alpha's quota runs out: its next answer is a 429)")
        session = n % script.session_every == script.session_every - 1
        headers = {"x-auto-router-session": SESSION} if session else {}
        response = client.post(
            f"{self.url}/v1/chat/completions",
            json={"model": "demo-model", "messages": [{"role": "user", "content": "hi"}]},
            headers=headers,
        )
        line = step_line(n, response, self.window, session, time.time())
        self.say(line)
        return line

    def loop(self, steps: int | None = None, sleep: Callable[[float], None] = time.sleep) -> int:
        """Until Ctrl-C (or ``steps`` requests); 0 when every request was answered."""
        failures = 0
        with httpx.Client(timeout=30) as client:
            n = 0
            while steps is None or n < steps:
                started = time.monotonic()
                line = self.step(n, client)
                failures += " 200 " not in line
                n += 1
                sleep(max(0.0, self.pace - (time.monotonic() - started)))
        return 1 if failures else 0


def step_line(
    n: int, response: httpx.Response, window: Dwindling, session: bool, now: float
) -> str:
    """``06:58:01  #12 200 from alpha (failed over from live/sub)  sub's window: 8/10 used``."""
    who = response.headers.get("x-auto-router-provider", "-")
    parts = [time.strftime("%H:%M:%S", time.localtime(now)), f"#{n}", str(response.status_code)]
    parts.append(f"from {who}")
    failed = response.headers.get("x-auto-router-failed-over-from")
    if failed:
        parts.append(f"(failed over from {failed})")
    if session:
        parts.append(f"[session {SESSION}]")
    if window.started is not None:
        if now >= window.started + window.window:
            parts.append("| sub's window: reset, full again")
        else:
            parts.append(f"| sub's window: {window.answered}/{window.limit} used")
    return " ".join(parts)


@contextlib.contextmanager
def serve(paths: Paths, token: Secret) -> Iterator[str]:
    """The proxy app on uvicorn on a free loopback port, in a thread; its base URL."""
    from ..proxy import ProxyOptions, create_app
    from ..proxy.server import ProxyServer, uvicorn_config

    app = create_app(ProxyOptions(paths=paths, config_interval=0.0, admin_token=token))
    port = free_port()
    server = ProxyServer(uvicorn_config(app, "127.0.0.1", port), app)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the demo's proxy did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


def run_live_demo(
    out: TextIO,
    directory: Path,
    show: Callable[[str, str], None],
    *,
    pace: float = 1.0,
    steps: int | None = None,
) -> int:
    """Start it all, ``show(url, token)`` the dashboard, loop until Ctrl-C (or ``steps``)."""
    from ..proxy.logs import configure_logging

    # The demo's own lines are the output; the proxy says only what goes wrong (on stderr).
    configure_logging(level=logging.WARNING)
    demo = LiveDemo(directory, out, pace=pace)
    with demo.running():
        demo.say(f"The demo's proxy listens on {demo.url}; its files are in {directory}")
        show(demo.url, demo.token)
        demo.say(
            "Watch the dashboard: sub's window fills and the requests overflow to alpha; "
            "alpha runs out of quota and cools down, they fail over to beta; alpha comes back; "
            "sub's window resets and the requests return to it. Ctrl-C stops."
        )
        try:
            return demo.loop(steps)
        except KeyboardInterrupt:
            demo.say("stopped")
            return 0
