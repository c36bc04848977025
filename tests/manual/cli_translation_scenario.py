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
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from auto_router.demo.fake_upstream import Action, FakeProvider, FakeUpstream, Script, Seen


def printed(provider: FakeProvider) -> Script:
    """``provider``, printing each request it answers."""

    def script(seen: Seen) -> Action:
        action = provider(seen)
        entry = provider.requests[-1]
        what = f"{entry['status']}, tools {entry['tools']}, answered {entry.get('turn', '-')!r}"
        print(f"[fake {provider.name}] {seen.method} {seen.path}: {what}", flush=True)
        return action

    return script


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--upstream", choices=("chat", "anthropic"), default="chat")
    ap.add_argument("--port", type=int, default=3001)
    args = ap.parse_args(argv)
    kind = "openai" if args.upstream == "chat" else "anthropic"
    limited = FakeProvider("limited", "rate-limited", retry_after=3600)
    answering = FakeProvider("ok", text="hello from the fake", pieces=None, tools=True)
    with (
        tempfile.TemporaryDirectory(prefix="auto-router-scenario-") as directory,
        FakeUpstream(printed(limited)) as one,
        FakeUpstream(printed(answering)) as two,
    ):
        home = Path(directory)
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
