"""Issue 18, item 7: the managed proxy's runtime directory cannot be taken by another user.

``run`` used platformdirs' runtime dir, which without ``XDG_RUNTIME_DIR`` falls back to the
fixed name ``$TMPDIR/runtime-<uid>``: another user who created it first made every ``run``
die with a PermissionError traceback. Now the runtime root is ``$XDG_RUNTIME_DIR/auto-router``
or ``<data dir>/run``, every level created 0700 and checked; one that is not the user's own
private directory is refused with one line (``RuntimeDirError``, exit 73).

Real launcher processes, a real fake provider on a socket, a real agent script calling the
proxy. "Another user" is ``nobody`` (a chown) when the tests run as root; otherwise those
cases skip, and the ones any user can build (a symlink, a directory open to others) run.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from auto_router.demo.fake_upstream import FakeUpstream, Reply, Seen
from auto_router.demo.wire import chat_completion
from auto_router.errors import RuntimeDirError
from auto_router.paths import Paths
from auto_router.runs import RuntimeDir

from .conftest import child_env

pytestmark = pytest.mark.integration

NOBODY = 65534
LLM = """
[backends.chat]
agent = "qwen"
providers = ["one"]
[message_backend]
default = "chat"
"""
AGENT = """
import json, os, urllib.request
body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
request = urllib.request.Request(
    os.environ["OPENAI_BASE_URL"].rstrip("/") + "/chat/completions",
    data=json.dumps(body).encode(),
    headers={"authorization": "Bearer " + os.environ["OPENAI_API_KEY"],
             "content-type": "application/json"},
)
answer = json.load(urllib.request.urlopen(request, timeout=20))
print("answer:", answer["choices"][0]["message"]["content"])
"""


def as_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("making a directory another user owns needs root (chown to nobody)")


def answer(seen: Seen) -> Reply:
    return Reply(body=chat_completion("m", "from-the-real-provider"))


class Machine:
    """A user's home with XDG directories under ``tmp_path`` and its own ``TMPDIR``."""

    def __init__(self, tmp_path: Path, upstream: str) -> None:
        self.root = tmp_path
        self.tmp = tmp_path / "tmp"
        self.tmp.mkdir()
        config = tmp_path / "home" / ".config" / "auto-router"
        config.mkdir(parents=True)
        (config / "llm_config.toml").write_text(LLM)
        (config / "provider_metadata.toml").write_text(
            f'[chat.one]\nbase_url = "{upstream}"\napi_key = "sk-one-0123456789abcdef"\n'
            'model = "m"\n'
        )
        self.agent = tmp_path / "agent.py"
        self.agent.write_text(AGENT)
        env = child_env(tmp_path, {"HOME": str(tmp_path / "home"), "TMPDIR": str(self.tmp)})
        for name in ("AUTO_ROUTER_HOME", "XDG_RUNTIME_DIR", "XDG_CONFIG_HOME", "XDG_DATA_HOME"):
            env.pop(name, None)
        self.env = env
        self.paths = Paths(config, tmp_path / "home" / ".local" / "share" / "auto-router")

    def run(self, **extra: str) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "auto_router", "run", "--via-proxy", "--"]
        return subprocess.run(
            [*argv, sys.executable, str(self.agent)],
            env={**self.env, **extra},
            capture_output=True,
            text=True,
            timeout=60,
        )


def refused(result: subprocess.CompletedProcess[str], problem: str) -> None:
    assert result.returncode == RuntimeDirError.exit_code, result.stderr
    assert "Traceback" not in result.stderr
    first, *rest = result.stderr.strip().splitlines()
    assert first.startswith("auto-router: error: refusing the runtime directory"), first
    assert problem in first
    assert [line for line in rest if not line.startswith("hint: ")] == []
    assert "answer:" not in result.stdout


