#!/usr/bin/env python3
"""A local fake LLM provider for checking the real agent CLIs (127.0.0.1 only, stdlib only).

It speaks the four wire formats the agents use:

- OpenAI chat completions (``POST .../chat/completions``, JSON or SSE): qwen-code;
- OpenAI Responses (``POST .../responses``, SSE): Codex CLI;
- Anthropic Messages (``POST .../v1/messages``, JSON or SSE): Claude Code;
- Gemini ``models/{model}:generateContent`` / ``:streamGenerateContent?alt=sse`` /
  ``:countTokens``: Gemini CLI.

A request whose key (``Authorization: Bearer``, ``x-api-key``, ``x-goog-api-key`` or
``?key=``) contains ``limited`` gets a 429 with ``Retry-After`` and the provider's realistic
error body; any other key gets a minimal valid answer whose text is ``REPLY_TEXT``. Every
request is logged as one JSON line (path, key, model, status, tools offered, tool results).

With ``tools=True`` (``--tools``) the chat-completions, Messages and Gemini answers make a
tool round trip: a request that offers one of the agents' shell tools (``SHELL_TOOLS``) and
carries no tool result yet gets a call of that tool (``echo hello-from-tool``; chat and
Messages stream its arguments as two deltas); once a tool result comes back the answer is
``DONE: <the result>``.

Run by hand: ``python scripts/fake_provider.py --port 8765 --log /tmp/requests.jsonl``.
"""

from __future__ import annotations

import argparse
import json
import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

REPLY_TEXT = "PONG-FROM-THE-SECOND-PROVIDER"
#: What the tool the fake asks for prints; ``DONE: ...hello-from-tool`` proves the round trip.
TOOL_MARKER = "hello-from-tool"
#: The agents' shell tools, and arguments that make each print ``TOOL_MARKER``.
SHELL_TOOLS: dict[str, dict[str, Any]] = {
    "Bash": {"command": f"echo {TOOL_MARKER}", "description": "print a marker"},
    "shell": {"command": ["echo", TOOL_MARKER]},
    "run_shell_command": {"command": f"echo {TOOL_MARKER}"},
    "exec_command": {"cmd": f"echo {TOOL_MARKER}"},  # Codex CLI 0.169
}
#: Text the fake says before a tool call, in the same answer (as models do): the client
#: must get a text block and then a tool call, in that order.
PREAMBLE = "Running it now."


def openai_429() -> dict[str, Any]:
    return {
        "error": {
            "message": "Rate limit reached for gpt-4.1 in organization org-fake on requests per "
            "min (RPM): Limit 3, Used 3, Requested 1. Please try again in 20s. Visit "
            "https://platform.openai.com/account/rate-limits to learn more.",
            "type": "requests",
            "param": None,
            "code": "rate_limit_exceeded",
        }
    }


def anthropic_429() -> dict[str, Any]:
    return {
        "type": "error",
        "error": {
            "type": "rate_limit_error",
            "message": "This request would exceed the rate limit for your organization "
            "(fake-org) of 50 input tokens per minute. For details, refer to: "
            "https://docs.claude.com/en/api/rate-limits.",
        },
        "request_id": "req_fake_0001",
    }


def gemini_429(model: str, retry_after: int) -> dict[str, Any]:
    return {
        "error": {
            "code": 429,
            "message": "You exceeded your current quota, please check your plan and billing "
            "details. For more information on this error, head to: "
            "https://ai.google.dev/gemini-api/docs/rate-limits.\n* Quota exceeded for metric: "
            "generativelanguage.googleapis.com/generate_content_free_tier_requests, limit: 10, "
            f"model: {model}\nPlease retry in {retry_after}.0s.",
            "status": "RESOURCE_EXHAUSTED",
            "details": [
                {
                    "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                    "violations": [
                        {
                            "quotaMetric": "generativelanguage.googleapis.com/"
                            "generate_content_free_tier_requests",
                            "quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
                            "quotaDimensions": {"location": "global", "model": model},
                            "quotaValue": "10",
                        }
                    ],
                },
                {
                    "@type": "type.googleapis.com/google.rpc.Help",
                    "links": [
                        {
                            "description": "Learn more about Gemini API quotas",
                            "url": "https://ai.google.dev/gemini-api/docs/rate-limits",
                        }
                    ],
                },
                {
                    "@type": "type.googleapis.com/google.rpc.RetryInfo",
                    "retryDelay": f"{retry_after}s",
                },
            ],
        }
    }


