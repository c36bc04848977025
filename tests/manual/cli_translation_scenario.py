"""A script-ready scenario for checking the real agent CLIs through translation (issue 11).

Starts two fake providers of ONE protocol on localhost (the first always answers 429, the
second answers), writes a config whose only backend holds them, starts ``auto-router proxy``
on it and prints how to point each CLI at it. The answering fake first asks the agent to run
a shell tool (when the request offers one) and, once the tool result comes back, answers
``DONE: <what the tool printed>``: a full tool round trip. Every request is printed.

    python -m tests.manual.cli_translation_scenario --upstream chat       # OpenAI-type pool
    python -m tests.manual.cli_translation_scenario --upstream anthropic  # Anthropic pool

Then, in another terminal, e.g. Claude Code against an OpenAI-only pool:

    ANTHROPIC_BASE_URL=http://127.0.0.1:3001 ANTHROPIC_AUTH_TOKEN=x claude -p "say hi"

(or ``auto-router --config-dir <printed dir> run -- claude -p "say hi"``, which starts its
own managed proxy on that config; ``scripts/verify_real_agents.py --translate`` automates
that for all four CLIs). Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from auto_router.demo.fake_upstream import FakeUpstream, Reply, Seen, Stream

#: Shell-like tools of the agents, and arguments that make each print a marker.
SHELL_TOOLS = {
    "Bash": {"command": "echo hello-from-tool", "description": "print a marker"},
    "shell": {"command": ["echo", "hello-from-tool"]},
    "run_shell_command": {"command": "echo hello-from-tool"},
}
LIMITED = Reply(429, {"error": {"message": "Rate limit reached", "type": "rate_limit_error"}},
                {"retry-after": "3600"})  # fmt: skip


def pick_tool(names: list[str]) -> tuple[str, dict[str, Any]] | None:
    for name in names:
        if name in SHELL_TOOLS:
            return name, SHELL_TOOLS[name]
    return None


def chat_script(seen: Seen) -> Reply | Stream:
    data = seen.json()
    messages = data.get("messages", [])
    results = [m for m in messages if m.get("role") == "tool"]
    tool = pick_tool([t["function"]["name"] for t in data.get("tools", []) if "function" in t])
    report(seen, f"{len(messages)} messages, {len(results)} tool results")
    if tool and not results:
        call = {"index": 0, "id": "call_1", "type": "function",
                "function": {"name": tool[0], "arguments": json.dumps(tool[1])}}  # fmt: skip
        delta: dict[str, Any] = {"role": "assistant", "content": None, "tool_calls": [call]}
        finish = "tool_calls"
    else:
        text = "DONE: " + (
            str(results[-1].get("content"))[:80] if results else "hello from the fake"
        )
        delta, finish = {"role": "assistant", "content": text}, "stop"
    usage = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
    if data.get("stream"):
        base = {
            "id": "chatcmpl-x",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "fake",
        }
        return Stream([
            json.dumps({**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}),
            json.dumps({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]}),
            json.dumps({**base, "choices": [], "usage": usage}),
            "[DONE]",
        ])  # fmt: skip
    message = {k: v for k, v in delta.items() if k != "tool_calls" or v}
    for call in message.get("tool_calls", []):
        call.pop("index", None)
    return Reply(body={"id": "chatcmpl-x", "object": "chat.completion", "created": 1, "model": "fake",
                       "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                       "usage": usage})  # fmt: skip


def anthropic_script(seen: Seen) -> Reply | Stream:
    data = seen.json()
    messages = data.get("messages", [])
    results = [b for m in messages if isinstance(m.get("content"), list)
               for b in m["content"] if b.get("type") == "tool_result"]  # fmt: skip
    tool = pick_tool([t.get("name", "") for t in data.get("tools", [])])
    report(seen, f"{len(messages)} messages, {len(results)} tool results")
    if tool and not results:
        block: dict[str, Any] = {
            "type": "tool_use",
            "id": "toolu_1",
            "name": tool[0],
            "input": tool[1],
        }
        stop = "tool_use"
    else:
        content = results[-1].get("content") if results else "hello from the fake"
        block, stop = {"type": "text", "text": f"DONE: {str(content)[:80]}"}, "end_turn"
    message = {"id": "msg_x", "type": "message", "role": "assistant", "model": "fake", "content": [block],
               "stop_reason": stop, "stop_sequence": None, "usage": {"input_tokens": 10, "output_tokens": 5}}  # fmt: skip
    if not data.get("stream"):
        return Reply(body=message)
    start = {**message, "content": [], "stop_reason": None}
    opened = {**block, "input": {}} if block["type"] == "tool_use" else {"type": "text", "text": ""}
    delta = ({"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
             if block["type"] == "tool_use" else {"type": "text_delta", "text": block["text"]})  # fmt: skip
    events = [
        ("message_start", {"type": "message_start", "message": start}),
        ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": opened}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("message_delta", {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
                           "usage": {"output_tokens": 5}}),
        ("message_stop", {"type": "message_stop"}),
    ]  # fmt: skip
    return Stream([json.dumps(e) for _, e in events], event_names=[n for n, _ in events])


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def report(seen: Seen, what: str) -> None:
    print(f"[fake] {seen.method} {seen.path}: {what}", flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--upstream", choices=("chat", "anthropic"), default="chat")
    ap.add_argument("--port", type=int, default=3001)
    args = ap.parse_args(argv)
    script = chat_script if args.upstream == "chat" else anthropic_script
    kind = "openai" if args.upstream == "chat" else "anthropic"
    home = Path(tempfile.mkdtemp(prefix="auto-router-scenario-"))
    with FakeUpstream(lambda seen: LIMITED) as one, FakeUpstream(script) as two:
        first, second = (one.url, two.url) if kind == "openai" else (one.root, two.root)
        (home / "llm_config.toml").write_text(
            '[backends.pool]\nproviders = ["limited", "ok"]\n\n[message_backend]\ndefault = "pool"\n'
        )
        (home / "provider_metadata.toml").write_text(
            f'[pool.limited]\ntype = "{kind}"\nbase_url = "{first}"\napi_key = "sk-fake-limited"\nmodel = "fake"\n\n'
            f'[pool.ok]\ntype = "{kind}"\nbase_url = "{second}"\napi_key = "sk-fake-ok"\nmodel = "fake"\n'
        )
        cmd = [
            sys.executable,
            "-m",
            "auto_router",
            "--config-dir",
            str(home),
            "proxy",
            "--port",
            str(args.port),
        ]
        proxy = subprocess.Popen(cmd)
        signal.signal(signal.SIGTERM, _interrupt)  # SIGTERM too ends the proxy with us
        base = f"http://127.0.0.1:{args.port}"
        print(f"config: {home}\nproxy: {base}  (pool: limited -> 429, ok -> {args.upstream})\n")
        print(
            f"  claude:  ANTHROPIC_BASE_URL={base} ANTHROPIC_AUTH_TOKEN=x claude -p 'run echo, then say done'"
        )
        print(
            f'  codex:   codex -c model_provider=auto -c \'model_providers.auto={{name="auto", '
            f'base_url="{base}/v1", wire_api="responses"}}\' exec \'run echo, then say done\''
        )
        print(
            f"  gemini:  GOOGLE_GEMINI_BASE_URL={base} GEMINI_API_KEY=x gemini -p 'run echo, then say done'"
        )
        print(
            f"  qwen:    OPENAI_BASE_URL={base}/v1 OPENAI_API_KEY=x qwen -p 'run echo, then say done'\n"
        )
        try:
            while proxy.poll() is None:
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            proxy.terminate()
            try:
                proxy.wait(10)
            except subprocess.TimeoutExpired:
                proxy.kill()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
