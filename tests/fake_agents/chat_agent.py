#!/usr/bin/env python3
"""A fake *interactive* agent that really talks to its provider, like a coding agent's TUI.

Each turn it prints ``you> ``, reads one line from its terminal, and sends the whole
conversation so far to ``OPENAI_BASE_URL`` with the official ``openai`` SDK (no retries of its
own), then prints ``assistant: <answer>``. A 429 is printed the way qwen-code prints it and the
session goes on (a TUI shows the error and waits for the next prompt). ``/quit`` ends it.
"""

from __future__ import annotations

import os
import sys

import openai


def main() -> int:
    client = openai.OpenAI(
        base_url=os.environ["OPENAI_BASE_URL"],
        api_key=os.environ.get("OPENAI_API_KEY", "none"),
        max_retries=0,
    )
    model = os.environ.get("OPENAI_MODEL", "chat-model")
    print(f"chat-agent pid={os.getpid()} tty={sys.stdin.isatty()}", flush=True)
    conversation: list[dict[str, str]] = []
    while True:
        try:
            line = input("you> ")
        except EOFError:
            return 0
        if line.strip() == "/quit":
            return 0
        conversation.append({"role": "user", "content": line})
        try:
            reply = client.chat.completions.create(model=model, messages=conversation)  # type: ignore[arg-type]
        except openai.APIStatusError as exc:
            conversation.pop()
            retry = exc.response.headers.get("retry-after")
            print(f"[API Error: {exc.status_code} {_message(exc)}] retry-after={retry}", flush=True)
            continue
        answer = reply.choices[0].message.content or ""
        conversation.append({"role": "assistant", "content": answer})
        print(f"assistant: {answer}", flush=True)


def _message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return error["message"]
    return exc.message


if __name__ == "__main__":
    sys.exit(main())