def sse(events: list[tuple[str | None, dict[str, Any] | str]]) -> Iterator[bytes]:
    for name, data in events:
        text = data if isinstance(data, str) else json.dumps(data)
        head = f"event: {name}\n" if name else ""
        yield f"{head}data: {text}\n\n".encode()


def _text_of(content: Any) -> str:
    """A tool result's text: a string, or a list of text parts / blocks."""
    if isinstance(content, list):
        return "".join(_text_of(part.get("text", part.get("content", ""))) for part in content)
    return "" if content is None else str(content)


def _tool_names(body: dict[str, Any] | None) -> list[str]:
    tools = (body or {}).get("tools") or []
    found = []
    for tool in tools:
        if isinstance(tool, dict) and isinstance(tool.get("functionDeclarations"), list):
            found += [str(d.get("name")) for d in tool["functionDeclarations"]]  # Gemini
        elif isinstance(tool, dict):
            name = tool.get("function", tool).get("name")
            found.append(str(name) if name else f"({tool.get('type')})")
    return found


def chat_turn(body: dict[str, Any], tools: bool) -> tuple[dict[str, Any] | None, str]:
    """(the tool call to make, or ``None``; the text to answer) for a chat request."""
    messages = [m for m in body.get("messages", []) if isinstance(m, dict)]
    results = [m for m in messages if m.get("role") == "tool"]
    if results:
        return None, "DONE: " + _text_of(results[-1].get("content")).strip()[:200]
    offered = [t.get("function", {}).get("name") for t in body.get("tools") or []]
    name = next((n for n in offered if n in SHELL_TOOLS), None) if tools else None
    if name is None:
        return None, REPLY_TEXT
    return {"id": "call_fake_1", "name": name, "arguments": json.dumps(SHELL_TOOLS[name])}, ""


def chat_completion(
    model: str, stream: bool, call: dict[str, Any] | None = None, text: str = REPLY_TEXT
) -> tuple[dict[str, Any] | None, list[bytes]]:
    created = int(time.time())
    usage = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
    finish = "tool_calls" if call else "stop"
    if not stream:
        message: dict[str, Any] = {"role": "assistant", "content": PREAMBLE if call else text}
        if call:
            message["tool_calls"] = [
                {
                    "id": call["id"],
                    "type": "function",
                    "function": {"name": call["name"], "arguments": call["arguments"]},
                }
            ]
        return {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": usage,
        }, []

    def chunk(delta: dict[str, Any], finish: str | None, **extra: Any) -> dict[str, Any]:
        return {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            **extra,
        }

    if call:  # as OpenAI streams one: id and name first, then the arguments in pieces
        half = len(call["arguments"]) // 2
        head = {"index": 0, "id": call["id"], "type": "function"}
        body = [
            chunk({"role": "assistant", "content": PREAMBLE}, None),
            chunk({"tool_calls": [
                {**head, "function": {"name": call["name"], "arguments": ""}}]}, None),
            chunk({"tool_calls": [
                {"index": 0, "function": {"arguments": call["arguments"][:half]}}]}, None),
            chunk({"tool_calls": [
                {"index": 0, "function": {"arguments": call["arguments"][half:]}}]}, None),
        ]  # fmt: skip
    else:
        body = [chunk({"role": "assistant", "content": ""}, None), chunk({"content": text}, None)]
    return None, list(
        sse(
            [
                *((None, c) for c in body),
                (None, chunk({}, finish)),
                (None, {**chunk({}, None), "choices": [], "usage": usage}),
                (None, "[DONE]"),
            ]
        )
    )


def responses_stream(model: str) -> list[bytes]:
    created = int(time.time())
    message = {
        "id": "msg_fake",
        "type": "message",
        "status": "completed",
        "role": "assistant",
        "content": [{"type": "output_text", "text": REPLY_TEXT, "annotations": []}],
    }
    base = {"id": "resp_fake", "object": "response", "created_at": created, "model": model}
    usage = {
        "input_tokens": 10,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": 5,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 15,
    }
    return list(
        sse(
            [
                (
                    "response.created",
                    {
                        "type": "response.created",
                        "response": {**base, "status": "in_progress", "output": []},
                    },
                ),
                (
                    "response.output_item.added",
                    {
                        "type": "response.output_item.added",
                        "output_index": 0,
                        "item": {**message, "status": "in_progress", "content": []},
                    },
                ),
                (
                    "response.output_text.delta",
                    {
                        "type": "response.output_text.delta",
                        "item_id": "msg_fake",
                        "output_index": 0,
                        "content_index": 0,
                        "delta": REPLY_TEXT,
                    },
                ),
                (
                    "response.output_item.done",
                    {"type": "response.output_item.done", "output_index": 0, "item": message},
                ),
                (
                    "response.completed",
                    {
                        "type": "response.completed",
                        "response": {
                            **base,
                            "status": "completed",
                            "output": [message],
                            "usage": usage,
                        },
                    },
                ),
            ]
        )
    )


