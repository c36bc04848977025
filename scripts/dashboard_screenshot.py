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

The image is written only when what it shows has changed: the clock times, countdowns and
random ids on the page differ on every run, so its pixels always would. Its content is a
digest of the page's files and of the page's text with the numbers and ids taken out
(``content_digest``), kept in the PNG itself (a ``tEXt`` chunk, PNG spec 11.3.4.3): a run
that finds the same digest in the file there leaves it alone (``unchanged PATH``), so the
test run does not dirty the tree with a picture of the same page.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import re
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from auto_router.demo.actions import Dwindling
from auto_router.demo.fake_upstream import FakeProvider, FakeUpstream, free_port
from auto_router.paths import Paths
from auto_router.proxy import ProxyApp, ProxyOptions, create_app
from auto_router.proxy.server import ProxyServer, uvicorn_config
from auto_router.proxy.webui import FILES, asset
from auto_router.runs import RuntimeDir, RunTokens
from auto_router.secrets import Secret

CHROMIUM = "/usr/bin/chromium"
TOKEN = "ara_dashboard-scene-token-0123456789abcdef"
ROOT = Path(__file__).resolve().parent.parent
#: Keys in the scene's files: no page, answer or screenshot may show them.
SECRETS = ("sk-one-secret-key-123456", "sk-two-secret-key-654321", "sk-three-secret-key-999")
#: ``one``'s key pool in ``Scene(pool=True)``: the fake answers 429 to the first.
POOL = ("sk-one-k1-secret-aaaa1111", "sk-one-k2-secret-bbbb2222")

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
        pool: bool = False,
        managed: bool = False,
    ) -> None:
        self.paths = Paths(config_dir=directory, data_dir=directory)
        self.one = FakeProvider("one", text="Hello from one.", retry_after=600)
        self.two = FakeProvider("two", text="Hello from two.")
        self.two_script = Dwindling(self.two, time.time, limit=two_limit, window=two_window)
        self.strategy = strategy
        #: ``one`` has a pool of two keys; the first (``POOL[0]``) is out of quota.
        self.pool = pool
        if pool:
            self.one.limited_when = "k1"
        #: Run as the managed proxy is: only registered runs' tokens use the data path.
        self.managed = managed
        self.token = TOKEN
        self.url = ""
        self.app: ProxyApp | None = None

    @contextlib.contextmanager
    def running(self) -> Iterator[Scene]:
        with FakeUpstream(self.one) as one, FakeUpstream(self.two_script) as two:
            llm = LLM.replace("{strategy}", self.strategy)
            self.paths.llm_config.write_text(llm, encoding="utf-8")
            meta = META.format(one=one.url, two=two.url)
            if self.pool:
                keys = f"api_keys = {list(POOL)!r}".replace("'", '"')
                meta = meta.replace(f'api_key = "{SECRETS[0]}"', keys)
            self.paths.provider_metadata.write_text(meta, encoding="utf-8")
            runs = RunTokens(RuntimeDir(self.paths)) if self.managed else None
            options = ProxyOptions(
                paths=self.paths, config_interval=0.0, admin_token=Secret(TOKEN), run_tokens=runs
            )
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

    def chat(self, text: str = "hi", session: str | None = None) -> Any:
        """One chat completion through the proxy, with the openai SDK (in ``session``: with
        its ``X-Auto-Router-Session``)."""
        import openai

        client = openai.OpenAI(base_url=f"{self.url}/v1", api_key="unused", max_retries=0)
        headers = {"x-auto-router-session": session} if session else None
        with client:
            return client.chat.completions.create(
                model="qwen3-coder-plus",
                messages=[{"role": "user", "content": text}],
                extra_headers=headers,
            )

    def run(self, *command: str) -> None:
        """``auto-router run -- command`` on the scene's files (a run in ``history``)."""
        config = str(self.paths.config_dir)
        subprocess.run(
            [sys.executable, "-m", "auto_router", "--config-dir", config, "run", "--", *command],
            capture_output=True,
            timeout=60,
            env={**os.environ, "NO_COLOR": "1"},
            check=False,
        )


def traffic(scene: Scene) -> None:
    """What the screenshot shows: a run in the history, three answers from ``one`` (one in a
    session), then its quota runs out and the requests fail over to ``two``, whose window
    fills."""
    scene.run(sys.executable, "-c", "print('done')")
    for i in range(3):
        scene.chat(session="agent-session" if i == 1 else None)
    scene.limit_one()
    for _ in range(3):
        scene.chat()


def screenshot(scene: Scene, *, width: int = 1280, height: int = 800) -> tuple[bytes, str]:
    """Open the page, make the traffic while it watches: the whole page as a PNG, and what
    it shows (``content_digest``)."""
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
            page.locator("#sessions-rows tr").first.wait_for()
            page.locator("input[name=period][value='1d']").check()
            page.locator("#stats-rows tr").first.wait_for()
            page.locator("#charts li.pcharts").first.wait_for()
            page.locator("#runs li.run").first.wait_for()
            image = page.screenshot(full_page=True)
            return image, content_digest(page.inner_text("body"), width, height)
        finally:
            browser.close()


#: The PNG text chunk's keyword for the digest.
KEYWORD = "auto-router-content"


def content_digest(text: str, width: int, height: int) -> str:
    """The page's files and its text without what changes on every run (ids, numbers)."""
    digest = hashlib.sha256(f"{width}x{height}".encode())
    for name in sorted(FILES):
        digest.update(asset(name))
    text = re.sub(r"\b[0-9a-f]{8,}\b", "#", text)  # run ids, session codes
    digest.update(re.sub(r"\d+", "0", text).encode())
    return digest.hexdigest()


def with_text(png: bytes, keyword: str, value: str) -> bytes:
    """``png`` with a ``tEXt`` chunk right after its IHDR (8-byte signature, 25-byte IHDR)."""
    data = keyword.encode("latin-1") + b"\0" + value.encode("latin-1")
    chunk = struct.pack(">I", len(data)) + b"tEXt" + data
    chunk += struct.pack(">I", zlib.crc32(b"tEXt" + data))
    return png[:33] + chunk + png[33:]


def text_of(png: bytes, keyword: str) -> str | None:
    """The value of the ``tEXt`` chunk ``keyword`` of ``png``, if it has one."""
    at = 8
    while at + 8 <= len(png):
        size, kind = struct.unpack(">I4s", png[at : at + 8])
        if kind == b"tEXt":
            key, _, value = png[at + 8 : at + 8 + size].partition(b"\0")
            if key.decode("latin-1") == keyword:
                return value.decode("latin-1")
        if kind == b"IDAT":
            return None  # text chunks we write come before the image data
        at += 12 + size
    return None


def save(out: Path, image: bytes, digest: str) -> bool:
    """Write ``image`` to ``out`` unless the file there shows the same content."""
    if out.exists() and text_of(out.read_bytes(), KEYWORD) == digest:
        return False
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(with_text(image, KEYWORD, digest))
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images" / "dashboard.png")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp, Scene(Path(tmp)).running() as scene:
        image, digest = screenshot(scene)
    print(f"{'saved' if save(args.out, image, digest) else 'unchanged'} {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
