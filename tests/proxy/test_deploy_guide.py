"""docs/deploy.md followed end to end: three ``auto-router proxy`` processes sharing one
Redis and one PostgreSQL, both doors locked, the key salt copied, and nginx in front
running docs/examples/nginx.conf (its ports moved to free ones); HAProxy's example checked.

The agents' side is the openai SDK through nginx. A 429 one replica meets is skipped by
all of them at once, and every request lands in the one PostgreSQL log.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from auto_router.demo.fake_upstream import FakeProvider, FakeUpstream, free_port
from auto_router.paths import Paths
from auto_router.store.requests import RequestFilter, read_requests
from tests.helpers import closed_after_test, require_program
from tests.servers import drop_prefix, redis_url, unique_prefix

from .test_postgres_log import pg  # noqa: F401  (the fixture: a schema of this test's own)

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
ADMIN = "admin-token-for-the-deploy-test-0123"
CLIENT = "client-token-for-the-deploy-test-4567"
HI = [{"role": "user", "content": "hi"}]
NAME = {"host": "llm.team.internal"}


def team_config(directory: Path, one: str, two: str, state: str, log: str, front: int) -> None:
    """The guide's section 2: the same pair for every replica."""
    directory.mkdir()
    (directory / "llm_config.toml").write_text(
        '[backends.qwen]\nproviders = ["one", "two"]\n\n'
        '[proxy]\nadmin_token = "${AUTO_ROUTER_ADMIN_TOKEN}"\n'
        'client_tokens = ["${PROXY_CLIENT_TOKEN}"]\n'
        f'allowed_hosts = ["llm.team.internal:{front}"]\n\n'
        f'{state}\n[request_log]\nurl = "{log}"\n'
    )
    (directory / "provider_metadata.toml").write_text(
        f'[qwen.one]\nbase_url = "{one}"\napi_key = "sk-one-secret-key-123456"\nmodel = "m1"\n'
        f'[qwen.two]\nbase_url = "{two}"\napi_key = "sk-two-secret-key-654321"\nmodel = "m2"\n'
    )


def wait_until_up(
    url: str, proc: subprocess.Popen[bytes], headers: dict[str, str] | None = None
) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(url, headers=headers, timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"not up: {url} ({proc.poll()=})")
        time.sleep(0.05)


@pytest.fixture
def shared_state() -> Iterator[str]:
    url, prefix = redis_url(), unique_prefix()
    yield f'[state]\nurl = "{url}"\nprefix = "{prefix}"\n'
    drop_prefix(url, prefix)