def anthropic_turn(body: dict[str, Any], tools: bool) -> tuple[dict[str, Any] | None, str]:
    """(the tool_use block to send, or ``None``; the text to answer) for a Messages request."""
    blocks = [
        b
        for m in body.get("messages", [])
        if isinstance(m, dict) and isinstance(m.get("content"), list)
        for b in m["content"]
        if isinstance(b, dict)
    ]
    results = [b for b in blocks if b.get("type") == "tool_result"]
    if results:
        return None, "DONE: " + _text_of(results[-1].get("content")).strip()[:200]
    offered = [t.get("name") for t in body.get("tools") or [] if isinstance(t, dict)]
    name = next((n for n in offered if n in SHELL_TOOLS), None) if tools else None
    if name is None:
        return None, REPLY_TEXT
    return {"type": "tool_use", "id": "toolu_fake_1", "name": name, "input": SHELL_TOOLS[name]}, ""


def anthropic_message(
    model: str, stream: bool, call: dict[str, Any] | None = None, text: str = REPLY_TEXT
) -> tuple[dict[str, Any] | None, list[bytes]]:
    usage = {"input_tokens": 10, "output_tokens": 5}
    blocks = (
        [{"type": "text", "text": PREAMBLE}, call] if call else [{"type": "text", "text": text}]
    )
    stop = "tool_use" if call else "end_turn"
    message = {
        "id": "msg_fake",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": blocks,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": usage,
    }
    if not stream:
        return message, []
    start = {**message, "content": [], "stop_reason": None, "usage": {**usage, "output_tokens": 1}}
    events: list[tuple[str | None, dict[str, Any] | str]] = [
        ("message_start", {"type": "message_start", "message": start})
    ]
    for index, block in enumerate(blocks):
        if block["type"] == "tool_use":
            opened: dict[str, Any] = {**block, "input": {}}
            arguments = json.dumps(block["input"])
            half = len(arguments) // 2
            deltas = [
                {"type": "input_json_delta", "partial_json": arguments[:half]},
                {"type": "input_json_delta", "partial_json": arguments[half:]},
            ]
        else:
            opened = {"type": "text", "text": ""}
            deltas = [{"type": "text_delta", "text": block["text"]}]
        events.append(
            (
                "content_block_start",
                {"type": "content_block_start", "index": index, "content_block": opened},
            )
        )
        events += [
            ("content_block_delta", {"type": "content_block_delta", "index": index, "delta": d})
            for d in deltas
        ]
        events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    events += [
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop, "stop_sequence": None},
                "usage": {"output_tokens": 5},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]
    return None, list(sse(events))


def gemini_turn(body: dict[str, Any], tools: bool) -> tuple[dict[str, Any] | None, str]:
    """(the functionCall part to send, or ``None``; the text to answer) for Gemini."""
    parts = [
        part
        for content in body.get("contents", [])
        if isinstance(content, dict)
        for part in content.get("parts") or []
        if isinstance(part, dict)
    ]
    results = [p["functionResponse"] for p in parts if isinstance(p.get("functionResponse"), dict)]
    if results:
        return None, "DONE: " + json.dumps(results[-1].get("response"))[:200]
    name = next((n for n in _tool_names(body) if n in SHELL_TOOLS), None) if tools else None
    if name is None:
        return None, REPLY_TEXT
    return {"functionCall": {"name": name, "args": SHELL_TOOLS[name]}}, ""


def gemini_answer(
    model: str, call: dict[str, Any] | None = None, text: str = REPLY_TEXT
) -> dict[str, Any]:
    return {
        "candidates": [
            {
                "content": {
                    "parts": [{"text": PREAMBLE}, call] if call else [{"text": text}],
                    "role": "model",
                },
                "finishReason": "STOP",
                "index": 0,
            }
        ],
        "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 5, "totalTokenCount": 15},
        "modelVersion": model,
        "responseId": "fake-response",
    }


_GEMINI_PATH = re.compile(r"/models/(?P<model>[^/:]+):(?P<method>\w+)$")


