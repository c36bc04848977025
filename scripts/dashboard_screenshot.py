#!/usr/bin/env python3
"""Save a screenshot of the dashboard to docs/images/dashboard.png, from a real session.

A real proxy (the app ``auto-router proxy`` serves, on uvicorn on a free port) in front of
the project's fake upstream (``auto_router.demo``): one provider runs out of quota, the
requests fail over to the next, whose rate-limit window fills answer by answer. Requests go
through the official ``openai`` SDK; the page is opened in Debian's headless Chromium
(``/usr/bin/chromium``, driven by Playwright, no browser downloaded) with the token in its
fragment, as ``auto-router ui`` opens it.

``Scene`` is also what tests/ui/ run their browser tests against. Run from the repository:
``python scripts/dashboard_screenshot.py [--out PATH]`` (tests/ui/test_screenshot.py does).
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from auto_router.demo.actions import Dwindling
from auto_router.demo.fake_upstream import FakeProvider, FakeUpstream, free_port
from auto_router.paths import Paths
from auto_router.proxy import ProxyApp, ProxyOptions, create_app
from auto_router.proxy.server import ProxyServer, uvicorn_config
from auto_router.secrets import Secret

CHROMIUM = "/usr/bin/chromium"
TOKEN = "ara_dashboard-scene-token-0123456789abcdef"
ROOT = Path(__file__).resolve().parent.parent
#: Keys in the scene's files: no page, answer or screenshot may show them.
SECRETS = ("sk-one-secret-key-123456", "sk-two-secret-key-654321", "sk-three-secret-key-999")

LLM = """\
# The dashboard scene: one backend, three providers on localhost.
[backends.qwen]
model = "qwen3-coder-plus"   # what clients ask for
providers = ["one", "two", "three"]
strategy = "{strategy}"

[message_backend]
default = "qwen"
"""

META = """\
[qwen.one]
description = "first choice"
base_url = "{one}"
api_key = "sk-one-secret-key-123456"
model = "one-model"
price_input = 3.0
price_output = 15.0

[qwen.two]
description = "the backup, its window filling"
base_url = "{two}"
api_key = "sk-two-secret-key-654321"
model = "two-model"
price_input = 0.5
price_output = 1.5

# off for now
[qwen.three]
enabled = false
base_url = "{one}"
api_key = "sk-three-secret-key-999"
"""


class Scene:
    """Two fake upstreams and a real proxy in front of them, with the management token.

    ``one`` answers until ``limit_one()``; ``two``'s answers carry rate-limit headers whose
    ``requests`` window (``two_limit`` per ``two_window`` seconds) runs down."""

    def __init__(
        self,
        directory: Path,
        *,
        strategy: str = "sticky",
        two_limit: int = 10,
        two_window: float = 600,
    ) -> None:
        self.paths = Paths(config_dir=directory, data_dir=directory)
        self.one = FakeProvider("one", text="Hello from one.", retry_after=600)
        self.two = FakeProvider("two", text="Hello from two.")
        self.two_script = Dwindling(self.two, time.time, limit=two_limit, window=two_window)
        self.strategy = strategy
        self.token = TOKEN
        self.url = ""
        self.app: ProxyApp | None = None

    @contextlib.contextmanager
    def running(self) -> Iterator[Scene]:
        with FakeUpstream(self.one) as one, FakeUpstream(self.two_script) as two:
            llm = LLM.replace("{strategy}", self.strategy)
            self.paths.llm_config.write_text(llm, encoding="utf-8")
            self.paths.provider_metadata.write_text(
                META.format(one=one.url, two=two.url), encoding="utf-8"
            )
            options = ProxyOptions(paths=self.paths, config_interval=0.0, admin_token=Secret(TOKEN))
            self.app = create_app(options)
            port = free_port()
            server = ProxyServer(uvicorn_config(self.app, "127.0.0.1", port), self.app)
            thread = threading.Thread(target=server.run, daemon=True)
            thread.start()
            deadline = time.monotonic() + 30
            while not server.started:
                if not thread.is_alive() or time.monotonic() > deadline:
                    raise RuntimeError("the proxy did not start")
                time.sleep(0.01)
            self.url = f"http://127.0.0.1:{port}"
            try:
                yield self
            finally:
                server.should_exit = True
                thread.join(30)

    @property
    def page_url(self) -> str:
        return f"{self.url}/ui#token={self.token}"

    def limit_one(self) -> None:
        """From now on ``one`` answers 429 with its own error body and a Retry-After."""
        self.one.behaviour = "rate-limited"

    def chat(self, text: str = "hi") -> Any:
        """One chat completion through the proxy, with the openai SDK."""
        import openai

        client = openai.OpenAI(base_url=f"{self.url}/v1", api_key="unused", max_retries=0)
        with client:
            return client.chat.completions.create(
                model="qwen3-coder-plus", messages=[{"role": "user", "content": text}]
            )


def traffic(scene: Scene) -> None:
    """What the screenshot shows: three answers from ``one``, then its quota runs out and
    the requests fail over to ``two``, whose window fills."""
    for _ in range(3):
        scene.chat()
    scene.limit_one()
    for _ in range(3):
        scene.chat()


def screenshot(scene: Scene, out: Path, *, width: int = 1280, height: int = 800) -> None:
    """Open the page, make the traffic while it watches, save the whole page to ``out``."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.goto(scene.page_url)
            page.locator("#conn.ok").wait_for()
            page.locator("body[data-events=open]").wait_for()
            traffic(scene)
            page.locator('[data-provider="one"] [data-state="cooling"]').wait_for()
            page.locator('#events li[data-kind="rotation"]').wait_for()
            page.locator("#feed-rows tr:nth-child(6)").wait_for()
            page.locator("input[name=period][value='1d']").check()
            page.locator("#stats-rows tr").first.wait_for()
            out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(out), full_page=True)
        finally:
            browser.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images" / "dashboard.png")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp, Scene(Path(tmp)).running() as scene:
        screenshot(scene, args.out)
    print(f"saved {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
