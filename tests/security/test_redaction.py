"""One test, the whole product: distinctive credentials are configured, the fake providers
echo them back in headers and error bodies (fully and in part), every endpoint and every
command is exercised, and then stdout, stderr, the log and the database files are searched.
Zero occurrences."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from auto_router.demo.fake_upstream import FakeUpstream, Reply, Seen, free_port

pytestmark = pytest.mark.integration

KEY = "sk-zq81-DISTINCT-7f3a9c5e2b1d-literal"  # literal in provider_metadata.toml
ENV_KEY = "sk-env-expanded-44b1c9d0e8f7a6-two"  # ${SEC_ENV_KEY}
ANT_KEY = "sk-ant-expanded-93e7d1c5b9a2f4-ant"  # ${SEC_ANT_KEY}
GEM_KEY = "AIzaDistinctGoogleKey0123456789abcXYZ"  # literal
ADMIN = "admin-token-5d1f0c9e8b7a6f5e4d3c"
CLIENT = "client-token-0a9b8c7d6e5f4a3b2c1d"
SECRETS = [KEY, ENV_KEY, ANT_KEY, GEM_KEY, ADMIN, CLIENT]
#: Pieces an upstream quotes when it shows part of a key (found as leaks too).
FRAGMENTS = ["DISTINCT-7f3a9c5e2b1d", "44b1c9d0e8f7a6", "93e7d1c5b9a2f4", "GoogleKey0123456789"]


def _key_of(seen: Seen) -> str:
    auth = seen.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:]
    return seen.headers.get("x-api-key") or seen.headers.get("x-goog-api-key") or "none"


def echo(seen: Seen) -> Reply:
    """A provider that quotes the key it was sent, in a header and in its error body."""
    key = _key_of(seen)
    headers = {"x-echo-key": key, "x-request-id": f"req-{key[:22]}"}
    if seen.method == "GET" and seen.path.endswith("/models"):
        return Reply(200, {"object": "list", "data": [{"id": "m1"}]}, headers)
    if seen.path.endswith("/messages") or seen.path.endswith("/count_tokens"):
        body = {
            "type": "error",
            "error": {"type": "authentication_error", "message": f"invalid x-api-key: {key}"},
        }
        return Reply(401, body, headers)
    if ":" in seen.path.rsplit("/", 1)[-1]:  # Gemini's model:method
        body = {
            "error": {
                "code": 403,
                "message": f"API key not valid: {key}",
                "status": "PERMISSION_DENIED",
            }
        }
        return Reply(403, body, headers)
    if key == KEY:
        body = {"error": {"message": f"Incorrect API key provided: {key}", "code": "bad_key"}}
        return Reply(401, body, headers)
    if key == ENV_KEY:
        text = f"quota exceeded for key {key[:30]}... (key {key})"
        return Reply(429, {"error": {"message": text, "type": "insufficient_quota"}}, headers)
    return Reply(500, f"upstream crashed handling {key}".encode(), headers)


def _write_config(home: Path, upstream: FakeUpstream, port: int) -> None:
    (home / "llm_config.toml").write_text(
        f"""
[backends.qwen]
providers = ["one", "two"]

[backends.claude]
providers = ["ant"]

[backends.gem]
providers = ["g"]

[message_backend]
default = "qwen"
order = ["qwen"]

[proxy]
port = {port}
admin_token = "${{AUTO_ROUTER_ADMIN_TOKEN}}"
client_tokens = ["{CLIENT}"]
failure_threshold = 100

[proxy.models]
"claude-x" = "claude"
"gemini-x" = "gem"

[proxy.request_log]
bodies = true
"""
    )
    (home / "provider_metadata.toml").write_text(
        f"""
[qwen.one]
base_url = "{upstream.url}"
api_key = "{KEY}"
OPENAI_API_KEY = "{KEY}"

[qwen.two]
base_url = "{upstream.url}"
api_key = "${{SEC_ENV_KEY}}"

[claude.ant]
type = "anthropic"
base_url = "{upstream.root}"
api_key = "${{SEC_ANT_KEY}}"
ANTHROPIC_API_KEY = "${{SEC_ANT_KEY}}"

