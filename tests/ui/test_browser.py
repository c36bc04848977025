"""The dashboard in real headless Chromium, against a real proxy and the fake upstream."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from scripts.dashboard_screenshot import SECRETS, Scene
from tests.ui.conftest import REBOUND, Watched

pytestmark = pytest.mark.integration


def opened(scene: Scene, watched: Watched) -> Any:
    page = watched.page
    page.goto(scene.page_url)
    page.locator("#conn.ok").wait_for(timeout=10_000)
    page.locator("body[data-events=open]").wait_for(timeout=10_000)
    return page


def card(page: Any, provider: str) -> Any:
    return page.locator(f'li.provider[data-provider="{provider}"]')


def test_the_page_loads_with_no_console_error_and_hides_the_token(
    scene: Scene, watched: Watched
) -> None:
    page = opened(scene, watched)
    assert card(page, "one").locator("[data-state]").inner_text() == "current"
    assert card(page, "three").locator("[data-state]").inner_text() == "disabled"
    # The token left the address bar and lives in this tab's session storage only.
    assert "#" not in page.url and scene.token not in page.url
    assert page.evaluate("sessionStorage.getItem('auto-router-token')") == scene.token
    assert page.context.cookies() == []
    assert all("token" not in r.url for r in watched.requests)
    sent = [r for r in watched.requests if r.url.startswith(f"{scene.url}/v1/")]
    assert sent and all(r.headers.get("authorization") == f"Bearer {scene.token}" for r in sent)
    text = page.content()
    assert scene.token not in text and not any(s in text for s in SECRETS)
    page.wait_for_timeout(500)  # the event stream and the first polls have run
    assert watched.errors == []


def test_a_scripted_429_shows_cooling_with_a_live_countdown_within_a_second(
    scene: Scene, watched: Watched
) -> None:
    page = opened(scene, watched)
    scene.limit_one()
    scene.chat()  # one answers 429: the proxy cools it and fails over to two
    state = card(page, "one").locator("[data-state]")
    started = time.monotonic()
    page.wait_for_function(
        "() => document.querySelector('li.provider[data-provider=\"one\"] [data-state]')"
        ".dataset.state === 'cooling'",
        timeout=1000,
    )
    assert time.monotonic() - started < 1.0
    assert state.inner_text() == "cooling"
    countdown = card(page, "one").locator(".ticking")
    first = countdown.inner_text()
    assert re.fullmatch(r" ?back in (9m\d\ds|10m00s) \(\d\d:\d\d\)", first), first
    page.wait_for_function(
        f"() => document.querySelector('li.provider[data-provider=\"one\"] .ticking')"
        f".textContent !== {first!r}",
        timeout=2500,
    )
    assert card(page, "two").locator("[data-state]").inner_text() == "current"
    assert "429" in card(page, "one").locator(".reason").inner_text()
    assert page.locator('#events li[data-kind="rotation"]').count() >= 1


def test_a_window_whose_utilization_rises_moves_its_bar(scene: Scene, watched: Watched) -> None:
    page = opened(scene, watched)
    scene.limit_one()
    scene.chat()
    bar = card(page, "two").locator('.bar[data-window="requests"]')
    bar.wait_for(timeout=5000)
    before = int(bar.get_attribute("data-used"))
    width = bar.locator(".fill").evaluate("e => e.getBoundingClientRect().width")
    for _ in range(3):
        scene.chat()
    page.wait_for_function(
        '([before]) => Number(document.querySelector(\'li.provider[data-provider="two"] '
        '.bar[data-window="requests"]\').dataset.used) > before',
        arg=[before],
        timeout=5000,
    )
    after = int(bar.get_attribute("data-used"))
    assert after >= before + 30  # three more of ten requests used
    assert bar.locator(".fill").evaluate("e => e.getBoundingClientRect().width") < width
    assert "left (" in card(page, "two").locator(".wdetail").inner_text()


def test_a_window_that_resets_shows_full_again_then_fills_anew(
    tmp_path: Path, watched: Watched
) -> None:
    with Scene(tmp_path, two_window=3.0).running() as scene:
        page = opened(scene, watched)
        scene.limit_one()
        for _ in range(4):
            scene.chat()
        bar = card(page, "two").locator('.bar[data-window="requests"]')
        page.wait_for_function(
            '() => document.querySelector(\'li.provider[data-provider="two"] '
            ".bar[data-window=\"requests\"]')?.dataset.used === '40'",
            timeout=5000,
        )
        # The window's three seconds pass: the provider has refilled it.
        card(page, "two").get_by_text("full again").wait_for(timeout=6000)
        assert bar.get_attribute("data-used") == "0"
        scene.chat()  # the first answer of a new window
        page.wait_for_function(
            '() => document.querySelector(\'li.provider[data-provider="two"] '
            ".bar[data-window=\"requests\"]').dataset.used === '10'",
            timeout=5000,
        )
        watched.page.context.close()


def test_under_priority_the_preferred_provider_says_where_traffic_went_and_when_it_returns(
    tmp_path: Path, watched: Watched
) -> None:
    with Scene(tmp_path, strategy="priority").running() as scene:
        page = opened(scene, watched)
        scene.limit_one()
        scene.chat()
        overflow = card(page, "one").locator(".overflow")
        overflow.wait_for(timeout=3000)
        assert re.fullmatch(r"overflowing to two, back at \d\d:\d\d", overflow.inner_text())
        assert page.locator('.backend[data-backend="qwen"] .tag').all_inner_texts()[-1] == (
            "priority"
        )
        watched.page.context.close()  # before the proxy stops: it ends the event stream


def test_fields_the_api_does_not_send_yet_show_without_a_page_change(
    scene: Scene, watched: Watched
) -> None:
    """Key pools (issue 19) and subscription windows (issue 20) are drawn from whatever the
    API sends: the real answers, with those fields added on their way to the page."""
    page = watched.page
    until = time.time() + 300

    def with_keys(route: Any) -> None:
        body = route.fetch().json()
        for row in body["providers"]:
            if row["name"] == "one":
                row["keys"] = [
                    {"id": "k1a2", "masked": "****1111", "current": True, "cooldown_until": None},
                    {"id": "k3b4", "masked": "****2222", "cooldown_until": until},
                    {
                        "id": "k5c6",
                        "masked": "****3333",
                        "status": "unusable",
                        "problem": "KEY_C unset",
                    },
                ]
        route.fulfill(json=body)

    def with_windows(route: Any) -> None:
        body = route.fetch().json()
        one = body["backends"][0]["providers"][0]
        one["headroom"] = [
            {"name": "5h", "utilization": 0.42, "reset_at": until},
            {"name": "7d", "utilization": 0.97},
            {"name": "a-new-window"},
        ]
        route.fulfill(json=body)

    page.route("**/v1/providers", with_keys)
    page.route("**/v1/status", with_windows)
    opened(scene, watched)
    keys = card(page, "one").locator("li.key")
    keys.first.wait_for(timeout=5000)
    assert [k.locator("code").inner_text() for k in keys.all()] == [
        "****1111",
        "****2222",
        "****3333",
    ]
    assert keys.nth(0).locator("[data-state]").inner_text() == "current"
    assert keys.nth(1).locator("[data-state]").inner_text() == "cooling"
    assert re.search(r"back in [45]m\d\ds", keys.nth(1).inner_text())
    assert "KEY_C unset" in keys.nth(2).inner_text()
    bars = card(page, "one").locator(".windows > .window .bar")
    assert [b.get_attribute("data-window") for b in bars.all()] == ["5h", "7d", "a-new-window"]
    assert [b.get_attribute("data-used") for b in bars.all()] == ["42", "97", ""]
    assert "usage unknown" in card(page, "one").inner_text()
    assert watched.errors == []


def test_clicking_set_current_changes_auto_router_status(scene: Scene, watched: Watched) -> None:
    page = opened(scene, watched)
    card(page, "two").get_by_role("button", name="Set current").click()
    card(page, "two").locator('[data-state="current"]').wait_for(timeout=3000)
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "auto_router",
            "--config-dir",
            str(scene.paths.config_dir),
            "status",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "NO_COLOR": "1"},
        check=True,
    ).stdout
    assert re.search(r"^\s*\*\s+two\b", out, re.M), out
    assert not re.search(r"^\s*\*\s+one\b", out, re.M), out


def test_a_request_made_with_the_openai_sdk_appears_in_the_live_feed_with_its_cost(
    scene: Scene, watched: Watched
) -> None:
    page = opened(scene, watched)
    assert page.locator("#feed-rows tr").count() == 0
    answer = scene.chat("hello feed")
    assert answer.choices[0].message.content == "Hello from one."
    row = page.locator("#feed-rows tr").first
    row.wait_for(timeout=5000)
    cells = row.locator("td").all_inner_texts()
    assert cells[1] == "chat"
    assert cells[2] == "qwen/one"
    assert cells[3] == "qwen3-coder-plus → one-model"
    assert cells[4] == "200"
    assert re.fullmatch(r"\d+ ms", cells[5])
    tokens = answer.usage.total_tokens
    assert cells[6] == str(tokens)
    # one costs $3 / $15 per million tokens in and out: the page shows a price, not "?".
    assert cells[7] != "?" and cells[7].startswith(("$", "<$"))


def test_the_keyboard_alone_steers_and_polls_redraw_nothing_unchanged(
    scene: Scene, watched: Watched
) -> None:
    page = opened(scene, watched)
    page.evaluate("window.kept = document.querySelector('li.provider[data-provider=\"one\"]')")
    for _ in range(40):  # Tab through the page to two's "Set current"
        page.keyboard.press("Tab")
        focused = page.evaluate(
            "[document.activeElement.dataset.action, document.activeElement.dataset.provider]"
        )
        if focused == ["set-current", "two"]:
            break
    else:
        pytest.fail("Tab never reached two's Set current button")
    page.wait_for_timeout(2500)  # a poll or two with nothing changed: the same nodes stay
    assert page.evaluate(
        "window.kept === document.querySelector('li.provider[data-provider=\"one\"]')"
    )
    assert page.evaluate("document.activeElement.dataset.provider") == "two"
    page.keyboard.press("Enter")
    card(page, "two").locator('[data-state="current"]').wait_for(timeout=3000)
    assert scene.app is not None
    assert scene.app.services.rotator.current_provider_name("qwen") == "two"


def test_enable_and_disable_ask_first_and_keep_the_files_comments(
    scene: Scene, watched: Watched
) -> None:
    page = opened(scene, watched)
    before = scene.paths.provider_metadata.read_text()
    card(page, "two").get_by_role("button", name="Disable").click()
    dialog = page.locator("dialog#confirm")
    assert dialog.is_visible()
    assert "changes your configuration file" in dialog.inner_text()
    page.keyboard.press("Enter")  # the focused button is Cancel
    assert not dialog.is_visible()
    assert scene.paths.provider_metadata.read_text() == before
    card(page, "two").get_by_role("button", name="Disable").click()
    dialog.get_by_role("button", name="Change the file").click()
    card(page, "two").locator('[data-state="disabled"]').wait_for(timeout=3000)
    after = scene.paths.provider_metadata.read_text()
    assert "# off for now" in after and after != before
    assert re.search(r"\[qwen\.two\][^\[]*enabled = false", after)
    assert watched.errors == []  # the dialog's form breaks no policy either


def test_a_provider_test_shows_its_latency(scene: Scene, watched: Watched) -> None:
    page = opened(scene, watched)
    card(page, "one").get_by_role("button", name="Test").click()
    result = card(page, "one").locator(".test.ok")
    result.wait_for(timeout=10_000)
    assert re.search(r"test: healthy, \d+ ms", result.inner_text())


def test_a_foreign_host_gets_no_page(scene: Scene, watched: Watched) -> None:
    port = scene.url.rsplit(":", 1)[1]
    response = watched.page.goto(f"http://{REBOUND}:{port}/ui#token={scene.token}")
    assert response is not None and response.status == 403
    assert "DNS rebinding" in watched.page.content()
    assert watched.page.locator("#backends").count() == 0


def test_without_the_token_the_page_calls_nothing_and_says_how_to_open_it(
    scene: Scene, watched: Watched
) -> None:
    page = watched.page
    page.goto(f"{scene.url}/ui")
    notice = page.locator("#notice")
    notice.wait_for()
    assert "No management token" in notice.inner_text()
    assert "auto-router ui" in notice.inner_text()
    page.wait_for_timeout(300)
    assert [r.url for r in watched.requests if "/v1/" in r.url] == []
    assert page.locator("li.provider").count() == 0


def test_a_wrong_token_is_refused_and_nothing_is_shown(scene: Scene, watched: Watched) -> None:
    page = watched.page
    page.goto(f"{scene.url}/ui#token=ara_not-the-token")
    page.locator("#notice").wait_for()
    assert "refused the token" in page.locator("#notice").inner_text()
    assert page.locator("li.provider").count() == 0


def test_readable_at_phone_width(scene: Scene, browser: Any) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        page = context.new_page()
        page.goto(scene.page_url)
        page.locator("#conn.ok").wait_for(timeout=10_000)
        widest = page.evaluate("document.documentElement.scrollWidth")
        assert widest <= 390  # tables scroll inside their own box, the page does not
        box = page.locator('li.provider[data-provider="one"]').bounding_box()
        assert box is not None and box["width"] <= 390
    finally:
        context.close()
