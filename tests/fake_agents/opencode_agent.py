#!/usr/bin/env python3
"""A stand-in for ``opencode run PROMPT``: reads the provider from ``OPENCODE_CONFIG_CONTENT``.

Like opencode 1.18, it uses the configured provider's AI SDK package only through its wire
format (``@ai-sdk/openai-compatible``: ``POST {baseURL}/chat/completions``;
``@ai-sdk/anthropic``: ``POST {baseURL}/messages``; ``@ai-sdk/google``:
``POST {baseURL}/models/{model}:generateContent``), with ``options.apiKey`` after its
``{env:NAME}`` substitution, and the model of ``model = "provider/model"``. A 429 is retried
after ``Retry-After`` (as opencode does, up to ``FAKE_OPENCODE_RETRIES`` times), then it
prints ``Error: <message>`` on stderr and exits 1, as the real one does.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from typing import Any

import httpx


def main() -> int:
    config = json.loads(os.environ["OPENCODE_CONFIG_CONTENT"])
    provider_id, model = config["model"].split("/", 1)
    provider = config["provider"][provider_id]
    options = provider["options"]
    key = re.sub(r"\{env:(\w+)\}", lambda m: os.environ.get(m[1], ""), options.get("apiKey", ""))
    prompt = sys.argv[-1]
    url, headers, body = request(provider["npm"], options["baseURL"], key, model, prompt)
    print(f"opencode-fake npm={provider['npm']} url={url}", file=sys.stderr, flush=True)
    retries = int(os.environ.get("FAKE_OPENCODE_RETRIES", "3"))
    for _ in range(retries + 1):
        response = httpx.post(url, headers=headers, json=body, timeout=30)
        if response.status_code != 429:
            break
        time.sleep(float(response.headers.get("retry-after", "1")))
    if response.status_code >= 400:
        print(f"Error: {message(response)}", file=sys.stderr, flush=True)
        return 1
    print(text(provider["npm"], response.json()), flush=True)
    return 0


def request(
    npm: str, base: str, key: str, model: str, prompt: str
) -> tuple[str, dict[str, str], Any]:
    if npm == "@ai-sdk/anthropic":
        body = {"model": model, "max_tokens": 64, "messages": [{"role": "user", "content": prompt}]}
        return f"{base}/messages", {"x-api-key": key, "anthropic-version": "2023-06-01"}, body
    if npm == "@ai-sdk/google":
        body = {"contents": [{"role": "user", "parts": [{"text": prompt}]}]}
        return f"{base}/models/{model}:generateContent", {"x-goog-api-key": key}, body
    body = {"model": model, "messages": [{"role": "user", "content": prompt}]}
    return f"{base}/chat/completions", {"authorization": f"Bearer {key}"}, body


def text(npm: str, data: dict[str, Any]) -> str:
    if npm == "@ai-sdk/anthropic":
        return str(data["content"][0]["text"])
    if npm == "@ai-sdk/google":
        return str(data["candidates"][0]["content"]["parts"][0]["text"])
    return str(data["choices"][0]["message"]["content"])


def message(response: httpx.Response) -> str:
    try:
        error = response.json().get("error", {})
    except ValueError:
        return response.text
    return str(error.get("message", error) if isinstance(error, dict) else error)


if __name__ == "__main__":
    sys.exit(main())
