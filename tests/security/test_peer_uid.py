"""Issue 18, item 1, the data path: on loopback without ``client_tokens`` the proxy serves only
its own user (and root); another local user's connection is refused before any provider is
called, and with client tokens the token decides for everyone. Real sockets, the proxy on
uvicorn as ``auto-router proxy`` runs it, a real client process switched to uid ``nobody``;
and the /proc/net/tcp lookup itself on real connections."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import struct
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from auto_router.demo.fake_upstream import FakeUpstream
from auto_router.paths import Paths
from auto_router.proxy.peers import PeerCheck, diag_uid, diag_works, peer_uid

from .conftest import KEY_ONE, configure, make_app, running
from .test_management_auth import as_another_user

CHAT = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
MESSAGES = {"model": "m", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}
#: What another user would spend the owner's quota with, in two protocols.
SPEND = [("POST", "/v1/chat/completions", CHAT), ("POST", "/v1/messages", MESSAGES)]
CLIENT_TOKEN = "client-token-for-everyone-123"

needs_proc = pytest.mark.skipif(
    not os.access("/proc/net/tcp", os.R_OK), reason="the peer uid check reads /proc/net/tcp"
)
Lookup = Callable[[tuple[Any, ...], tuple[Any, ...]], "int | None"]


def _lookups() -> list[Any]:
    """Both ways to ask, each skipped with its reason where this kernel lacks it."""
    proc = pytest.param(peer_uid, id="proc-net-tcp", marks=needs_proc)
    works = diag_works()
    diag = pytest.param(
        diag_uid,
        id="sock-diag",
        marks=pytest.mark.skipif(not works, reason="no sock_diag (tcp_diag) in this kernel"),
    )
    return [diag, proc]


every_lookup = pytest.mark.parametrize("lookup", _lookups())
needs_check = pytest.mark.skipif(
    not PeerCheck(lambda: True).available, reason="no sock_diag nor /proc/net/tcp here"
)


@contextlib.contextmanager
def _connected(
    family: int, host: str, server_host: str | None = None
) -> Iterator[tuple[socket.socket, socket.socket]]:
    """Both ends of a live connection from a client socket of ``family`` at ``host``
    to a listener on ``server_host`` (default ``host``); all closed afterwards."""
    listen_on = server_host or host
    with socket.socket(socket.AF_INET6 if ":" in listen_on else socket.AF_INET) as listener:
        listener.bind((listen_on, 0))
        listener.listen()
        with socket.socket(family) as client:
            client.connect((host, listener.getsockname()[1]))
            accepted, _ = listener.accept()
            with accepted:
                yield client, accepted


@every_lookup
def test_the_client_end_of_a_loopback_connection_is_ours(lookup: Lookup) -> None:
    with _connected(socket.AF_INET, "127.0.0.1") as (_, accepted):
        peer, local = accepted.getpeername(), accepted.getsockname()
        assert lookup(peer, local) == os.getuid()
        assert lookup((peer[0], 1), local) is None  # no such client end: not found
        assert lookup(local, peer) == os.getuid()  # the proxy's own end, asked the other way


@every_lookup
@pytest.mark.parametrize(
    ("host", "server_host"),
    [("::1", None), ("::ffff:127.0.0.1", "127.0.0.1")],
    ids=["ipv6", "ipv6-client-of-an-ipv4-server"],
)
def test_ipv6_and_mapped_clients_are_found(
    lookup: Lookup, host: str, server_host: str | None
) -> None:
    with contextlib.ExitStack() as stack:
        try:
            _, accepted = stack.enter_context(_connected(socket.AF_INET6, host, server_host))
        except OSError as exc:
            pytest.skip(f"no such IPv6 loopback connection here: {exc}")
        assert lookup(accepted.getpeername(), accepted.getsockname()) == os.getuid()


@needs_proc
@every_lookup
def test_a_client_end_that_is_gone_proves_nothing(lookup: Lookup) -> None:
    """A TIME_WAIT row says uid 0 (root): it must not pass as root."""
    with _connected(socket.AF_INET, "127.0.0.1") as (client, accepted):
        peer, local = accepted.getpeername(), accepted.getsockname()
        client.close()
        assert accepted.recv(1) == b""  # its FIN came
        accepted.shutdown(socket.SHUT_WR)  # ours goes: the client end turns TIME_WAIT
        key = f"{_hex(peer)} {_hex(local)} 06 "
        deadline = time.monotonic() + 10  # a hang guard: the FIN crosses loopback at once
        while key not in Path("/proc/net/tcp").read_text() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert key in Path("/proc/net/tcp").read_text()
        assert lookup(peer, local) is None


def _hex(end: tuple[str, int]) -> str:
    """An IPv4 end as /proc/net/tcp writes it (the word in host byte order)."""
    word = struct.unpack("=I", socket.inet_aton(end[0]))[0]
    return f"{word:08X}:{end[1]:04X}"


class _Transport:
    """What the server protocol hands the check: the connection's two ends."""

    def __init__(self, accepted: socket.socket) -> None:
        self.names = {"peername": accepted.getpeername(), "sockname": accepted.getsockname()}

    def get_extra_info(self, name: str) -> Any:
        return self.names.get(name)


