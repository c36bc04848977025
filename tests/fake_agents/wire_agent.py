#!/usr/bin/env python3
"""A fake agent that really calls its endpoint, in one API's wire format, as the real CLIs do.

    wire-agent anthropic|openai|gemini

It reads the variables the real agent of that API reads (Claude Code: ``ANTHROPIC_BASE_URL``
and ``ANTHROPIC_AUTH_TOKEN`` or ``ANTHROPIC_API_KEY``; qwen-code: ``OPENAI_BASE_URL``,
``OPENAI_API_KEY``; Gemini CLI: ``GOOGLE_GEMINI_BASE_URL``, ``GEMINI_API_KEY``; and each one's
model variable), sends one request, and prints ``wire-agent answer: <text>``, or on a 429
what Claude Code prints (``API Error: Request rejected (429)``) and exits 1. It also prints
which of ``REPORTED`` it was given (names only) and the host it called.
"""

from __future__ import annotations

import json
import os
import sys
from urllib.parse import urlsplit

import httpx

REPORTED = ("API_TIMEOUT_MS", "FAKE_FLAG")


def request(api: str) -> tuple[str, dict[str, str], dict[str, object]]:
    env = os.environ
    if api == "anthropic":
        headers = {"anthropic-version": "2023-06-01"}
        if env.get("ANTHROPIC_AUTH_TOKEN"):
            headers["authorization"] = "Bearer " + env["ANTHROPIC_AUTH_TOKEN"]
        elif env.get("ANTHROPIC_API_KEY"):
            headers["x-api-key"] = env["ANTHROPIC_API_KEY"]
        body = {
            "model": env.get("ANTHROPIC_MODEL", "claude-sonnet-4-5"),
            "max_tokens": 64,
            "messages": [{"role": "user", "content": "hi"}],
        }
        return env["ANTHROPIC_BASE_URL"].rstrip("/") + "/v1/messages", headers, body
    if api == "gemini":
        model = env.get("GEMINI_MODEL", "gemini-2.5-pro")
        url = env["GOOGLE_GEMINI_BASE_URL"].rstrip("/") + f"/v1beta/models/{model}:generateContent"
        body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
        return url, {"x-goog-api-key": env.get("GEMINI_API_KEY", "")}, body
    body = {
        "model": env.get("OPENAI_MODEL", "gpt-4.1"),
        "messages": [{"role": "user", "content": "hi"}],
    }
    headers = {"authorization": "Bearer " + env.get("OPENAI_API_KEY", "")}
    return env["OPENAI_BASE_URL"].rstrip("/") + "/chat/completions", headers, body


def text_of(api: str, body: dict[str, object]) -> str:
    if api == "anthropic":
        return "".join(b.get("text", "") for b in body["content"])  # type: ignore[attr-defined,union-attr]
    if api == "gemini":
        parts = body["candidates"][0]["content"]["parts"]  # type: ignore[index]
        return "".join(p.get("text", "") for p in parts)
    return str(body["choices"][0]["message"]["content"])  # type: ignore[index]


def main(argv: list[str]) -> int:
    api = argv[0] if argv else "openai"
    given = [name for name in REPORTED if name in os.environ]
    print("wire-agent given " + json.dumps(given), flush=True)
    url, headers, body = request(api)
    print(f"wire-agent calls {urlsplit(url).netloc}", flush=True)
    try:
        response = httpx.post(url, headers=headers, json=body, timeout=30)
    except httpx.HTTPError as exc:
        print(f"API Error: connection failed: {exc}", flush=True)
        return 1
    if response.status_code == 429:
        print("API Error: Request rejected (429) · rate limited", flush=True)
        return 1
    if response.status_code >= 400:
        print(f"API Error: {response.status_code} {response.text[:300]}", flush=True)
        return 1
    print("wire-agent answer: " + text_of(api, response.json()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
