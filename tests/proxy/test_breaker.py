"""Retry discipline and the circuit breaker on the data path (``httpx.MockTransport``
upstreams), and the breaker's state as every process and view sees it."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx
import pytest

from auto_router.paths import Paths
from auto_router.proxy.failover import Failover
from auto_router.rotation.policy import BackendState, claim_probe, record_failure, record_success
from auto_router.rotation.service import Rotator

from .conftest import Clock, Pauses, write_config
from .test_forward import CHAT, LLM, META, Recorder, client_for

pytestmark = pytest.mark.anyio

DOWN = httpx.Response(500, json={"error": {"message": "down"}})


def settings(home: Paths, text: str) -> None:
    write_config(home, LLM + "\n[proxy]\n" + text, META)


@pytest.mark.parametrize(
    ("providers", "retries", "status", "hosts"),
    [
        (1, 2, 503, ["one.example", "one.example"]),  # one provider, and its retry
        (1, 0, 503, ["one.example"]),  # no retry, no failover: both budgets are spent
        (2, 2, 200, ["one.example", "one.example", "two.example"]),  # the retry spent none
        (2, 0, 200, ["one.example", "two.example"]),
    ],
)
async def test_max_attempts_counts_providers_and_max_retries_the_retries(
    home: Paths, clock: Clock, providers: int, retries: int, status: int, hosts: list[str]
) -> None:
    settings(home, f"max_attempts = {providers}\nmax_retries = {retries}\n")
    rec = Recorder({"one.example": lambda r: DOWN})
    async with client_for(home, rec, clock) as (client, _):
        resp = await client.post("/v1/chat/completions", json=CHAT)
    assert resp.status_code == status
    assert rec.hosts() == hosts
    if status == 503:
        attempts = resp.json()["error"]["attempts"]
        assert [a["provider"] for a in attempts] == ["one"] * len(hosts)


async def test_a_stream_that_ends_before_any_data_fails_over(home: Paths, clock: Clock) -> None:
    empty = httpx.Response(200, headers={"content-type": "text/event-stream"}, content=b"")
    rec = Recorder({"one.example": lambda r: empty})
    async with client_for(home_with(home), rec, clock) as (client, app):
        resp = await client.post("/v1/chat/completions", json={**CHAT, "stream": True})
        single = await client.post(
            "/v1/chat/completions",
            json={**CHAT, "stream": True},
            headers={"x-auto-router-provider": "one"},
        )
    assert resp.status_code == 200 and resp.headers["x-auto-router-provider"] == "qwen/two"
    assert rec.hosts()[:3] == ["one.example", "one.example", "two.example"]
    assert single.status_code == 502
    assert "ended before any data" in single.json()["error"]["message"]
    assert "ended before any data" in (
        app.services.rotator.state("qwen").provider("one").last_error or ""
    )


def home_with(home: Paths) -> Paths:
    write_config(home, LLM, META)
    return home


async def test_a_success_ends_the_failure_streak(home: Paths, clock: Clock) -> None:
    settings(home, "failure_threshold = 2\n")
    flaky = [lambda r: DOWN, lambda r: httpx.Response(200, json={"choices": []})]
    rec = Recorder({"one.example": [*flaky, *flaky, lambda r: httpx.Response(200, json={})]})
    async with client_for(home, rec, clock) as (client, app):
        for _ in range(2):
            resp = await client.post("/v1/chat/completions", json=CHAT)
            assert resp.status_code == 200
            await app.proxy.drain()
    # without the reset, the second request's failure would be the 2nd in a row: circuit open,
    # no retry, and two would have answered
    assert rec.hosts() == ["one.example"] * 4
    one = app.services.rotator.state("qwen").provider("one")
    assert one.streak == 0 and one.circuit_until is None and one.failures == 2


async def test_a_retry_and_a_wait_on_one_provider(home: Paths, clock: Clock) -> None:
    settings(home, "max_attempts = 5\n")
    limited = httpx.Response(429, json={"error": {"message": "slow"}}, headers={"retry-after": "2"})
    ok = httpx.Response(200, json={"choices": []})
    rec = Recorder({"one.example": [lambda r: DOWN, lambda r: limited, lambda r: ok]})
    pauses = Pauses()
    async with client_for(home, rec, clock, pacing=pauses.pacing()) as (client, app):
        resp = await client.post("/v1/chat/completions", json=CHAT)
    assert resp.status_code == 200
    assert rec.hosts() == ["one.example"] * 3
    assert pauses.asked == pytest.approx([0.25, 2.0])  # the jittered pause, then Retry-After
    one = app.services.rotator.state("qwen").provider("one")
    assert one.cooldown_until is None and one.usage_limits == 0  # waited out, not a limit


def test_never_more_than_three_attempts_in_three_seconds() -> None:
    pauses = Pauses()
    failover = Failover(None, pauses.pacing())  # type: ignore[arg-type]
    pauses.now = 1.0
    assert failover._spacing([0.0, 0.5]) == 0.0  # a third attempt may go now
    assert failover._spacing([0.0, 0.5, 0.75]) == 2.0  # a fourth waits until 3 s after the 1st
    assert failover._spacing([-5.0, 0.5, 0.75]) == 0.0


async def test_a_bad_request_is_never_retried(home: Paths, clock: Clock) -> None:
    bad = httpx.Response(
        400, json={"error": {"message": "bad field", "type": "invalid_request_error"}}
    )
    rec = Recorder({"one.example": lambda r: bad})
    pauses = Pauses()
    async with client_for(home_with(home), rec, clock, pacing=pauses.pacing()) as (client, _):
        resp = await client.post("/v1/chat/completions", json=CHAT)
    assert resp.status_code == 400 and resp.json()["error"]["message"] == "bad field"
    assert rec.hosts() == ["one.example"] and pauses.asked == []


async def test_the_circuit_half_opens_for_one_probe_and_closes(home: Paths, clock: Clock) -> None:
    settings(home, "failure_threshold = 1\nfailure_cooldown = 30\n")
    rec = Recorder({"one.example": [lambda r: DOWN, lambda r: httpx.Response(200, json={})]})
    async with client_for(home, rec, clock) as (client, app):
        await client.post("/v1/chat/completions", json=CHAT)  # opens one's circuit
        await client.post("/v1/chat/completions", json=CHAT)  # skipped
        rotator = app.services.rotator
        assert rotator.state("qwen").provider("one").circuit(clock.now) == "open"
        clock.advance(30)
        assert rotator.state("qwen").provider("one").circuit(clock.now) == "half-open"
        probe = await client.post("/v1/chat/completions", json=CHAT)
        await app.proxy.drain()
        after = await client.post("/v1/chat/completions", json=CHAT)
    assert rec.hosts() == [
        "one.example",
        "two.example",
        "two.example",
        "one.example",
        "one.example",
    ]
    assert (
        probe.headers["x-auto-router-provider"]
        == after.headers["x-auto-router-provider"]
        == "qwen/one"
    )
    assert rotator.state("qwen").provider("one").circuit(clock.now) == "closed"


def test_one_probe_across_processes(home: Paths, clock: Clock) -> None:
    """Two state connections (two processes): the breaker is shared, one probe wins."""
    write_config(home, LLM, META)
    first, second = Rotator(home, clock=clock), Rotator(home, clock=clock)
    first.record_failure("qwen", "one", "HTTP 503", threshold=1, open_for=30)
    assert second.state("qwen").provider("one").circuit(clock.now) == "open"
    clock.advance(30)
    assert first.claim_probe("qwen", "one", hold=30) is True
    assert second.claim_probe("qwen", "one", hold=30) is False
    assert second.state("qwen").provider("one").circuit(clock.now) == "open"
    status = {p.name: p for p in second.status()[0].providers}["one"]
    assert (status.circuit, status.circuit_until) == ("open", clock.now + 30)


def test_breaker_policy() -> None:
    state = BackendState("b")
    for _ in range(2):
        state = record_failure(state, "p", 100.0, "503", threshold=3, open_for=30)
    assert state.provider("p").circuit(100.0) == "closed"
    state = record_failure(state, "p", 100.0, "503", threshold=3, open_for=30)
    assert state.provider("p").circuit(129.9) == "open"
    assert state.provider("p").circuit(130.0) == "half-open"
    assert claim_probe(state, "p", 100.0, 30) is state  # not half-open yet: nothing to claim
    probing = claim_probe(state, "p", 130.0, 30)
    assert probing.provider("p").circuit(131.0) == "open"
    failed = record_failure(probing, "p", 131.0, "503", threshold=3, open_for=30)
    assert failed.provider("p").circuit_until == 161.0  # a failed probe re-opens at once
    closed = record_success(failed, "p", 170.0)
    assert closed.provider("p").circuit(170.0) == "closed" and closed.provider("p").streak == 0
    assert closed.current is None  # the breaker never rotates


def test_status_shows_the_circuit(home: Paths) -> None:
    write_config(home, LLM, META)
    Rotator(home).record_failure("qwen", "one", "HTTP 503", threshold=1, open_for=600)
    cli = [sys.executable, "-m", "auto_router", "--config-dir", str(home.config_dir), "status"]
    text = subprocess.run(cli, capture_output=True, text=True, check=True).stdout
    assert "circuit open until" in text
    data = json.loads(subprocess.run([*cli, "--json"], capture_output=True, check=True).stdout)
    one = data["backends"][0]["providers"][0]
    assert (one["name"], one["circuit"], one["failure_streak"]) == ("one", "open", 1)
    assert one["current"] is True  # an outage moves nothing
