#!/usr/bin/env python3
"""A stand-in for Claude Code and Codex logged in to a subscription: it sends its own login.

    login-agent [-c key=value ...] anthropic|openai [TURNS]

As the real CLIs do (issue 20, tried with Claude Code 2.1.328 and Codex 0.169):

- ``anthropic``: ``ANTHROPIC_AUTH_TOKEN`` (a bearer) or ``ANTHROPIC_API_KEY`` (``x-api-key``)
  replaces the login; else the OAuth access token of ``$HOME/.claude/.credentials.json``
  goes as ``Authorization: Bearer`` with the ``oauth-2025-04-20`` beta flag. The lines of
  ``ANTHROPIC_CUSTOM_HEADERS`` are sent as headers. ``POST $ANTHROPIC_BASE_URL/v1/messages``.
- ``openai``: Codex's ``-c model_providers.auto_router.*`` arguments: with
  ``requires_openai_auth = true`` the ChatGPT token and account id of
  ``$HOME/.codex/auth.json`` (``Authorization``, ``chatgpt-account-id``, ``originator``),
  else the key in the variable ``env_key`` names; ``env_http_headers`` maps headers to
  variables. ``POST <base_url>/responses``.

It sends ``TURNS`` requests (default 1), one conversation growing by a turn each time
(``LOGIN_AGENT_PAUSE`` seconds apart, as a person typing), and prints ``login-agent answer N: <text>`` for each, then ``login-agent env {...}``: which of
``REPORTED`` it was given (the names, and the values of those that are not credentials).
A failed request prints ``API Error: <status>`` and exits 1.
"""

from __future__ import annotations

import json
import os
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

import httpx

REPORTED = (
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "OPENAI_API_KEY",
    "CODEX_API_KEY",
    "CLAUDE_CODE_AUTO_COMPACT_WINDOW",
    "CLAUDE_AUTOCOMPACT_PCT_OVERRIDE",
)
SHOWN = ("CLAUDE_CODE_AUTO_COMPACT_WINDOW", "CLAUDE_AUTOCOMPACT_PCT_OVERRIDE")


def codex_settings(argv: list[str]) -> tuple[dict[str, Any], list[str]]:
    """The ``-c`` overrides parsed as TOML values (as Codex does), and the other arguments."""
    settings: dict[str, Any] = {}
    rest: list[str] = []
    args = iter(argv)
    for arg in args:
        if arg != "-c":
            rest.append(arg)
            continue
        key, _, raw = next(args).partition("=")
        settings[key] = tomllib.loads(f"v = {raw}")["v"]
    return settings, rest


def anthropic_request(env: dict[str, str], messages: list[dict[str, Any]]) -> httpx.Request:
    headers = {"anthropic-version": "2023-06-01", "anthropic-beta": "claude-code-20250219"}
    if env.get("ANTHROPIC_AUTH_TOKEN"):
        headers["authorization"] = "Bearer " + env["ANTHROPIC_AUTH_TOKEN"]
    elif env.get("ANTHROPIC_API_KEY"):
        headers["x-api-key"] = env["ANTHROPIC_API_KEY"]
    else:
        login = json.loads((Path(env["HOME"]) / ".claude" / ".credentials.json").read_text())
        headers["authorization"] = "Bearer " + login["claudeAiOauth"]["accessToken"]
        headers["anthropic-beta"] += ",oauth-2025-04-20"
    for line in env.get("ANTHROPIC_CUSTOM_HEADERS", "").splitlines():
        name, _, value = line.partition(":")
        headers[name.strip()] = value.strip()
    body = {
        "model": env.get("ANTHROPIC_MODEL", "claude-opus-4-5"),
        "max_tokens": 64,
        "messages": messages,
    }
    url = env["ANTHROPIC_BASE_URL"].rstrip("/") + "/v1/messages"
    return httpx.Request("POST", url, headers=headers, json=body)


def openai_request(
    env: dict[str, str], settings: dict[str, Any], messages: list[dict[str, Any]]
) -> httpx.Request:
    prefix = "model_providers.auto_router."
    headers: dict[str, str] = {}
    if settings.get(prefix + "requires_openai_auth"):
        login = json.loads((Path(env["HOME"]) / ".codex" / "auth.json").read_text())
        headers["authorization"] = "Bearer " + login["tokens"]["access_token"]
        headers["chatgpt-account-id"] = login["tokens"]["account_id"]
        headers["originator"] = "codex_exec"
    elif settings.get(prefix + "env_key"):
        headers["authorization"] = "Bearer " + env.get(settings[prefix + "env_key"], "")
    for header, variable in (settings.get(prefix + "env_http_headers") or {}).items():
        if env.get(variable):
            headers[header] = env[variable]
    body = {"model": settings.get("model", "gpt-5-codex"), "input": messages, "stream": False}
    url = str(settings[prefix + "base_url"]).rstrip("/") + "/responses"
    return httpx.Request("POST", url, headers=headers, json=body)


def text_of(api: str, body: dict[str, Any]) -> str:
    if api == "anthropic":
        return "".join(b.get("text", "") for b in body["content"])
    parts = [c for item in body.get("output", []) for c in item.get("content", [])]
    return "".join(str(p.get("text", "")) for p in parts)


def main(argv: list[str]) -> int:
    settings, rest = codex_settings(argv)
    api = rest[0] if rest else "anthropic"
    turns = int(rest[1]) if len(rest) > 1 else 1
    env = dict(os.environ)
    messages: list[dict[str, Any]] = []
    with httpx.Client(timeout=30) as client:
        for turn in range(1, turns + 1):
            if turn > 1:
                time.sleep(float(env.get("LOGIN_AGENT_PAUSE", "0")))
            messages.append({"role": "user", "content": f"turn {turn}"})
            if api == "anthropic":
                request = anthropic_request(env, messages)
            else:
                request = openai_request(env, settings, messages)
            response = client.send(request)
            if response.status_code >= 400:
                print(f"API Error: {response.status_code} {response.text[:200]}", flush=True)
                return 1
            text = text_of(api, response.json())
            print(f"login-agent answer {turn}: {text}", flush=True)
            messages.append({"role": "assistant", "content": text})
    given = {n: (env[n] if n in SHOWN else "set") for n in REPORTED if n in env}
    print("login-agent env " + json.dumps(given, sort_keys=True), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
