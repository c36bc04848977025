"""A stand-in coding agent for the demo: talks like qwen-code, calls the provider for real.

    OPENAI_BASE_URL=... OPENAI_API_KEY=... OPENAI_MODEL=... python -m auto_router.demo.agent "task"

On a 429 it prints what qwen-code prints (``[API Error: 429 ...]``, ``Possible quota
limitations in place``) and exits 1, so auto-router's launcher rotates exactly as it would
for the real agent.
"""

from __future__ import annotations

import os
import sys

import httpx


def main(argv: list[str]) -> int:
    task = " ".join(argv) or "say hello"
    base_url = os.environ.get("OPENAI_BASE_URL", "")
    if not base_url:
        print("demo agent: OPENAI_BASE_URL is not set", file=sys.stderr)
        return 2
    key = os.environ.get("OPENAI_API_KEY")
    try:
        response = httpx.post(
            f"{base_url.rstrip('/')}/chat/completions",
            headers={"authorization": f"Bearer {key}"} if key else {},
            json={
                "model": os.environ.get("OPENAI_MODEL", "demo-model"),
                "messages": [{"role": "user", "content": task}],
            },
            timeout=30,
        )
    except httpx.HTTPError as exc:
        print(f"[API Error: connection failed: {exc}]")
        return 1
    if response.status_code == 429:
        message = response.json().get("error", {}).get("message", "")
        print(f"[API Error: 429 {message}]")
        print("Possible quota limitations in place or API key issue.")
        return 1
    if response.status_code >= 400:
        print(f"[API Error: {response.status_code} {response.text[:200]}]")
        return 1
    answer = response.json()["choices"][0]["message"]["content"]
    print(f"demo agent ({task!r}): {answer}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