@pytest.mark.parametrize("netlink", [True, False], ids=["sock-diag", "proc-net-tcp"])
def test_the_rule_ours_or_roots_else_foreign(netlink: bool) -> None:
    check = PeerCheck(lambda: True, netlink=netlink)
    if not check.available:
        pytest.skip("neither sock_diag nor /proc/net/tcp here")
    with _connected(socket.AF_INET, "127.0.0.1") as (_, accepted):
        transport = _Transport(accepted)
        assert check.foreign(transport) is False
        check.allowed = frozenset({os.getuid() + 1})  # as another user would see it
        assert check.foreign(transport) is True
    assert PeerCheck(lambda: False, netlink=netlink).foreign(transport) is None  # tokens decide


def test_without_sock_diag_and_proc_net_tcp_nothing_is_checked(tmp_path: Path) -> None:
    check = PeerCheck(lambda: True, proc_net=tmp_path, netlink=False)
    assert not check.available
    assert check.foreign(object()) is None


# ------------------------------------------------------------------ the proxy, another user


@pytest.fixture
def paths(tmp_path: Path) -> Paths:
    return Paths(config_dir=tmp_path, data_dir=tmp_path)


def _spend_as_owner(port: int, token: str | None = None) -> list[int]:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=20) as client:
        return [
            client.post(path, json=body, headers=headers).status_code for _, path, body in SPEND
        ]


@pytest.mark.integration
@needs_check
def test_another_user_cannot_spend_the_owners_quota(paths: Paths) -> None:
    with FakeUpstream() as upstream:
        configure(paths, upstream.url)
        with running(make_app(paths)) as port:
            answers = as_another_user(port, SPEND)
            assert upstream.seen == []  # no call was made with the owner's key
            openai, anthropic = (json.loads(text) for _, text in answers)
            assert [status for status, _ in answers] == [403, 403]
            assert openai["error"]["code"] == "forbidden_peer"  # each in its client's protocol
            assert anthropic["type"] == "error" and anthropic["error"]["type"]
            assert all(KEY_ONE not in text for _, text in answers)
            # The owner, on the same proxy, is served.
            assert _spend_as_owner(port) == [200, 200]
            assert len(upstream.seen) == 2


@pytest.mark.integration
@needs_check
def test_with_client_tokens_the_token_decides_for_every_user(paths: Paths) -> None:
    with FakeUpstream() as upstream:
        configure(paths, upstream.url, proxy=f'client_tokens = ["{CLIENT_TOKEN}"]')
        with running(make_app(paths)) as port:
            without = as_another_user(port, SPEND)
            assert [status for status, _ in without] == [401, 401]
            assert upstream.seen == []
            served = as_another_user(port, SPEND, CLIENT_TOKEN)
            assert [status for status, _ in served] == [200, 200], served
            assert len(upstream.seen) == 2
            assert _spend_as_owner(port, CLIENT_TOKEN) == [200, 200]
