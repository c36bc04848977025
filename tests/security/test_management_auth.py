"""Issue 18, items 1, 8 and 10: the management API of both proxies needs a token on every bind
(another local user and the same user without it are refused), provider-calling checks are
POST-only, a page on another localhost port gets nothing, and ``base_url`` is http(s) with a
host. Real proxies (the managed one ``run`` starts, ``auto-router proxy`` as a process, the
app on uvicorn), real sockets, a real client switched to another uid."""

from __future__ import annotations

import json
import os
import pwd
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx
import pytest

from auto_router.demo.fake_upstream import FakeUpstream, free_port
from auto_router.paths import Paths
from auto_router.runs import RuntimeDir
from auto_router.secrets import Secret

from .conftest import KEY_ONE, configure, make_app, running

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
STUB = ROOT / "tests" / "managed" / "launcher_stub.py"
ATTACKER_URL = "http://127.0.0.1:9/v1"
#: What the attacker tried as ``nobody``: read the log and the settings, point the provider
#: at its own server, spend quota.
ATTACKS = [
    ("GET", "/v1/requests", None),
    ("GET", "/v1/settings", None),
    ("POST", "/v1/providers/qwen/one/test", None),
    ("POST", "/v1/providers/health", None),
    ("POST", "/v1/providers/qwen/one/models", None),
    ("PUT", "/v1/providers/qwen/one", {"set": {"base_url": ATTACKER_URL}}),
]

#: The client another user runs: everything it needs is imported while it is still root
#: (the interpreter's own files may not be readable by ``nobody``), then it drops to the uid
#: and gid given and makes the requests with the standard library only.
_OTHER_USER_CLIENT = """
import encodings.idna, http.client, json, os, sys
uid, gid, port = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
attacks = json.loads(sys.argv[4])
token = sys.argv[5] if len(sys.argv) > 5 else ""
os.setgroups([])
os.setgid(gid)
os.setuid(uid)
statuses = []
for method, path, body in attacks:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    data = None if body is None else json.dumps(body).encode()
    headers = {"content-type": "application/json"} if data is not None else {}
    if token:
        headers["authorization"] = "Bearer " + token
    conn.request(method, path, body=data, headers=headers)
    response = conn.getresponse()
    statuses.append([response.status, response.read().decode(errors="replace")])
    conn.close()
print(json.dumps({"uid": os.getuid(), "statuses": statuses}))
"""


def as_another_user(
    port: int, attacks: Sequence[tuple[str, str, object]] = ATTACKS, token: str = ""
) -> list[tuple[int, str]]:
    """Run ``attacks`` (with ``token`` as bearer, if given) from a process of user
    ``nobody``; skips unless the tests run as root (only root can switch to another uid)."""
    if os.geteuid() != 0:
        pytest.skip("running a client as another user needs root (the tests run as a user)")
    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("there is no user 'nobody' to run the other client as")
    result = subprocess.run(
        [
            sys.executable,
            "-I",
            "-c",
            _OTHER_USER_CLIENT,
            str(nobody.pw_uid),
            str(nobody.pw_gid),
            str(port),
            json.dumps(attacks),
            token,
        ],
        capture_output=True,
        text=True,
        cwd="/",
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["uid"] == nobody.pw_uid != os.getuid()
    return [(status, text) for status, text in data["statuses"]]


def same_user_without_token(port: int, token: str | None = None) -> list[tuple[int, str]]:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    found = []
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=20) as client:
        for method, path, body in ATTACKS:
            resp = client.request(method, path, json=body, headers=headers)
            found.append((resp.status_code, resp.text))
    return found


def assert_refused(
    answers: list[tuple[int, str]], status_code: tuple[int, str] = (401, "UNAUTHORIZED")
) -> None:
    """Every attack refused with ``status_code`` (another user's connection is refused
    before any token is looked at: 403 ``FORBIDDEN_PEER``, see test_peer_uid.py)."""
    for (method, path, _), (status, text) in zip(ATTACKS, answers, strict=True):
        assert (status, json.loads(text)["error"]["code"]) == status_code, (method, path, text)
        assert KEY_ONE not in text


