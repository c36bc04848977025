"""The dashboard's browser tests: Debian's Chromium driven by Playwright, never a downloaded
browser, against a real proxy and the project's fake upstream (scripts/dashboard_screenshot.py
``Scene``). A missing /usr/bin/chromium skips them with the reason; under CI=true it fails
(.ci/run installs it)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scripts.dashboard_screenshot import CHROMIUM, Scene
from tests.helpers import require_program

#: A name the browser resolves to 127.0.0.1, as a DNS-rebinding page's own name would.
REBOUND = "rebound.example"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    require_program(CHROMIUM, "apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(
            executable_path=CHROMIUM, args=[f"--host-resolver-rules=MAP {REBOUND} 127.0.0.1"]
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def scene(tmp_path: Path) -> Iterator[Scene]:
    with Scene(tmp_path).running() as running:
        yield running


class Watched:
    """A page and what its console and network said."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.errors: list[str] = []
        self.requests: list[Any] = []
        page.on("console", self._console)
        page.on("pageerror", self._error)
        page.on("request", self._request)

    def _console(self, message: Any) -> None:
        if message.type == "error":
            self.errors.append(message.text)

    def _error(self, error: Any) -> None:
        self.errors.append(str(error))

    def _request(self, request: Any) -> None:
        self.requests.append(request)


@pytest.fixture
def watched(browser: Any) -> Iterator[Watched]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        yield Watched(context.new_page())
    finally:
        context.close()
