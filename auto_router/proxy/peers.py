"""Which local user is on the other end of a loopback TCP connection (Linux).

A loopback address keeps other machines out, not other users of this one: ``nobody`` can
connect to 127.0.0.1 as well as the owner can. Without ``[proxy] client_tokens`` the data
path of ``auto-router proxy`` would then spend the owner's quota with the owner's keys for
anyone on the machine. So on such a proxy (and, as a second lock behind the run token, on
the one ``auto-router run`` starts) a connection is served only when the uid owning its
client end is the proxy's own or root's.

Both ends of a loopback connection are sockets of this machine, so the kernel knows the uid
that created the client's end. It is asked once per connection, not per request:

- through ``sock_diag`` netlink (``NETLINK_SOCK_DIAG``, an exact ``inet_diag_req_v2``
  lookup by the 4-tuple, what ``ss`` uses; sock_diag(7), and ``inet_diag_find_one_icsk`` in
  the kernel's net/ipv4/inet_diag.c for the exact, non-dump request): a few microseconds
  whatever else is open;
- or, where that is missing (no ``inet_diag``/``tcp_diag`` in the kernel), in
  ``/proc/net/tcp`` and ``tcp6``: the row whose local address is the client's (address,
  port) and whose remote address is the proxy's (proc(5): addresses as raw 32-bit words in
  host byte order, the port in hex, then ``st``, the queues, the timer, ``retrnsmt``, ``uid``,
  ``timeout``, ``inode``), read only until that row. The kernel writes the whole table for
  it, so this costs milliseconds on a machine with thousands of sockets
  (``benchmarks/bench_peer_uid.py`` measures both).

A TIME_WAIT entry, or an orphaned socket, says uid 0 and inode 0: it proves nothing, so it
counts as not found, and a connection whose client end is not found is refused (a client
that closed before being accepted loses nothing; one that tried to pass as root by closing
early gets nothing).

Where neither works (not Linux), nothing is checked, as before; the server says so once at
start.
"""

from __future__ import annotations

import functools
import ipaddress
import os
import socket
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import structlog

log = structlog.get_logger("auto_router.proxy")

#: Scope key the server protocol sets (to ``True``) on the requests of a connection whose
#: client is another local user; the gate refuses them unless client tokens decide.
FOREIGN_PEER: Final = "auto_router.foreign_peer"

PROC_NET: Final = Path("/proc/net")
_CHUNK: Final = 1 << 16

# linux/netlink.h, linux/sock_diag.h, linux/inet_diag.h
_NETLINK_SOCK_DIAG: Final = 4
_SOCK_DIAG_BY_FAMILY: Final = 20
_NLM_F_REQUEST: Final = 1
_NLMSG_ERROR: Final = 2
_NO_COOKIE: Final = 0xFFFFFFFF
#: Offsets in the answer: nlmsghdr (16 bytes), then inet_diag_msg: family, state, timer,
#: retrans (4), inet_diag_sockid (48), expires, rqueue, wqueue (12), uid, inode.
_UID_AT: Final = 16 + 4 + 48 + 12


def _words(packed: bytes) -> str:
    """An address as /proc/net/tcp prints it: each 32-bit word in host byte order."""
    count = len(packed) // 4
    return "".join(f"{w:08X}" for w in struct.unpack(f"={count}I", packed))


def _encodings(host: str) -> list[tuple[str, str]]:
    """(file name, encoded address) under which an end at ``host`` may be listed: an IPv4
    end of an IPv6 socket is an IPv4-mapped address in ``tcp6``, and the other way round."""
    address = _unmapped(ipaddress.ip_address(host.split("%", 1)[0]))
    if isinstance(address, ipaddress.IPv4Address):
        mapped = ipaddress.IPv6Address(f"::ffff:{address}")
        return [("tcp", _words(address.packed)), ("tcp6", _words(mapped.packed))]
    return [("tcp6", _words(address.packed))]


def _find_row(path: Path, key: bytes) -> bytes | None:
    """The rest of the line of ``path`` that starts at ``key``, read only up to it."""
    with path.open("rb", buffering=0) as file:
        rest = b""
        while chunk := file.read(_CHUNK):
            text = rest + chunk
            at = text.find(key)
            if at >= 0:
                while (end := text.find(b"\n", at)) < 0:
                    more = file.read(_CHUNK)
                    if not more:
                        return text[at:]
                    text += more
                return text[at:end]
            rest = text[text.rfind(b"\n") + 1 :]  # a row cut by the read
    return None