class FakeProvider(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self, log_path: Path | None, retry_after: int = 5, port: int = 0, tools: bool = False
    ) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.log_path = log_path
        self.retry_after = retry_after
        self.tools = tools
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # an agent killed mid-request (a --timeout) resets its connection: not news

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def record(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self.requests.append(entry)
            if self.log_path is not None:
                with self.log_path.open("a", encoding="utf-8") as f:
                    f.write(json.dumps(entry) + "\n")

    def start(self) -> FakeProvider:
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self


class _Handler(BaseHTTPRequestHandler):
    server: FakeProvider
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _key(self, query: dict[str, list[str]]) -> tuple[str, str]:
        auth = self.headers.get("authorization")
        if auth:
            return "authorization", auth.removeprefix("Bearer ").strip()
        for name in ("x-api-key", "x-goog-api-key", "api-key"):
            if self.headers.get(name):
                return name, self.headers[name]
        if "key" in query:
            return "?key", query["key"][0]
        return "none", ""

    def do_GET(self) -> None:
        self._handle(None)

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = {}
        self._handle(body if isinstance(body, dict) else {})

    def _handle(self, body: dict[str, Any] | None) -> None:
        url = urlparse(self.path)
        query = parse_qs(url.query)
        header, key = self._key(query)
        path = url.path
        gemini = _GEMINI_PATH.search(path)
        model = str((body or {}).get("model") or (gemini.group("model") if gemini else ""))
        limited = "limited" in key
        status = 200
        entry = {
            "time": time.time(),
            "method": self.command,
            "path": path,
            "auth_header": header,
            "key": key,
            "model": model,
            "stream": bool((body or {}).get("stream")) or "alt=sse" in url.query,
            "user_agent": self.headers.get("user-agent", ""),
            "tools": _tool_names(body),
        }
        retry = self.server.retry_after
        try:
            if body is None:  # GET: model lists and the like
                if path.endswith("/models"):
                    status = 429 if limited else 200
                    if limited:
                        self._json(429, openai_429(), retry)
                    else:
                        self._json(200, {"object": "list", "data": [], "models": []})
                else:
                    status = 404
                    self._json(404, {"error": {"message": f"no route {path}"}})
            elif path.endswith("/chat/completions"):
                if limited:
                    status = 429
                    self._json(429, openai_429(), retry)
                else:
                    call, text = chat_turn(body, self.server.tools)
                    entry["turn"] = "tool call" if call else text
                    doc, chunks = chat_completion(model, bool(body.get("stream")), call, text)
                    self._answer(doc, chunks)
            elif path.endswith("/responses"):
                if limited:
                    status = 429
                    self._json(429, openai_429(), retry)
                else:
                    self._answer(None, responses_stream(model))
            elif path.endswith("/messages/count_tokens"):
                self._json(200, {"input_tokens": 10})
            elif path.endswith("/messages"):
                if limited:
                    status = 429
                    self._json(429, anthropic_429(), retry)
                else:
                    call, text = anthropic_turn(body, self.server.tools)
                    entry["turn"] = "tool call" if call else text
                    doc, chunks = anthropic_message(model, bool(body.get("stream")), call, text)
                    self._answer(doc, chunks)
            elif gemini is not None:
                method = gemini.group("method")
                if method == "countTokens":
                    self._json(200, {"totalTokens": 10})
                elif limited:
                    status = 429
                    self._json(429, gemini_429(model, retry), retry)
                elif method in ("streamGenerateContent", "generateContent"):
                    call, text = gemini_turn(body, self.server.tools)
                    entry["turn"] = "tool call" if call else text
                    answer = gemini_answer(model, call, text)
                    if method == "generateContent":
                        self._json(200, answer)
                    else:
                        self._answer(None, list(sse([(None, answer)])))
                else:
                    status = 404
                    self._json(404, {"error": {"code": 404, "message": f"no method {method}"}})
            else:
                status = 404
                self._json(404, {"error": {"message": f"no route {path}"}})
        finally:
            entry["status"] = status
            self.server.record(entry)

    def _json(self, status: int, doc: dict[str, Any], retry_after: int | None = None) -> None:
        data = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        if retry_after is not None:
            self.send_header("retry-after", str(retry_after))
        self.end_headers()
        self.wfile.write(data)

    def _answer(self, doc: dict[str, Any] | None, chunks: list[bytes]) -> None:
        if doc is not None:
            self._json(200, doc)
            return
        data = b"".join(chunks)
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--log", type=Path, default=None)
    parser.add_argument("--retry-after", type=int, default=5)
    parser.add_argument("--tools", action="store_true", help="ask for a shell tool first")
    args = parser.parse_args()
    server = FakeProvider(args.log, args.retry_after, args.port, args.tools)
    print(f"fake provider on {server.url}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
