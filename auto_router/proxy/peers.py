"""Which local user is on the other end of a loopback TCP connection (Linux).

A loopback address keeps other machines out, not other users of this one: ``nobody`` can
connect to 127.0.0.1 as well as the owner can. Without ``[proxy] client_tokens`` the data
path of ``auto-router proxy`` would then spend the owner's quota with the owner's keys for
anyone on the machine. So on such a proxy (and, as a second lock behind the run token, on
the one ``auto-router run`` starts) a connection is served only when the uid owning its
client end is the proxy's own or root's.

Both ends of a loopback connection are sockets of this machine, so the kernel lists the
client's end in ``/proc/net/tcp`` (or ``tcp6``) with the uid that created it: the row whose
local address is the client's (address, port) and whose remote address is the proxy's.
(proc(5), "/proc/net/tcp": addresses are the raw 32-bit words in host byte order, the port
in hex, then ``st``, the queues, the timer, ``retrnsmt``, ``uid``, ``timeout``, ``inode``.)
The file is read once per connection, not per request, and only until that row
(``benchmarks/bench_peer_uid.py`` measures it). A row in TIME_WAIT or of an orphaned socket
says uid 0 and inode 0; it proves nothing, so it counts as not found, and a connection whose
client end is not found is refused (a client that closed before being accepted loses
nothing; one that tried to pass as root by closing early gets nothing).

Where ``/proc/net/tcp`` cannot be read (not Linux), nothing is checked, as before; the server
says so once at start.
"""

from __future__ import annotations

import ipaddress
import os
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


def _words(packed: bytes) -> str:
    """An address as /proc/net/tcp prints it: each 32-bit word in host byte order."""
    count = len(packed) // 4
    return "".join(f"{w:08X}" for w in struct.unpack(f"={count}I", packed))


def _encodings(host: str) -> list[tuple[str, str]]:
    """(file name, encoded address) under which an end at ``host`` may be listed: an IPv4
    end of an IPv6 socket is an IPv4-mapped address in ``tcp6``, and the other way round."""
    address = ipaddress.ip_address(host.split("%", 1)[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
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


class PeerCheck:
    """The rule one server applies: with ``needed()`` (no client tokens configured), a
    connection is foreign unless its client end belongs to this process's uid or root."""

    def __init__(self, needed: Callable[[], bool], proc_net: Path = PROC_NET) -> None:
        self.needed = needed
        self.proc_net = proc_net
        self.allowed = frozenset({0, os.getuid()})
        self.available = os.access(proc_net / "tcp", os.R_OK)
        if not self.available:
            log.warning(
                "the peer uid check is unavailable (no readable /proc/net/tcp): without "
                "[proxy] client_tokens any local user can use this proxy's data path"
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
            uid = peer_uid(peer, local, self.proc_net)
        except (OSError, ValueError):
            uid = None  # unreadable now, or an address it cannot name: refused
        return uid not in self.allowed