[gem.g]
type = "gemini"
base_url = "{upstream.root}"
api_key = "{GEM_KEY}"
"""
    )


def _environ(home: Path) -> dict[str, str]:
    return {
        **os.environ,
        "AUTO_ROUTER_HOME": str(home),
        "SEC_ENV_KEY": ENV_KEY,
        "SEC_ANT_KEY": ANT_KEY,
        "AUTO_ROUTER_ADMIN_TOKEN": ADMIN,
        "COLUMNS": "200",
    }


CHAT = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
DATA_PATH = [
    ("POST", "/v1/chat/completions", CHAT),
    ("POST", "/v1/chat/completions", {**CHAT, "stream": True}),
    ("POST", "/v1/completions", {"model": "m", "prompt": "hi"}),
    ("POST", "/v1/embeddings", {"model": "m", "input": "hi"}),
    ("POST", "/v1/responses", {"model": "m", "input": "hi"}),
    ("POST", "/v1/messages", {"model": "claude-x", "max_tokens": 5, "messages": CHAT["messages"]}),
    ("POST", "/v1/messages/count_tokens", {"model": "claude-x", "messages": CHAT["messages"]}),
    ("POST", "/v1beta/models/gemini-x:generateContent", {"contents": []}),
    ("POST", "/v1beta/models/gemini-x:streamGenerateContent?alt=sse", {"contents": []}),
    ("POST", "/v1beta/models/gemini-x:countTokens", {"contents": []}),
    ("GET", "/v1/models", None),
]
MANAGEMENT = [
    ("GET", "/health"),
    ("GET", "/"),
    ("GET", "/v1/providers"),
    ("POST", "/v1/providers/health"),
    ("GET", "/v1/providers/templates"),
    ("GET", "/v1/providers/qwen/one"),
    ("GET", "/v1/providers/qwen/two"),
    ("GET", "/v1/providers/qwen/one/config"),
    ("GET", "/v1/providers/claude/ant/config"),
    ("POST", "/v1/providers/qwen/one/models"),
    ("POST", "/v1/providers/qwen/one/test"),
    ("POST", "/v1/providers/gem/g/test"),
    ("GET", "/v1/providers/qwen/nope"),
    ("GET", "/v1/settings"),
    ("GET", "/v1/settings/active_provider"),
    ("GET", "/v1/backends"),
    ("GET", "/v1/backends/qwen"),
    ("GET", "/v1/requests"),
    ("GET", "/v1/requests?limit=500"),
    ("GET", "/v1/stats"),
    ("POST", "/v1/providers/reload"),
    ("POST", "/v1/backends/qwen/rotate"),
]
COMMANDS = [
    ["status"],
    ["status", "--json"],
    ["history"],
    ["history", "--json"],
    ["requests"],
    ["requests", "--json"],
    ["stats"],
    ["stats", "--json"],
    ["provider", "list"],
    ["provider", "list", "--json"],
    ["provider", "show", "qwen/one"],
    ["provider", "show", "qwen/one", "--json"],
    ["provider", "show", "claude/ant", "--json"],
    ["provider", "test"],
    ["provider", "test", "--json"],
    ["models", "qwen/one"],
    ["models", "qwen/one", "--json"],
    ["backend", "list"],
    ["backend", "list", "--json"],
    ["backend", "show", "qwen", "--json"],
    ["config", "show"],
    ["config", "show", "--json"],
    ["config", "validate"],
    ["config", "path"],
    ["provider", "show", "qwen/missing"],  # an error message
    ["rotate", "qwen"],
    ["set", "qwen", "two"],
]


def _wait_up(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError("the proxy exited")
        try:
            httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise AssertionError("the proxy did not start")


def _exercise_proxy(home: Path, port: int, log_args: list[str], out: list[str]) -> None:
    log_file = home / f"proxy{'-json' if log_args else ''}.log"
    with log_file.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "auto_router", "proxy", *log_args],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=_environ(home),
        )
        try:
            _wait_up(port, proc)
            base = f"http://127.0.0.1:{port}"
            with httpx.Client(timeout=20) as client:
                for method, path, body in DATA_PATH:
                    for token in (CLIENT, "wrong-token"):
                        resp = client.request(
                            method,
                            base + path,
                            json=body,
                            headers={"authorization": f"Bearer {token}"},
                        )
                        out.append(json.dumps(dict(resp.headers)) + resp.text)
                for method, path in MANAGEMENT:
                    for token in (ADMIN, None):
                        headers = {"authorization": f"Bearer {token}"} if token else {}
                        resp = client.request(method, base + path, headers=headers)
                        out.append(json.dumps(dict(resp.headers)) + resp.text)
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(30)
    out.append(log_file.read_text())


def _leaks(text: str) -> list[str]:
    return [s for s in SECRETS + FRAGMENTS if s in text]


def test_no_credential_leaves_the_process(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    outputs: list[str] = []
    with FakeUpstream(echo) as upstream:
        port = free_port()
        _write_config(home, upstream, port)
        _exercise_proxy(home, port, [], outputs)  # logfmt lines
        _exercise_proxy(home, port, ["--log-json"], outputs)  # JSON lines
        for command in COMMANDS:
            result = subprocess.run(
                [sys.executable, "-m", "auto_router", *command],
                capture_output=True,
                text=True,
                env=_environ(home),
                timeout=60,
            )
            outputs.append(f"{command}\n{result.stdout}\n{result.stderr}")
    # The providers did echo every key (else this test proves nothing).
    sent = {_key_of(s) for s in upstream.seen}
    assert {KEY, ENV_KEY, ANT_KEY, GEM_KEY} <= sent
    everything = "\n".join(outputs)
    assert "Incorrect API key provided" in everything  # upstream errors did come through
    assert "Traceback" not in everything
    found = {name: _leaks(text) for name, text in zip(range(len(outputs)), outputs, strict=True)}
    assert {k: v for k, v in found.items() if v} == {}
    for name in ("auto-router.db", "auto-router.db-wal", "auto-router.db-shm"):
        path = home / name
        if path.exists():
            data = path.read_bytes().decode("latin-1")
            assert _leaks(data) == [], name
    assert (home / "auto-router.db").exists()
