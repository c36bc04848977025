#!/usr/bin/env python3
"""A stand-in for a coding-agent CLI, printing what the real ones print.

Behaviour comes from ``--behaviour NAME`` or, when absent, the ``FAKE_BEHAVIOUR`` variable (so
each provider table in a test's provider_metadata.toml can make it behave differently). Every
run first reports which provider variables it received: names with a short SHA-256 prefix of
the value, never the value itself. ``FAKE_LOG`` names a file to append one line per run to.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sys
import time

WATCHED = (
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "OPENAI_MODEL",
    "OPENAI_API_BASE",
    "ANTHROPIC_BASE_URL",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "ANTHROPIC_MODEL",
    "GEMINI_API_KEY",
    "GOOGLE_GEMINI_BASE_URL",
    "GEMINI_MODEL",
    "AIDER_MODEL",
    "AUTO_ROUTER_CODEX_API_KEY",
    "CLAUDE_CODE_MAX_RETRIES",
    "QWEN_CODE_SYSTEM_SETTINGS_PATH",
    "GEMINI_CLI_SYSTEM_SETTINGS_PATH",
    "GEMINI_CLI_HOME",
    "AUTO_ROUTER_BACKEND",
    "AUTO_ROUTER_PROVIDER",
    "AUTO_ROUTER_ATTEMPT",
    "FAKE_SECRET",
)


#: behaviour -> (stream, lines, exit code), copied from the real CLIs' output.
REAL_429: dict[str, tuple[str, list[str], int]] = {
    # qwen-code 0.24.4, `qwen -p "say hi"` (text mode): on stderr, exit 1.
    "qwen-429-real": (
        "stderr",
        [
            "[API Error: 429 Rate limit reached for gpt-4.1 in organization org-fake on requests "
            "per min (RPM): Limit 3, Used 3, Requested 1. Please try again in 20s. Visit "
            "https://platform.openai.com/account/rate-limits to learn more.]",
            "Possible quota limitations in place or slow response times detected. Please wait "
            "and try again later.",
        ],
        1,
    ),
    # Claude Code 2.1.197, `claude -p "say hi"` with CLAUDE_CODE_MAX_RETRIES=0: stdout, exit 1.
    "claude-429-real": (
        "stdout",
        [
            "API Error: Request rejected (429) \u00b7 This request would exceed the rate limit "
            "for your organization (fake-org) of 50 input tokens per minute. For details, refer "
            "to: https://docs.claude.com/en/api/rate-limits."
        ],
        1,
    ),
    # Claude Code 2.1.197, `--output-format json`: one line on stdout, exit 1.
    "claude-429-json-real": (
        "stdout",
        [
            '{"type":"result","subtype":"success","is_error":true,"api_error_status":429,'
            '"duration_ms":241,"duration_api_ms":0,"num_turns":1,"result":"API Error: Request '
            "rejected (429) \u00b7 This request would exceed the rate limit for your organization "
            '(fake-org) of 50 input tokens per minute.","stop_reason":"stop_sequence",'
            '"total_cost_usd":0,"terminal_reason":"completed"}'
        ],
        1,
    ),
    # Codex CLI 0.169.0, `codex exec` with request/stream_max_retries=0: stderr, exit 1.
    "codex-429-real": (
        "stderr",
        [
            "ERROR: exceeded retry limit, last status: 429 Too Many Requests",
            "ERROR: exceeded retry limit, last status: 429 Too Many Requests",
        ],
        1,
    ),
    # Gemini CLI 0.61.0, `gemini -p "say hi"` with general.maxAttempts = 1: stderr, exit 1.
    "gemini-429-real": (
        "stderr",
        [
            "Attempt 1 failed: You exceeded your current quota, please check your plan and "
            "billing details. For more information on this error, head to: "
            "https://ai.google.dev/gemini-api/docs/rate-limits.",
            "* Quota exceeded for metric: generativelanguage.googleapis.com/"
            "generate_content_free_tier_requests, limit: 10, model: fake-model-limited",
            "Please retry in 5.0s.",
            "Suggested retry after 5s.. Max attempts reached",
            "Error when talking to Gemini API Full report available at: "
            "/tmp/gemini-client-error-Turn.run-sendMessageStream-2026-11-21T21-30-49-117Z.json "
            "RetryableQuotaError: You exceeded your current quota, please check your plan and "
            "billing details.",
            "  cause: {",
            "    code: 429,",
            "  },",
            "  retryDelayMs: 5000,",
            "  status: 429",
            "}",
            "An unexpected critical error occurred:[object Object]",
        ],
        1,
    ),
    # Gemini CLI 0.61.0 without a selected auth type while GOOGLE_GEMINI_BASE_URL is set:
    # not a usage limit (exit 41).
    "gemini-gateway-auth": ("stderr", ["Invalid auth method selected."], 41),
}


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:12]


def report() -> None:
    seen = {name: digest(os.environ[name]) for name in WATCHED if name in os.environ}
    print("fake-agent env " + json.dumps(seen, sort_keys=True), flush=True)
    print("fake-agent argv " + json.dumps(sys.argv[1:]), flush=True)
    log = os.environ.get("FAKE_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as f:
            f.write(
                json.dumps(
                    {
                        "provider": os.environ.get("AUTO_ROUTER_PROVIDER"),
                        "backend": os.environ.get("AUTO_ROUTER_BACKEND"),
                        "argv": sys.argv[1:],
                        "env": seen,
                        "settings": settings_files(),
                    }
                )
                + "\n"
            )


def settings_files() -> dict[str, object]:
    """The fail-fast settings files the launcher pointed us at (they hold no secrets)."""
    found: dict[str, object] = {}
    for name in ("QWEN_CODE_SYSTEM_SETTINGS_PATH", "GEMINI_CLI_SYSTEM_SETTINGS_PATH"):
        path = os.environ.get(name)
        if path:
            with open(path, encoding="utf-8") as f:
                found[name] = {"path": path, "content": json.load(f)}
    home = os.environ.get("GEMINI_CLI_HOME")
    if home:
        gemini = os.path.join(home, ".gemini")
        with open(os.path.join(gemini, "settings.json"), encoding="utf-8") as f:
            found["GEMINI_CLI_HOME"] = {
                "path": home,
                "content": json.load(f),
                "entries": sorted(os.listdir(gemini)),
            }
    return found


def out(text: str) -> None:
    print(text, flush=True)


def err(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def work(lines: int = 8) -> None:
    for i in range(lines):
        out(f"working on step {i + 1}")


def interactive() -> int:
    out(f"isatty stdin={sys.stdin.isatty()} stdout={sys.stdout.isatty()}")
    size = os.get_terminal_size(sys.stdout.fileno()) if sys.stdout.isatty() else None
    out(f"size={size.lines}x{size.columns}" if size else "size=none")

    def on_winch(signum: int, frame: object) -> None:
        s = os.get_terminal_size(sys.stdout.fileno())
        out(f"resized={s.lines}x{s.columns}")

    signal.signal(signal.SIGWINCH, on_winch)
    out("prompt> ")
    while True:
        line = sys.stdin.readline()
        if not line:
            return 0
        line = line.strip()
        out(f"got: {line}")
        if line == "quit":
            return 0
        if line.startswith("exit "):
            return int(line.split()[1])
        if line == "limit":
            out("API Error: Request rejected (429) · rate limited")
            return 1
        if line == "show-limit":  # like a TUI: the error shows, the agent keeps running
            out("API Error: Request rejected (429) · rate limited")


def wait_for_signal() -> int:
    def on_term(signum: int, frame: object) -> None:
        out(f"fake-agent got signal {signum}")
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    out("fake-agent waiting")
    marker = os.environ.get("FAKE_READY")
    if marker:
        with open(marker, "w") as f:
            f.write(str(os.getpid()))
    while True:
        time.sleep(0.05)


def main() -> int:
    args = sys.argv[1:]
    behaviour = os.environ.get("FAKE_BEHAVIOUR", "ok")
    if "--behaviour" in args:
        behaviour = args[args.index("--behaviour") + 1]
    report()
    if behaviour == "ok":
        work(2)
        out("done")
        return 0
    if behaviour.startswith("exit-"):
        return int(behaviour.split("-", 1)[1])
    if behaviour.startswith("self-kill-"):
        os.kill(os.getpid(), int(behaviour.rsplit("-", 1)[1]))
        time.sleep(5)
        return 1
    if behaviour == "test-fail":
        out("FAILED tests/test_x.py::test_y - AssertionError: assert 1 == 2")
        return 1
    # qwen-code, text and --output-format json (where it exits 0)
    if behaviour == "qwen-429":
        retry = os.environ.get("FAKE_RETRY", "37s")
        out(f"[API Error: 429 Provider returned error. Please retry in {retry}]")
        out("Possible quota limitations in place or slow response times detected.")
        return 1
    if behaviour == "qwen-429-json":
        events = [
            {"type": "system", "subtype": "init", "model": "qwen3-coder-plus"},
            {
                "type": "assistant",
                "message": {
                    "content": [
                        {"type": "text", "text": "[API Error: 429 Free allocated quota exceeded.]"}
                    ]
                },
            },
            {"type": "result", "subtype": "success", "is_error": False},
        ]
        out(json.dumps(events, indent=2))
        return 0
    # Claude Code
    if behaviour == "claude-429":
        out("API Error: Request rejected (429) · Please retry in 3600s")
        return 1
    if behaviour == "claude-429-json":
        out(
            json.dumps(
                {
                    "type": "result",
                    "subtype": "success",
                    "is_error": True,
                    "result": "API Error: Request rejected (429)",
                    "api_error_status": 429,
                }
            )
        )
        return 1
    if behaviour == "claude-subscription":
        out("5-hour limit reached ∙ resets 3pm")
        return 1
    # Codex CLI (stderr)
    if behaviour == "codex-429":
        err("ERROR: exceeded retry limit, last status: 429 Too Many Requests")
        return 1
    if behaviour == "codex-quota":
        err("ERROR: Quota exceeded. Check your plan and billing details.")
        return 1
    if behaviour == "codex-usage":
        err("■ You’ve hit your usage limit. Try again in 2 days 3 hours 5 minutes.")
        return 1
    # Gemini CLI (stderr; exit 173 in JSON mode)
    if behaviour == "gemini-429":
        err("Attempt 1 failed with status 429. Retrying with backoff...")
        err("  status: 429, RESOURCE_EXHAUSTED")
        err("Your quota will reset after 2h13m20s.")
        return 1
    if behaviour == "gemini-retry-then-ok":
        err("Attempt 1 failed with status 429. Retrying with backoff...")
        work(8)
        out("done")
        return 0
    if behaviour == "gemini-json-173":
        out(json.dumps({"error": {"type": "Error", "message": "quota", "code": 429}}, indent=2))
        return 173
    # Verbatim output of the real CLIs on a 429 from a local fake provider (see
    # docs/launcher.md, "Verified with the real CLIs"; rerun scripts/verify_real_agents.py).
    if behaviour in REAL_429:
        stream, lines, code = REAL_429[behaviour]
        for line in lines:
            (err if stream == "stderr" else out)(line)
        return code
    # false-positive guards
    if behaviour == "echo-file":
        out("cat docs/limits.md")
        out("Our client backs off when the server says: rate limit exceeded, quota exceeded.")
        out("It also mentions You’ve hit your usage limit inside a sentence.")
        work(8)
        out("done")
        return 0
    if behaviour == "echo-file-fail":
        out("Our client backs off when the server says: rate limit exceeded.")
        work(8)
        out("1 test failed")
        return 1
    if behaviour == "marker-last":
        work(8)
        out("Error: quota exceeded for this key")
        return 0
    if behaviour == "interactive":
        return interactive()
    if behaviour == "wait":
        return wait_for_signal()
    if behaviour == "print-secret":
        out("secret is " + os.environ.get("FAKE_SECRET", ""))
        return 0
    err(f"fake-agent: unknown behaviour {behaviour}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