def test_a_runtime_dir_planted_in_tmp_is_not_used(tmp_path: Path) -> None:
    """The attack: ``$TMPDIR/runtime-<uid>`` made first, by another user when we are root,
    with a ``proxy.json`` pointing at a listener of the attacker's."""
    attacker = socket.socket()
    attacker.bind(("127.0.0.1", 0))
    attacker.listen(8)
    attacker.settimeout(0.1)
    with FakeUpstream(answer) as upstream:
        machine = Machine(tmp_path, upstream.url)
        planted = machine.tmp / f"runtime-{os.geteuid()}"
        key_dir = RuntimeDir(machine.paths, root=planted / "auto-router").path
        key_dir.mkdir(parents=True)
        port = attacker.getsockname()[1]
        record = {"pid": 1, "port": port, "url": f"http://127.0.0.1:{port}", "config_dir": ""}
        (key_dir / "proxy.json").write_text(json.dumps({**record, "started_at": 0}))
        for directory in (planted, planted / "auto-router", key_dir):
            directory.chmod(0o777)
            if os.geteuid() == 0:
                os.chown(directory, NOBODY, NOBODY)
        result = machine.run()
    assert result.returncode == 0, result.stderr
    assert "answer: from-the-real-provider" in result.stdout
    assert "Traceback" not in result.stderr
    with pytest.raises(TimeoutError):  # nobody ever connected to the planted proxy
        attacker.accept()
    attacker.close()
    root = machine.paths.data_dir / "run"  # where the run's proxy did live
    assert (root.stat().st_mode & 0o777) == 0o700
    assert (RuntimeDir(machine.paths, root=root).path / "lock").exists()


def test_an_xdg_runtime_dir_of_another_user_is_refused_in_one_line(tmp_path: Path) -> None:
    as_root()
    machine = Machine(tmp_path, "http://127.0.0.1:9/v1")
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o700)
    os.chown(theirs, NOBODY, NOBODY)
    refused(machine.run(XDG_RUNTIME_DIR=str(theirs)), "it belongs to uid 65534")
    assert not (theirs / "auto-router").exists()


def test_a_run_dir_another_user_made_first_is_refused(tmp_path: Path) -> None:
    as_root()
    machine = Machine(tmp_path, "http://127.0.0.1:9/v1")
    run = machine.paths.data_dir / "run"
    run.mkdir(parents=True, mode=0o700)
    os.chown(run, NOBODY, NOBODY)
    refused(machine.run(), "it belongs to uid 65534, not to you")


def test_a_symlink_or_a_directory_open_to_others_is_refused(tmp_path: Path) -> None:
    machine = Machine(tmp_path, "http://127.0.0.1:9/v1")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    machine.paths.data_dir.mkdir(parents=True)
    (machine.paths.data_dir / "run").symlink_to(elsewhere)
    refused(machine.run(), "it is a symbolic link")
    assert list(elsewhere.iterdir()) == []
    (machine.paths.data_dir / "run").unlink()
    open_dir = tmp_path / "xdg"
    open_dir.mkdir()
    (open_dir / "auto-router").mkdir()
    (open_dir / "auto-router").chmod(0o777)
    refused(machine.run(XDG_RUNTIME_DIR=str(open_dir)), "others can write to it (mode 0777)")


def test_the_xdg_runtime_dir_is_used_when_it_is_private(tmp_path: Path) -> None:
    with FakeUpstream(answer) as upstream:
        machine = Machine(tmp_path, upstream.url)
        xdg = tmp_path / "xdg"
        xdg.mkdir(mode=0o700)
        result = machine.run(XDG_RUNTIME_DIR=str(xdg))
    assert result.returncode == 0, result.stderr
    assert "answer: from-the-real-provider" in result.stdout
    proxy_dir = RuntimeDir(machine.paths, root=xdg / "auto-router").path
    assert (proxy_dir / "lock").exists()
    for directory in (xdg / "auto-router", proxy_dir, proxy_dir / "runs"):
        assert directory.stat().st_mode & 0o777 == 0o700
