"""What the dashboard reads besides ``/v1/status``, over real sockets, on a real proxy in front
of the fake upstream: the live feed (``/v1/events?feed=1``), ``/v1/runs`` (the store
``history`` reads, filled by a real ``auto-router run``), ``/v1/sessions`` and
``/v1/stats/series``; and the bus that carries the feed: nothing made when nobody listens,
nothing to ``[notify]``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from auto_router.config.notify import NotifyConfig
from auto_router.rotation.events import REQUEST, ROTATION, Event, EventBus
from auto_router.rotation.notify import Notifier
from auto_router.runs import RunEntry, RuntimeDir, new_token, token_digest
from auto_router.store.attempts import Attempt, AttemptLog
from auto_router.store.db import connect
from auto_router.store.requests import FailedAttempt, RequestRecord, insert_batch
from scripts.dashboard_screenshot import SECRETS, TOKEN, Scene

AUTH = {"authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def scene(tmp_path: Path) -> Iterator[Scene]:
    with Scene(tmp_path).running() as running:
        yield running


def admin(scene: Scene, path: str) -> Any:
    answer = httpx.get(f"{scene.url}{path}", headers=AUTH)
    assert answer.status_code == 200, answer.text
    return answer.json()


def chat(scene: Scene, session: str | None = None) -> httpx.Response:
    headers = {"x-auto-router-session": session} if session else {}
    body = {"model": "qwen3-coder-plus", "messages": [{"role": "user", "content": "hi"}]}
    answer = httpx.post(f"{scene.url}/v1/chat/completions", json=body, headers=headers)
    assert answer.status_code == 200, answer.text
    return answer


def sse_messages(lines: Iterator[str], count: int) -> list[tuple[str, dict[str, Any]]]:
    """The next ``count`` messages (comments skipped) of an SSE stream."""
    found: list[tuple[str, dict[str, Any]]] = []
    kind = ""
    for line in lines:
        if line.startswith("event: "):
            kind = line.removeprefix("event: ")
        elif line.startswith("data: "):
            found.append((kind, json.loads(line.removeprefix("data: "))))
            if len(found) == count:
                return found
    return found


# -- the feed --------------------------------------------------------------------------


@pytest.mark.integration
def test_the_feed_gets_one_request_event_per_request_with_no_secret(scene: Scene) -> None:
    url = f"{scene.url}/v1/events?feed=1"
    with httpx.stream("GET", url, headers=AUTH, timeout=10) as events:
        lines = events.iter_lines()
        assert next(lines) == ": connected"
        assert scene.app is not None and scene.app.services.rotator.events.feed_wanted
        scene.chat()
        scene.limit_one()
        scene.chat()  # one: 429, the proxy fails over to two (and a rotation event)
        got = sse_messages(lines, 3)
    requests = [data for kind, data in got if kind == REQUEST]
    assert [kind for kind, _ in got].count(ROTATION) == 1
    first, second = requests
    assert first["kind"] == "request" and first["endpoint"] == "chat"
    assert (first["backend"], first["provider"], first["status"]) == ("qwen", "one", 200)
    assert first["client_model"] == "qwen3-coder-plus" and first["upstream_model"] == "one-model"
    assert first["total_tokens"] > 0 and first["duration_ms"] > 0
    expected = (first["prompt_tokens"] * 3.0 + first["completion_tokens"] * 15.0) / 1e6
    assert first["cost_usd"] == pytest.approx(expected)
    assert first["failed"] == [] and first["attempts"] == 1
    assert second["provider"] == "two" and second["attempts"] == 2
    assert second["failed"] == [{"backend": "qwen", "provider": "one", "status": 429}]
    # The page merges an event with the log's row of the same request: the same fields.
    (row, _) = admin(scene, "/v1/requests")["requests"][::-1]
    assert (row["ts"], row["duration_ms"]) == (first["ts"], first["duration_ms"])
    text = json.dumps(got)
    assert not any(s in text for s in (*SECRETS, TOKEN, "Hello from", "authorization"))
    for data in requests:
        assert "request_body" not in data and "response_body" not in data


@pytest.mark.integration
def test_without_feed_the_stream_has_no_request_event_and_none_is_made(scene: Scene) -> None:
    assert scene.app is not None
    bus = scene.app.services.rotator.events
    with httpx.stream("GET", f"{scene.url}/v1/events", headers=AUTH, timeout=10) as events:
        lines = events.iter_lines()
        assert next(lines) == ": connected"
        assert bus.listening and not bus.feed_wanted  # a request costs no event to make
        scene.chat()
        scene.limit_one()
        scene.chat()
        ((kind, data),) = sse_messages(lines, 1)
    assert kind == ROTATION and data["to"] == "two"
    deadline = time.monotonic() + 5
    while bus.listening and time.monotonic() < deadline:  # the stream's end unsubscribes
        time.sleep(0.02)
    assert not bus.feed_wanted


def test_the_bus_queues_request_events_only_for_who_names_them() -> None:
    bus = EventBus()
    plain = bus.subscribe()
    assert not bus.feed_wanted
    feed = bus.subscribe(kinds=frozenset({REQUEST, ROTATION}))
    assert bus.feed_wanted
    request = Event(REQUEST, "b", "p", "chat 200", 1.0)
    rotation = Event(ROTATION, "b", "p", "switched", 1.0)
    bus.publish([request, rotation])
    assert [e.kind for e in plain.drain()] == [ROTATION]
    assert [e.kind for e in feed.drain()] == [REQUEST, ROTATION]
    feed.close()
    assert not bus.feed_wanted
    plain.close()


def test_notify_runs_no_command_for_a_request(tmp_path: Path) -> None:
    out = tmp_path / "notified"
    script = tmp_path / "notify.sh"
    script.write_text(f'#!/bin/sh\necho "$1" >> {out}\n')
    script.chmod(0o755)
    bus = EventBus()
    notifier = Notifier(bus, lambda: NotifyConfig(command=(str(script),))).start()
    try:
        for i in range(100):  # more than its backlog: none may crowd out the rotation
            bus.publish([Event(REQUEST, "b", "p", f"chat 200 #{i}", 1.0)])
        bus.publish([Event(ROTATION, "b", "two", "switched from one to two", 2.0)])
        deadline = time.monotonic() + 10
        while not out.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.2)
    finally:
        notifier.close()
    assert out.read_text().splitlines() == ["rotation: b: switched from one to two"]
    assert notifier.ran == 1 and notifier.dropped == 0


# -- runs ------------------------------------------------------------------------------


def auto_router_run(scene: Scene, *command: str) -> None:
    config = str(scene.paths.config_dir)
    done = subprocess.run(
        [sys.executable, "-m", "auto_router", "--config-dir", config, "run", "--", *command],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert done.returncode in (0, 3), done.stderr


@pytest.mark.integration
def test_runs_come_from_the_history_store_with_their_summary_lines(scene: Scene) -> None:
    assert httpx.get(f"{scene.url}/v1/runs").status_code == 401
    assert admin(scene, "/v1/runs")["runs"] == []
    auto_router_run(scene, sys.executable, "-c", "print('first')")
    auto_router_run(scene, sys.executable, "-c", "import sys; sys.exit(3)")
    newest, oldest = admin(scene, "/v1/runs")["runs"]
    assert newest["outcome"] == "failed" and newest["exit_code"] == 3
    assert oldest["outcome"] == "ok" and oldest["command"] == Path(sys.executable).name
    assert newest["started_at"] > oldest["started_at"]
    assert oldest["summary"][0].startswith("attempt 1: ")
    assert "ok, exit 0" in oldest["summary"][0]
    # The run's proxied requests, as the proxy logged them: its usage and failover lines.
    failed = (FailedAttempt("qwen", "one", 429, "rate limited"),)
    rows = [
        RequestRecord(ts=time.time(), method="POST", endpoint="chat", status=200,
                      backend="qwen", provider="two", prompt_tokens=1000,
                      completion_tokens=100, total_tokens=1100, failed=failed, attempts=2,
                      run_id=oldest["run_id"]),
        RequestRecord(ts=time.time(), method="POST", endpoint="chat", status=200,
                      backend="qwen", provider="two", prompt_tokens=500,
                      completion_tokens=50, total_tokens=550, run_id=oldest["run_id"]),
    ]  # fmt: skip
    db = connect(scene.paths.database)
    insert_batch(db, rows)
    db.close()
    (_, again) = admin(scene, "/v1/runs")["runs"]
    usage, failover = again["summary"][1:]
    # two costs $0.5 / $1.5 per million in and out: 1500 in, 150 out.
    assert usage == "2 requests, 1.5k tokens in / 150 out, $0.0010 (two 2)"
    assert failover == "1 request failed over: one 429 -> two"
    assert admin(scene, "/v1/runs?limit=1")["runs"][0]["run_id"] == newest["run_id"]
    bad = httpx.get(f"{scene.url}/v1/runs?limit=0", headers=AUTH)
    assert bad.status_code == 400 and "limit" in bad.json()["error"]["message"]


# -- sessions --------------------------------------------------------------------------


@pytest.mark.integration
def test_sessions_show_their_provider_under_a_short_hash_never_their_id(scene: Scene) -> None:
    assert httpx.get(f"{scene.url}/v1/sessions").status_code == 401
    secretish = "my-session-holds-a-name-sk-not-for-anyone"
    chat(scene, secretish)
    chat(scene)  # no session: nothing bound
    answer = httpx.get(f"{scene.url}/v1/sessions", headers=AUTH)
    assert secretish not in answer.text and "h:" not in answer.text
    (row,) = answer.json()["sessions"]
    assert row["kind"] == "client" and (row["backend"], row["provider"]) == ("qwen", "one")
    assert len(row["id"]) == 12 and row["routed"] == "qwen" and row["key_id"] is None
    scene.limit_one()
    chat(scene, secretish)  # one is cooling: the session moves to two and stays there
    chat(scene, "another")
    rows = admin(scene, "/v1/sessions")["sessions"]
    assert [r["provider"] for r in rows] == ["two", "two"]
    assert rows[1]["id"] == row["id"]  # the same session keeps its code
    assert rows[0]["id"] != row["id"]


# -- charts ----------------------------------------------------------------------------


@pytest.mark.integration
def test_the_series_cuts_the_period_into_slices_per_provider(scene: Scene) -> None:
    for _ in range(3):
        scene.chat()
    scene.limit_one()
    scene.chat()
    body = admin(scene, "/v1/stats/series?since=1h")
    assert body["width"] == 300 and len(body["providers"]) == 2
    one, two = sorted(body["providers"], key=lambda p: p["provider"])
    assert len(one["buckets"]) == 12
    assert sum(b["requests"] for b in one["buckets"]) == 3
    assert sum(b["requests"] for b in two["buckets"]) == 1
    last = one["buckets"][-1]
    assert last["requests"] == 3 and last["p95_ms"] >= last["p50_ms"] > 0
    assert last["cost_usd"] == pytest.approx(
        (last["prompt_tokens"] * 3.0 + last["completion_tokens"] * 15.0) / 1e6
    )
    assert all(b["requests"] == 0 and b["cost_usd"] == 0 for b in one["buckets"][:-1])
    assert body["start"] <= time.time() <= body["start"] + 3600
    day = admin(scene, "/v1/stats/series?since=1d")
    assert day["width"] == 3600 and len(day["providers"][0]["buckets"]) == 24
    bad = httpx.get(f"{scene.url}/v1/stats/series?since=7d", headers=AUTH)
    assert bad.status_code == 400


@pytest.mark.integration
def test_a_run_session_shows_its_run_id_and_command_never_its_token(tmp_path: Path) -> None:
    with Scene(tmp_path, managed=True).running() as scene:
        runtime = RuntimeDir(scene.paths)
        token = new_token()
        runtime.register(token, RunEntry("run-42", "qwen", os.getpid(), time.time()))
        attempts = AttemptLog(scene.paths.database)
        attempts.add(Attempt("run-42", 1, time.time(), "qwen", None, "qwen-code", "running"))
        attempts.close()
        body = {"model": "qwen3-coder-plus", "messages": [{"role": "user", "content": "hi"}]}
        answer = httpx.post(
            f"{scene.url}/v1/chat/completions",
            json=body,
            headers={"authorization": f"Bearer {token}"},
        )
        assert answer.status_code == 200, answer.text
        listing = httpx.get(f"{scene.url}/v1/sessions", headers=AUTH)
        (row,) = listing.json()["sessions"]
        assert row["kind"] == "run" and row["run_id"] == "run-42"
        assert row["command"] == "qwen-code" and row["provider"] == "one"
        assert token not in listing.text and token_digest(token) not in listing.text
        runtime.unregister(token)
