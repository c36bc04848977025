"""The dashboard's live feed from the event stream, its sessions, runs and charts panels and
the per-key reset, in real headless Chromium against a real proxy and the fake upstream."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scripts.dashboard_screenshot import POOL, Scene
from tests.ui.conftest import Watched
from tests.ui.test_browser import card, opened

pytestmark = pytest.mark.integration


def log_reads(watched: Watched) -> list[str]:
    return [r.url for r in watched.requests if "/v1/requests" in r.url]


def test_the_feed_grows_from_the_event_stream_without_polling_the_log(
    scene: Scene, watched: Watched
) -> None:
    page = opened(scene, watched)
    page.wait_for_timeout(300)  # the read of the log that follows the stream's opening
    reads = len(log_reads(watched))
    assert any("/v1/events?feed=1" in r.url for r in watched.requests)
    scene.chat("one")
    scene.limit_one()
    scene.chat("two")
    rows = page.locator("#feed-rows tr")
    page.wait_for_function("() => document.querySelectorAll('#feed-rows tr').length === 2")
    newest = rows.nth(0).locator("td").all_inner_texts()
    assert newest[2] == "qwen/two" and newest[8] == "one (429)"
    assert rows.nth(0).get_attribute("class") == "failover"
    assert rows.nth(1).locator("td").all_inner_texts()[2] == "qwen/one"
    page.wait_for_timeout(2500)  # a status poll or more: the log is not read again
    assert len(log_reads(watched)) == reads
    assert page.locator("#feed-rows tr").count() == 2  # each request once
    # The feed's events are not rotation events: only the rotation is listed there.
    assert page.locator("#events li").all_inner_texts()[0].count("rotation") == 1
    assert page.locator('#events li[data-kind="request"]').count() == 0
    assert watched.errors == []


def test_without_the_stream_the_feed_falls_back_to_polling(scene: Scene, watched: Watched) -> None:
    page = watched.page
    page.route("**/v1/events*", lambda route: route.abort())
    page.goto(scene.page_url)
    page.locator("#conn.ok").wait_for(timeout=10_000)
    scene.chat()
    page.locator("#feed-rows tr").first.wait_for(timeout=5000)
    assert page.locator("#feed-rows tr td").nth(2).inner_text() == "qwen/one"
    assert len(log_reads(watched)) >= 2


@pytest.fixture
def pooled(tmp_path: Path) -> Iterator[Scene]:
    with Scene(tmp_path, pool=True).running() as running:
        yield running


def test_a_cooling_key_has_a_reset_button_that_puts_it_back(
    pooled: Scene, watched: Watched
) -> None:
    page = opened(pooled, watched)
    pooled.chat()  # the first key answers 429: it cools, the second key answers
    keys = card(page, "one").locator("li.key")
    cooling = keys.filter(has=page.locator('[data-state="cooling"]'))
    cooling.wait_for(timeout=5000)
    assert cooling.locator("code").inner_text().endswith("1111")
    button = cooling.get_by_role("button", name=re.compile("reset key"))
    # only the key in trouble has one
    assert keys.get_by_role("button", name=re.compile("reset key")).count() == 1
    button.focus()
    page.keyboard.press("Enter")
    page.locator("#notice.ok").wait_for(timeout=5000)
    assert "done" in page.locator("#notice").inner_text()
    card(page, "one").locator('li.key [data-state="cooling"]').wait_for(
        state="detached", timeout=5000
    )
    assert pooled.app is not None
    (_, status), *_ = [
        (b.name, p) for b in pooled.app.services.rotator.status() for p in b.providers
    ]
    assert [k.cooldown_until for k in status.keys] == [None, None]
    assert not any(key in page.content() for key in POOL)
    assert watched.errors == []


def test_disable_key_asks_first_then_the_file_and_status_say_disabled(
    pooled: Scene, watched: Watched
) -> None:
    page = opened(pooled, watched)
    keys = card(page, "one").locator("li.key")
    keys.first.wait_for(timeout=5000)
    before = pooled.paths.provider_metadata.read_text()
    first = keys.filter(has_text="1111")
    first.get_by_role("button", name=re.compile("disable key")).click()
    dialog = page.locator("dialog#confirm")
    assert "changes your configuration file" in dialog.inner_text()
    page.keyboard.press("Enter")  # the focused button is Cancel: nothing written
    assert pooled.paths.provider_metadata.read_text() == before
    first.get_by_role("button", name=re.compile("disable key")).click()
    dialog.get_by_role("button", name="Change the file").click()
    first.get_by_role("button", name=re.compile("enable key")).wait_for(timeout=5000)
    assert first.locator('[data-state="disabled"]').count() == 1
    after = pooled.paths.provider_metadata.read_text()
    key_id = first.get_attribute("data-key")
    assert f'disabled_keys = ["{key_id}"]' in after and "# off for now" in after
    assert not any(key in after.split("disabled_keys")[1] for key in POOL)  # by id, not text
    home = str(pooled.paths.config_dir)
    out = subprocess.run(
        [sys.executable, "-m", "auto_router", "--config-dir", home, "status"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "NO_COLOR": "1"},
        check=True,
    ).stdout
    (line,) = [ln for ln in out.splitlines() if "1111" in ln]
    assert line.rstrip().endswith("disabled"), out
    assert not any(key in out or key in page.content() for key in POOL)
    assert watched.errors == []


def test_sessions_runs_and_charts_show_what_happened(scene: Scene, watched: Watched) -> None:
    scene.run(sys.executable, "-c", "import sys; sys.exit(2)")
    page = opened(scene, watched)
    scene.chat(session="a-client-named-this-session")
    scene.limit_one()
    scene.chat()
    row = page.locator("#sessions-rows tr").first
    row.wait_for(timeout=5000)
    cells = row.locator("th, td").all_inner_texts()
    assert re.fullmatch(r"[0-9a-f]{12}", cells[0])
    assert cells[1:4] == ["client session", "qwen", "qwen/one"]
    assert "a-client-named-this-session" not in page.content()
    run = page.locator("#runs li.run").first
    run.wait_for(timeout=15_000)
    head = run.locator(".rhead").inner_text()
    assert "1 attempt" in head and "failed, exit 2" in head
    assert re.search(r"attempt 1: .*failed, exit 2", run.locator(".summary").inner_text())
    assert page.locator("#runs-empty").is_hidden()
    charts = page.locator('#charts li.pcharts[data-provider="qwen/one"]')
    charts.wait_for(timeout=10_000)
    assert charts.locator("figure").evaluate_all("fs => fs.map(f => f.dataset.chart)") == [
        "requests",
        "latency",
        "tokens",
        "cost",
    ]
    label = charts.locator('[data-chart="requests"] svg').get_attribute("aria-label")
    assert label == "requests, last hour, by 5 minutes: 1 requests, 0 errors"
    assert charts.locator('[data-chart="requests"] rect').count() == 1
    assert charts.locator('[data-chart="cost"] figcaption').inner_text().startswith("cost: ")
    page.locator("input[name=period][value='1d']").check()
    page.wait_for_function(
        "() => document.querySelector('#charts [data-chart=requests] svg')"
        "?.getAttribute('aria-label').includes('last day')"
    )
    assert watched.errors == []


def test_the_new_panels_fit_a_phone(scene: Scene, browser: Any) -> None:
    scene.run(sys.executable, "-c", "print('done')")
    scene.chat(session="s")
    context = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        page = context.new_page()
        page.goto(scene.page_url)
        page.locator("#runs li.run").first.wait_for(timeout=15_000)
        page.locator("#charts li.pcharts").first.wait_for(timeout=15_000)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
    finally:
        context.close()