def peer_uid(
    peer: tuple[Any, ...], local: tuple[Any, ...], proc_net: Path = PROC_NET
) -> int | None:
    """The uid owning the client end (``peer``) of a TCP connection to ``local``, or
    ``None`` when no live socket of this machine is that end."""
    peer_port, local_port = int(peer[1]), int(local[1])
    local_by_file = dict(_encodings(str(local[0])))
    for name, client in _encodings(str(peer[0])):
        server = local_by_file.get(name)
        if server is None:
            continue
        key = f" {client}:{peer_port:04X} {server}:{local_port:04X} ".encode()
        try:
            row = _find_row(proc_net / name, key)
        except FileNotFoundError:  # no IPv6 in this kernel
            continue
        if row is None:
            continue
        # local rem st tx:rx tr:when retrnsmt uid timeout inode
        fields = row.split()
        if len(fields) < 9 or fields[8] == b"0":  # TIME_WAIT or orphaned: proves nothing
            return None
        return int(fields[6])
    return None


def diag_uid(peer: tuple[Any, ...], local: tuple[Any, ...]) -> int | None:
    """The uid owning the TCP socket whose own end is ``peer`` and whose other end is
    ``local`` (the proxy's), asked of ``sock_diag``; ``None`` if there is no live one.

    A netlink socket per question (a few microseconds more than keeping one, and nothing
    held open for the life of a server)."""
    client = _unmapped(ipaddress.ip_address(str(peer[0]).split("%", 1)[0]))
    server = _unmapped(ipaddress.ip_address(str(local[0]).split("%", 1)[0]))
    # An IPv4 connection is asked for as one, whichever side's socket is IPv6: the kernel
    # keeps IPv4-mapped ends of IPv6 sockets in the same table as IPv4 ones.
    family = socket.AF_INET if client.version == 4 else socket.AF_INET6
    request = struct.pack("=BBBBI", family, socket.IPPROTO_TCP, 0, 0, 0xFFFFFFFF)
    request += struct.pack("!HH", int(peer[1]), int(local[1]))
    request += client.packed.ljust(16, b"\0") + server.packed.ljust(16, b"\0")
    request += struct.pack("=III", 0, _NO_COOKIE, _NO_COOKIE)
    header = struct.pack("=IHHII", 16 + len(request), _SOCK_DIAG_BY_FAMILY, _NLM_F_REQUEST, 1, 0)
    with socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, _NETLINK_SOCK_DIAG) as sock:
        sock.settimeout(1.0)  # the kernel answers within the send: a hang guard
        sock.send(header + request)
        answer = sock.recv(4096)
    if struct.unpack_from("=H", answer, 4)[0] == _NLMSG_ERROR or len(answer) < _UID_AT + 8:
        return None  # ENOENT: no such socket
    uid, inode = struct.unpack_from("=II", answer, _UID_AT)
    return None if inode == 0 else int(uid)  # TIME_WAIT or orphaned: proves nothing


def _unmapped(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def diag_works() -> bool:
    """Whether this kernel answers ``diag_uid``: asked for a connection of our own (a kernel
    without ``tcp_diag`` says ENOENT, as it does for a socket not found)."""
    try:
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", 0))
            listener.listen()
            with socket.create_connection(listener.getsockname(), timeout=2) as client:
                accepted, _ = listener.accept()
                with accepted:
                    return diag_uid(client.getsockname(), accepted.getsockname()) == os.getuid()
    except (OSError, struct.error):
        return False


class PeerCheck:
    """The rule one server applies: with ``needed()`` (no client tokens configured), a
    connection is foreign unless its client end belongs to this process's uid or root."""

    def __init__(
        self, needed: Callable[[], bool], proc_net: Path = PROC_NET, *, netlink: bool = True
    ) -> None:
        self.needed = needed
        self.proc_net = proc_net
        self.allowed = frozenset({0, os.getuid()})
        self.netlink = netlink and diag_works()
        self.available = self.netlink or os.access(proc_net / "tcp", os.R_OK)
        if not self.available:
            log.warning(
                "the peer uid check is unavailable (no sock_diag, no readable "
                "/proc/net/tcp): without [proxy] client_tokens any local user can use "
                "this proxy's data path"
            )

    def foreign(self, transport: Any) -> bool | None:
        """Whether the connection's client is another user; ``None`` when not checked
        (client tokens decide, or the check is unavailable)."""
        if not self.available or not self.needed():
            return None
        peer = transport.get_extra_info("peername")
        local = transport.get_extra_info("sockname")
        if not isinstance(peer, tuple) or not isinstance(local, tuple):
            return None  # a unix socket: its file's mode decides who connects
        try:
            lookup = (
                diag_uid if self.netlink else functools.partial(peer_uid, proc_net=self.proc_net)
            )
            uid = lookup(peer, local)
        except (OSError, ValueError, struct.error):
            uid = None  # unreadable now, or an address it cannot name: refused
        return uid not in self.allowed