def write_home(home: Path, upstream: str) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    (home / "llm_config.toml").write_text('[backends.qwen]\nproviders = ["one"]\n')
    (home / "provider_metadata.toml").write_text(
        f'[qwen.one]\nbase_url = "{upstream}"\napi_key = "{KEY_ONE}"\nmodel = "m1"\n'
    )
    return home


# ------------------------------------------------------------------ the proxy `run` starts


@pytest.fixture
def managed(tmp_path: Path) -> Iterator[tuple[Path, int, FakeUpstream]]:
    """The real managed proxy, started by a launcher stand-in (``spawn.join``) that stays
    registered until the test ends; yields (home, port, the fake provider)."""
    with FakeUpstream() as upstream:
        home = write_home(tmp_path / "home", upstream.url)
        proc = subprocess.Popen(
            [sys.executable, str(STUB), str(home)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        try:
            assert proc.stdout is not None
            joined = json.loads(proc.stdout.readline())
            yield home, int(joined["url"].rsplit(":", 1)[1]), upstream
        finally:
            proc.communicate("", timeout=30)


def test_the_run_proxys_management_api_is_closed_to_other_users(
    managed: tuple[Path, int, FakeUpstream],
) -> None:
    home, port, upstream = managed
    meta = (home / "provider_metadata.toml").read_text()
    assert_refused(as_another_user(port), (403, "FORBIDDEN_PEER"))
    assert (home / "provider_metadata.toml").read_text() == meta
    assert upstream.seen == []  # no call was made with the provider's key


def test_the_run_proxys_management_api_needs_the_token_from_its_runtime_file(
    managed: tuple[Path, int, FakeUpstream],
) -> None:
    home, port, upstream = managed
    meta = (home / "provider_metadata.toml").read_text()
    assert_refused(same_user_without_token(port))
    assert_refused(same_user_without_token(port, "arr_not-the-token"))
    assert (home / "provider_metadata.toml").read_text() == meta
    assert upstream.seen == []

    runtime = RuntimeDir(Paths(home, home))
    record_file = runtime.path / "proxy.json"
    assert stat.S_IMODE(record_file.stat().st_mode) == 0o600
    token = runtime.admin_token(port)
    assert token is not None and token.startswith("ara_")
    headers = {"authorization": f"Bearer {token}"}
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=20) as client:
        settings = client.get("/v1/settings", headers=headers)
        assert settings.status_code == 200 and token not in settings.text
        tested = client.post("/v1/providers/qwen/one/test", headers=headers)
        assert tested.status_code == 200 and tested.json()["healthy"] is True
    assert [s.headers["authorization"] for s in upstream.seen] == [f"Bearer {KEY_ONE}"]
    assert token not in runtime.log_path.read_text()  # the proxy's own log never holds it


# ------------------------------------------------------------------ `auto-router proxy`


@pytest.fixture
def standalone(tmp_path: Path) -> Iterator[tuple[Path, int, FakeUpstream, list[str]]]:
    """``auto-router proxy`` as a process on a free loopback port, no admin token configured;
    yields (home, port, the fake provider, its output lines so far)."""
    with FakeUpstream() as upstream:
        home = write_home(tmp_path / "home", upstream.url)
        port = free_port()
        env = {k: v for k, v in os.environ.items() if k != "AUTO_ROUTER_ADMIN_TOKEN"}
        env["AUTO_ROUTER_HOME"] = str(home)
        log = home / "proxy.out"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "auto_router", "proxy", "--port", str(port)],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
            )
        try:
            _wait_up(port, proc)
            yield home, port, upstream, log.read_text().splitlines()
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(30)


