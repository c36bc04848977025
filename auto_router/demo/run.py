"""``auto-router demo``: the main job, end to end, on this machine alone.

Three fake providers listen on localhost: two have run out of quota (429 with Retry-After),
one works. A stand-in agent that talks like qwen-code is launched through
``auto-router run``, which points it at the local proxy: its request fails over from the two
exhausted providers to the third one before the agent sees a byte, and the agent never restarts.
Then the same providers are used through ``auto-router proxy`` with an OpenAI-style request.
Every step runs the real ``auto-router`` command in a subprocess and shows its output.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TextIO

import httpx

from .fake_upstream import FakeProvider, FakeUpstream, free_port
from .provider import Behaviour

#: The three fake providers: (name, behaviour, Retry-After in seconds).
PROVIDERS: tuple[tuple[str, Behaviour, int], ...] = (
    ("alpha", "rate-limited", 3600),
    ("beta", "rate-limited", 600),
    ("gamma", "ok", 5),
)


def demo_providers() -> list[FakeProvider]:
    """Fresh fakes for one run: each answers ``Hello from <name>.`` when it works."""
    return [
        FakeProvider(name, behaviour, text=f"Hello from {name}.", pieces=None, retry_after=wait)
        for name, behaviour, wait in PROVIDERS
    ]


def write_demo_config(
    directory: Path, providers: Sequence[FakeProvider], urls: Sequence[str]
) -> None:
    """The configuration a user would write for three providers of one backend."""
    names = [p.name for p in providers]
    directory.joinpath("llm_config.toml").write_text(
        "# Written by `auto-router demo`: one backend, three providers on localhost.\n"
        "[backends.demo]\n"
        'agent = "qwen"          # the stand-in agent talks like qwen-code\n'
        'model = "demo-model"\n'
        f"providers = {names!r}\n".replace("'", '"')
        + "\n[message_backend]\n"
        'default = "demo"\n',
        encoding="utf-8",
    )
    tables = [
        f'[demo.{p.name}]\ndescription = "fake provider: {p.behaviour}"\n'
        f'base_url = "{url}"\napi_key = "demo-key-{p.name}-0123456789"\n'
        for p, url in zip(providers, urls, strict=True)
    ]
    directory.joinpath("provider_metadata.toml").write_text("\n".join(tables), encoding="utf-8")


class Demo:
    def __init__(self, directory: Path, out: TextIO) -> None:
        self.directory = directory
        self.out = out

    def say(self, text: str = "") -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def auto_router(self, *args: str, check: bool = False) -> int:
        """Run the real CLI, show the command line and everything it prints."""
        shown = " ".join(shlex.quote(a) for a in ("auto-router", *args))
        self.say(f"\n$ {shown}")
        result = subprocess.run(
            [sys.executable, "-m", "auto_router", "--config-dir", str(self.directory), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            check=False,
        )
        self.out.write(result.stdout)
        if check and result.returncode != 0:
            raise RuntimeError(f"`{shown}` exited {result.returncode}")
        return result.returncode

    def launcher_part(self) -> int:
        self.say("== 1. auto-router run: an agent that hits usage limits keeps working")
        code = self.auto_router(
            "run", "--", sys.executable, "-m", "auto_router.demo.agent", "fix the failing test"
        )
        self.auto_router("status", check=True)
        self.auto_router("history", check=True)
        return code

    def proxy_part(self) -> int:
        self.say("\n== 2. auto-router proxy: the same failover for any OpenAI client")
        self.auto_router("reset", "--all", check=True)
        port = free_port()
        with self._proxy(port) as base_url:
            self.say(f'\n$ curl {base_url}/chat/completions -d \'{{"model": "demo-model", ...}}\'')
            response = httpx.post(
                f"{base_url}/chat/completions",
                json={"model": "demo-model", "messages": [{"role": "user", "content": "hi"}]},
                timeout=30,
            )
            self.say(f"HTTP {response.status_code}: {response.text.strip()}")
        # After the proxy stopped: its request log is written in batches, flushed on exit.
        self.auto_router("requests", check=True)
        self.auto_router("status", check=True)
        return 0 if response.status_code == 200 else 1

    @contextmanager
    def _proxy(self, port: int) -> Iterator[str]:
        command = [
            sys.executable,
            "-m",
            "auto_router",
            "--config-dir",
            str(self.directory),
            "proxy",
            "--port",
            str(port),
        ]
        self.say(f"\n$ auto-router proxy --port {port} &")
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        base_url = f"http://127.0.0.1:{port}/v1"
        try:
            _wait_until_ready(f"http://127.0.0.1:{port}/health", process)
            yield base_url
        finally:
            process.terminate()
            process.wait(timeout=10)


def _wait_until_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            error = process.stderr.read().decode() if process.stderr else ""
            raise RuntimeError(f"the proxy exited early: {error.strip()}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError("the proxy did not become ready")


def run_demo(out: TextIO, directory: Path | None = None, *, proxy: bool = True) -> int:
    """Run the whole demonstration; returns 0 when every part ended as it should."""
    with ExitStack() as stack:
        if directory is None:
            directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ar-demo-")))
        directory.mkdir(parents=True, exist_ok=True)
        providers = demo_providers()
        urls = [stack.enter_context(FakeUpstream(p)).url for p in providers]
        write_demo_config(directory, providers, urls)
        demo = Demo(directory, out)
        demo.say(
            f"Fake providers on localhost: {', '.join(p.name for p in providers)} "
            "(alpha and beta answer 429: quota exceeded; gamma works)."
        )
        demo.say(f"Configuration written to {directory}")
        status = demo.launcher_part()
        if proxy:
            status = status or demo.proxy_part()
        demo.say("\nDone: " + ("every step worked." if status == 0 else "a step failed."))
        return status
    return 1  # pragma: no cover - ExitStack does not swallow exceptions
