"""The caps on what comes back hold the proxy's memory (issue 18, item 4), measured as a
real proxy process sees it: ``auto-router proxy`` in a subprocess, with the default caps,
against answers a gigabyte large, and its peak resident memory (``VmHWM`` in
``/proc/<pid>/status``) read after each.

Before the caps a 1 MB gzip bomb took the proxy to 1.09 GB, and a 1 GiB JSON answer
through translation to 2.0 GB. Now each is refused at ``max_response_bytes`` (64 MiB): the
peak stays under 256 MiB, the idle proxy's ~55 MB plus one capped answer and its copies.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from auto_router.demo.actions import Pour, Reply, Seen, gzip_bomb
from auto_router.demo.fake_upstream import FakeUpstream, free_port

pytestmark = pytest.mark.integration

GiB = 1 << 30
#: The peak the proxy must stay under, with the default caps (64 MiB a body).
PEAK_LIMIT = 256 * 1024 * 1024
MESSAGES = [{"role": "user", "content": "hi"}]


def _peak(pid: int) -> int:
    """The process's peak resident memory, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc/<pid>/status")


def _huge(seen: Seen) -> Reply | Pour:
    """``/bomb/...``: 1 GiB inflated from ~1 MB of gzip; else a 1 GiB JSON answer, chunked.
    (An answer whose ``content-length`` is past the cap is refused before it is read.)"""
    if seen.route.startswith("/bomb/"):
        return Reply(body=_BOMB, headers={"content-encoding": "gzip"})
    return Pour(
        head=b'{"choices":[{"index":0,"message":{"role":"assistant","content":"',
        piece=b"a" * (1 << 20),
        times=1024,
        tail=b'"},"finish_reason":"stop"}]}',
        chunked=True,  # no length said up front: counted as it comes
    )


_BOMB = b""


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[tuple[str, int]]:
    if not Path("/proc/self/status").exists():
        pytest.skip("no /proc on this system: the peak memory cannot be read")
    global _BOMB
    _BOMB = _BOMB or gzip_bomb(GiB)
    with FakeUpstream(_huge) as up:
        (tmp_path / "llm_config.toml").write_text(
            '[backends.qwen]\nmodel = "m"\nproviders = ["bomb", "big"]\n'
            '[message_backend]\ndefault = "qwen"\n'
        )
        (tmp_path / "provider_metadata.toml").write_text(
            f'[qwen.bomb]\nbase_url = "{up.root}/bomb/v1"\napi_key = "sk-bomb-0123456789"\n'
            f'[qwen.big]\nbase_url = "{up.url}"\napi_key = "sk-big-0123456789"\n'
        )
        port = free_port()
        env = {**os.environ, "XDG_DATA_HOME": str(tmp_path), "XDG_STATE_HOME": str(tmp_path)}
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "auto_router",
                "--config-dir",
                str(tmp_path),
                "proxy",
                "--port",
                str(port),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            _wait_ready(base, proc)
            yield base, proc.pid
        finally:
            proc.terminate()
            _, err = proc.communicate(timeout=30)
            assert b"Traceback" not in err, err.decode(errors="replace")[-3000:]


def _wait_ready(base: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the proxy exited: {proc.stderr.read() if proc.stderr else ''}")
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError("the proxy did not start within 30 s")


def test_a_gzip_bomb_and_a_gigabyte_answer_stay_under_the_cap(proxy: tuple[str, int]) -> None:
    base, pid = proxy
    # The bomb, straight: one provider only (pinned), so the client sees the refusal.
    resp = httpx.post(
        f"{base}/v1/chat/completions",
        json={"model": "m", "messages": MESSAGES},
        headers={"x-auto-router-provider": "bomb"},
        timeout=120,
    )
    after_bomb = _peak(pid)
    print(f"peak after the gzip bomb: {after_bomb / 2**20:.0f} MiB")
    assert resp.status_code == 502, resp.text[:300]
    assert "max_response_bytes" in resp.json()["error"]["message"]
    assert after_bomb < PEAK_LIMIT, f"peak {after_bomb / 2**20:.0f} MiB after the gzip bomb"

    # 1 GiB of JSON through translation (an Anthropic client, an OpenAI provider).
    resp = httpx.post(
        f"{base}/v1/messages",
        json={"model": "m", "max_tokens": 10, "messages": MESSAGES},
        headers={"x-auto-router-provider": "big", "anthropic-version": "2023-06-01"},
        timeout=120,
    )
    after_big = _peak(pid)
    print(f"peak after the 1 GiB answer: {after_big / 2**20:.0f} MiB")
    assert resp.status_code == 502, resp.text[:300]
    data = resp.json()
    assert data["type"] == "error" and "max_response_bytes" in data["error"]["message"]
    assert after_big < PEAK_LIMIT, f"peak {after_big / 2**20:.0f} MiB after the 1 GiB answer"