def test_the_deploy_guide_end_to_end(tmp_path: Path, shared_state: str, pg: str) -> None:  # noqa: F811
    require_program("nginx", "apt-get install nginx-light")
    ports = [free_port() for _ in range(3)]
    front = free_port()
    one = FakeProvider("one", "rate-limited", retry_after=600)
    two = FakeProvider("two", text="from two")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTO_ROUTER")}
    env.update(AUTO_ROUTER_ADMIN_TOKEN=ADMIN, PROXY_CLIENT_TOKEN=CLIENT)
    procs: list[subprocess.Popen[bytes]] = []
    with FakeUpstream(one) as up_one, FakeUpstream(two) as up_two:
        conf = tmp_path / "etc"
        team_config(conf, up_one.url, up_two.url, shared_state, pg, front)
        homes = [tmp_path / "var" / str(port) for port in ports]
        for home in homes:
            home.mkdir(parents=True)
        first_salt = _make_salt(homes[0])
        for home in homes[1:]:  # section 2, "Key pools": one salt for all
            shutil.copy(first_salt, home / first_salt.name)
        nginx = _nginx(tmp_path / "nginx", ports, front)
        try:
            for port, home in zip(ports, homes, strict=True):
                procs.append(_replica(conf, home, port, env))
            for port, proc in zip(ports, procs, strict=True):
                wait_until_up(f"http://127.0.0.1:{port}/", proc)  # the balancer's check
            procs.append(nginx.start())
            # the clients use the team's name (nginx's server_name, [proxy] allowed_hosts)
            wait_until_up(f"http://127.0.0.1:{front}/", procs[-1], NAME)
            client = closed_after_test(
                openai.OpenAI(
                    base_url=f"http://127.0.0.1:{front}/v1",
                    api_key=CLIENT,
                    max_retries=0,
                    default_headers=NAME,
                )
            )
            answers = [
                client.chat.completions.with_raw_response.create(model="m", messages=HI)  # type: ignore[arg-type]
                for _ in range(6)
            ]
            assert [a.headers["x-auto-router-provider"] for a in answers] == ["qwen/two"] * 6
            assert one.calls == 1  # one replica met the 429; no replica asked one again
            with pytest.raises(openai.AuthenticationError):  # the client door is locked
                closed_after_test(
                    openai.OpenAI(
                        base_url=f"http://127.0.0.1:{front}/v1",
                        api_key="wrong",
                        max_retries=0,
                        default_headers=NAME,
                    )
                ).chat.completions.create(model="m", messages=HI)  # type: ignore[arg-type]
            healths = [httpx.get(f"http://127.0.0.1:{p}/health").json() for p in ports]
            assert all(h["state_store"]["up"] for h in healths)
            assert all(h["request_log"]["kind"] == "postgresql" for h in healths)
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                logged = read_requests(Paths(conf, homes[0]), RequestFilter(), url=pg)
                if len([r for r in logged if r.status == 200]) == 6:
                    break
                time.sleep(0.1)
            assert sorted({r.provider for r in logged if r.status == 200}) == ["two"]
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait(30)


def test_the_haproxy_example_is_valid() -> None:
    require_program("haproxy", "apt-get install haproxy")
    result = subprocess.run(
        ["haproxy", "-c", "-f", str(EXAMPLES / "haproxy.cfg")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_systemd_unit_runs_the_guides_command() -> None:
    unit = (EXAMPLES / "auto-router@.service").read_text()
    start = re.search(r"^ExecStart=(.*)$", unit, re.M)
    assert start is not None
    assert "proxy --host 127.0.0.1 --port %i" in start.group(1)
    assert "--config-dir /etc/auto-router" in start.group(1)
    assert "EnvironmentFile=/etc/auto-router/env" in unit


def _make_salt(home: Path) -> Path:
    from auto_router.config.pools import KeyRing

    ring = KeyRing(home)
    ring.id_of("sk-any-key-to-make-the-salt")
    return ring.path


def _replica(conf: Path, home: Path, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """The unit's ExecStart, run by hand."""
    return subprocess.Popen(
        [sys.executable, "-m", "auto_router", "--config-dir", str(conf), "proxy",
         "--host", "127.0.0.1", "--port", str(port), "--log-json"],
        env={**env, "AUTO_ROUTER_HOME": str(home)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip


class _Nginx:
    def __init__(self, prefix: Path, config: Path) -> None:
        self.prefix, self.config = prefix, config

    def start(self) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            ["nginx", "-p", str(self.prefix), "-c", str(self.config), "-g", "daemon off;"],
            stderr=subprocess.DEVNULL,
        )


def _nginx(prefix: Path, ports: list[int], front: int) -> _Nginx:
    """docs/examples/nginx.conf as it is, its ports moved to free ones."""
    prefix.mkdir()
    text = (EXAMPLES / "nginx.conf").read_text()
    for example, port in zip((3101, 3102, 3103), ports, strict=True):
        text = text.replace(f"127.0.0.1:{example}", f"127.0.0.1:{port}")
    text = text.replace("listen 127.0.0.1:8080", f"listen 127.0.0.1:{front}")
    config = prefix / "nginx.conf"
    config.write_text(text)
    return _Nginx(prefix, config)