def _wait_up(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30  # a hang guard, not a timed assertion
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the proxy exited"
        try:
            httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise AssertionError("the proxy did not start")


def test_a_standalone_proxy_makes_a_token_and_keeps_it_in_a_private_file(
    standalone: tuple[Path, int, FakeUpstream, list[str]],
) -> None:
    home, port, upstream, lines = standalone
    meta = (home / "provider_metadata.toml").read_text()
    assert_refused(same_user_without_token(port))
    assert_refused(as_another_user(port), (403, "FORBIDDEN_PEER"))
    assert (home / "provider_metadata.toml").read_text() == meta
    assert upstream.seen == []

    runtime = RuntimeDir(Paths(home, home))
    token_file = runtime.token_file(port)
    assert f"token file: {token_file}" in lines
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(token_file.parent.stat().st_mode) == 0o700
    token = runtime.admin_token(port)
    assert token is not None and token.startswith("ara_")
    assert token not in "\n".join(lines)  # printed nowhere: only the file's path is
    answers = same_user_without_token(port, token)
    assert [status for status, _ in answers] == [200, 200, 200, 200, 200, 200]
    # The PUT above did point the provider at another URL: the token holder may.
    assert ATTACKER_URL in (home / "provider_metadata.toml").read_text()


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_the_token_file_goes_with_the_proxy(tmp_path: Path, stop: signal.Signals) -> None:
    with FakeUpstream() as upstream:
        home = write_home(tmp_path / "home", upstream.url)
        port = free_port()
        env = {**os.environ, "AUTO_ROUTER_HOME": str(home)}
        env.pop("AUTO_ROUTER_ADMIN_TOKEN", None)
        proc = subprocess.Popen(
            [sys.executable, "-m", "auto_router", "proxy", "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        _wait_up(port, proc)
        token_file = RuntimeDir(Paths(home, home)).token_file(port)
        assert token_file.exists()
        proc.send_signal(stop)
        assert proc.wait(30) in (0, 128 + stop)  # 130 for Ctrl-C, 143 for SIGTERM
        assert not token_file.exists()


def test_a_configured_admin_token_is_the_only_one(tmp_path: Path) -> None:
    with FakeUpstream() as upstream:
        home = write_home(tmp_path / "home", upstream.url)
        port = free_port()
        env = {**os.environ, "AUTO_ROUTER_HOME": str(home)}
        env["AUTO_ROUTER_ADMIN_TOKEN"] = "configured-admin-token-0123456789"
        proc = subprocess.Popen(
            [sys.executable, "-m", "auto_router", "proxy", "--port", str(port)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
        )
        try:
            _wait_up(port, proc)
            assert not RuntimeDir(Paths(home, home)).token_file(port).exists()
            assert_refused(same_user_without_token(port))
            good = "configured-admin-token-0123456789"
            assert same_user_without_token(port, good)[1][0] == 200
        finally:
            proc.send_signal(signal.SIGINT)
            out, _ = proc.communicate(timeout=30)
        assert b"token file" not in out


# ------------------------------------------------------------------ item 10: browsers


def test_a_page_on_another_localhost_port_cannot_run_the_health_check(
    home: Paths, upstream: FakeUpstream
) -> None:
    """``Sec-Fetch-Site: same-site`` and no ``Origin``: what a browser sends for a page on
    ``localhost:8080`` loading ``<img src=http://127.0.0.1:PORT/v1/providers/health>``."""
    configure(home, upstream.url)
    token = "ara_health-check-token-0000000000"
    with running(make_app(home, admin_token=Secret(token))) as port:
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=20) as client:
            for site in ("same-site", "cross-site", "something-new"):
                for method in ("GET", "POST"):
                    resp = client.request(
                        method,
                        "/v1/providers/health",
                        headers={"sec-fetch-site": site, "authorization": f"Bearer {token}"},
                    )
                    assert resp.status_code == 403, (site, method, resp.text)
                    assert resp.json()["error"]["code"] == "FORBIDDEN_ORIGIN"
                page = client.get("/v1/settings", headers={"sec-fetch-site": site})
                assert page.status_code == 403
            assert upstream.seen == []
            # A GET is never a health check, token or not: it calls every provider.
            get = client.get("/v1/providers/health", headers={"authorization": f"Bearer {token}"})
            assert get.status_code == 405
            assert client.post("/v1/providers/health").status_code == 401
            assert upstream.seen == []
            # The user's own tools (no fetch metadata, or `same-origin` / `none`) still can.
            for extra in ({}, {"sec-fetch-site": "same-origin"}, {"sec-fetch-site": "none"}):
                headers = {"authorization": f"Bearer {token}", **extra}
                resp = client.post("/v1/providers/health", headers=headers)
                assert resp.status_code == 200 and resp.json()["checked"] == 1, resp.text
            assert len(upstream.seen) == 3


# ------------------------------------------------------------------ item 8: base_url

BAD_URLS = [
    "file:///etc/passwd",
    "gopher://127.0.0.1:70/_x",
    "unix:///var/run/docker.sock",
    "//127.0.0.1/v1",
    "127.0.0.1:1234/v1",
    "http:///v1",
    "http://127.0.0.1:99999/v1",
    "http://exa mple/v1",
]


@pytest.mark.parametrize("url", BAD_URLS)
def test_config_validate_refuses_a_base_url_that_is_no_http_url(tmp_path: Path, url: str) -> None:
    home = write_home(tmp_path / "home", url)
    result = subprocess.run(
        [sys.executable, "-m", "auto_router", "config", "validate"],
        capture_output=True,
        text=True,
        env={**os.environ, "AUTO_ROUTER_HOME": str(home)},
        timeout=60,
    )
    assert result.returncode == 78, result.stdout + result.stderr
    assert "provider_metadata.toml:2" in result.stderr
    assert "expected an http:// or https:// URL" in result.stderr
    assert "Traceback" not in result.stderr


def test_edits_and_the_management_api_refuse_a_bad_base_url(
    home: Paths, upstream: FakeUpstream
) -> None:
    configure(home, upstream.url)
    before = home.provider_metadata.read_text()
    env = {**os.environ, "AUTO_ROUTER_HOME": str(home.config_dir)}
    for url in ("//127.0.0.1/v1", "file:///etc/passwd"):
        argv = ["provider", "edit", "qwen/one", "--set", f"base_url={url}"]
        edit = subprocess.run(
            [sys.executable, "-m", "auto_router", *argv],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert edit.returncode != 0 and "expected an http:// or https:// URL" in edit.stderr
        assert "Traceback" not in edit.stderr
    assert home.provider_metadata.read_text() == before
    token = "ara_base-url-token-000000000000"
    with running(make_app(home, admin_token=Secret(token))) as port:
        base = f"http://127.0.0.1:{port}"
        auth = {"authorization": f"Bearer {token}"}
        with httpx.Client(base_url=base, headers=auth, timeout=20) as client:
            for url in ("//127.0.0.1/v1", "gopher://127.0.0.1:70/_x", "unix:///tmp/s"):
                put = client.put("/v1/providers/qwen/one", json={"set": {"base_url": url}})
                assert put.status_code == 400, put.text
                assert "expected an http:// or https:// URL" in put.text
                config = client.get("/v1/providers/qwen/one/config").json()
                config["base_url"] = url
                put = client.put("/v1/providers/qwen/one/config", json=config)
                assert put.status_code == 400, put.text
            chat = client.post(
                "/v1/chat/completions",
                json={"model": "m", "messages": [{"role": "user", "content": "hi"}]},
            )
            assert chat.status_code == 200, chat.text  # still the old, good base_url
    assert home.provider_metadata.read_text() == before


def test_a_bad_upstream_url_is_a_usage_error_not_an_internal_error(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "auto_router", "proxy", "--upstream", "//127.0.0.1/v1"],
        capture_output=True,
        text=True,
        env={**os.environ, "AUTO_ROUTER_HOME": str(tmp_path)},
        timeout=60,
    )
    assert result.returncode == 2, result.stderr  # a usage error
    assert "--upstream: expected an http:// or https:// URL" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_base_url_from_a_variable_is_checked_once_expanded(
    home: Paths, upstream: FakeUpstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``base_url = "${BASE}"`` passes the load-time check; ``//127.0.0.1/v1`` in the variable
    used to reach aiohttp's AssertionError ("internal proxy error", a traceback)."""
    monkeypatch.setenv("AR_TEST_BASE", "//127.0.0.1/v1")
    configure(home, "${AR_TEST_BASE}")
    with running(make_app(home)) as port:
        chat = httpx.post(
            f"http://127.0.0.1:{port}/v1/chat/completions",
            json={"model": "m", "messages": [{"role": "user", "content": "hi"}]},
            timeout=20,
        )
    assert chat.status_code in (502, 503), chat.text
    assert "internal" not in chat.text
    assert "expected an http:// or https:// URL with a host" in chat.text
    assert upstream.seen == []
