"""The managed proxy's runtime directory: who runs it, who uses it, and the lock between them.

One directory per user and configuration (``proxy-<hash of the config dir>``) in the
runtime root (``runtime_root``: ``AUTO_ROUTER_HOME/run`` with the override, else
``$XDG_RUNTIME_DIR/auto-router``, else ``<data dir>/run``), every level created 0700 and
checked (ours, no symlink, nobody else can write) before anything in it is read or written::

    lock           flock'ed by whoever starts, reuses or retires the proxy
    proxy.json     pid, port, url and management API token of the running proxy (0600)
    admin-<port>.token  the management API token of ``auto-router proxy`` on that port (0600)
    proxy.log      the proxy's stderr
    runs/<h>.json  one per launcher using the proxy: run id, backend, pid; ``h`` is the
                   SHA-256 of the run's token, so the token itself is never written
    runs/<h>.events  the run's record: each request the proxy served for it, one JSON line

A launcher registers its run *before* it looks for a proxy, under the lock; the proxy retires
itself only under the same lock after seeing no live run. So a launcher either finds a proxy
that knows its run, or no proxy at all (and starts one) - never one about to exit.

Only the standard library here: the launcher imports this on every ``run`` through the proxy.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib
import json
import os
import stat
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Final, NamedTuple

from .errors import RuntimeDirError
from .paths import APP_NAME, Paths

RUNTIME_FILE: Final = "proxy.json"
LOCK_FILE: Final = "lock"
LOG_FILE: Final = "proxy.log"
RUNS_DIR: Final = "runs"
#: A token is ``arr_`` plus 32 random bytes, URL-safe: easy to spot, impossible to guess.
TOKEN_PREFIX: Final = "arr_"
#: A management API token made at start-up: ``ara_`` plus 32 random bytes.
ADMIN_TOKEN_PREFIX: Final = "ara_"
#: How the launcher hands the managed proxy its management token (not argv: other users can
#: read a process's command line, never its environment).
ADMIN_TOKEN_VARIABLE: Final = "AUTO_ROUTER_MANAGED_ADMIN_TOKEN"
#: The login session's private directory (XDG Base Directory spec), when it is set.
RUNTIME_ENV: Final = "XDG_RUNTIME_DIR"


def runtime_root(paths: Paths, environ: Mapping[str, str] | None = None) -> Path:
    """Where the managed proxies' directories live: ``<home>/run`` with the one-directory
    override, else ``$XDG_RUNTIME_DIR/auto-router`` (the login session's private directory),
    else ``<data dir>/run``. Never a fixed name in a shared temporary directory, which
    another user could create first (platformdirs falls back to ``$TMPDIR/runtime-<uid>``)."""
    env = os.environ if environ is None else environ
    runtime = env.get(RUNTIME_ENV, "")
    if paths.config_dir != paths.data_dir and os.path.isabs(runtime):
        return Path(runtime) / APP_NAME
    return paths.data_dir / "run"


def _check_parent(directory: Path) -> None:
    """Refuse a parent of the runtime root that another user could rename the root out of."""
    try:
        info = os.stat(directory)
    except OSError as exc:
        raise RuntimeDirError(f"cannot use {directory}: {exc.strerror}") from exc
    mode = stat.S_IMODE(info.st_mode)
    if info.st_uid not in (os.geteuid(), 0):
        problem = f"it belongs to uid {info.st_uid}"
    elif mode & 0o022 and not mode & stat.S_ISVTX:
        problem = f"others can write to it (mode {mode:04o})"
    else:
        return
    raise RuntimeDirError(f"refusing the runtime directory below {directory}: {problem}")


def _private_dir(directory: Path) -> None:
    """Create ``directory`` 0700 if missing, then check it is a real directory of ours that
    nobody else can write to (read bits of an older one are dropped); else refuse it."""
    try:
        with contextlib.suppress(FileExistsError):
            os.mkdir(directory, 0o700)
        info = os.lstat(directory)
    except OSError as exc:
        raise RuntimeDirError(
            f"cannot use the runtime directory {directory}: {exc.strerror}"
        ) from exc
    mode = stat.S_IMODE(info.st_mode)
    if stat.S_ISLNK(info.st_mode):
        problem = "it is a symbolic link"
    elif not stat.S_ISDIR(info.st_mode):
        problem = "it is not a directory"
    elif info.st_uid != os.geteuid():
        problem = f"it belongs to uid {info.st_uid}, not to you (uid {os.geteuid()})"
    elif mode & 0o022:
        problem = f"others can write to it (mode {mode:04o})"
    else:
        if mode != 0o700:
            os.chmod(directory, 0o700)
        return
    raise RuntimeDirError(f"refusing the runtime directory {directory}: {problem}")


def _sha256_hex(data: bytes) -> str:
    return str(_SHA256(data).hexdigest())


def _builtin_sha256() -> Callable[[bytes], Any]:
    """CPython's own SHA-256 (``_sha2``, ``_sha256`` before 3.12), else hashlib's: importing
    hashlib loads OpenSSL, ~3 ms of every run through the proxy, for two digests of a few
    bytes. The digests are the same; a test checks."""
    for name in ("_sha2", "_sha256"):
        try:
            return importlib.import_module(name).sha256  # type: ignore[no-any-return]
        except (ImportError, AttributeError):
            continue
    import hashlib

    return hashlib.sha256


_SHA256: Final = _builtin_sha256()


def token_digest(token: str) -> str:
    return _sha256_hex(token.encode())


def new_token(prefix: str = TOKEN_PREFIX) -> str:
    # secrets.token_urlsafe(32), spelled out: the secrets module (hmac, random) costs a
    # millisecond of every run through the proxy for these two calls.
    import base64

    return prefix + base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode("ascii")


def pid_alive(pid: int) -> bool:
    """Is ``pid`` a live process (a zombie counts as dead)?"""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError, ChildProcessError):
        # Our own child that exited and was not reaped yet is gone for our purposes.
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    return _not_zombie(pid)


def _not_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc (macOS): kill(0) is the best we have
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


class RunEntry(NamedTuple):
    """One launcher's registration: what its token stands for."""

    run_id: str
    backend: str
    pid: int
    started_at: float


class ProxyRecord(NamedTuple):
    """The content of ``proxy.json``."""

    pid: int
    port: int
    url: str
    config_dir: str
    started_at: float
    #: The management API's token (a ``proxy.json`` written before there was one: none).
    admin_token: str = ""


class RuntimeDir:
    """Files of the managed proxy of one configuration."""

    def __init__(self, paths: Paths, root: Path | None = None) -> None:
        self.paths = paths
        key = _sha256_hex(str(paths.config_dir.resolve()).encode())[:16]
        self.path = (root or runtime_root(paths)) / f"proxy-{key}"

    @property
    def runs(self) -> Path:
        return self.path / RUNS_DIR

    @property
    def log_path(self) -> Path:
        return self.path / LOG_FILE

    def ensure(self) -> None:
        """Create (0700) and check the root, this configuration's directory and ``runs``;
        ``RuntimeDirError`` (one line) for any that another user owns or can write to."""
        root = self.path.parent
        try:
            root.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise RuntimeDirError(f"cannot create {root.parent}: {exc.strerror}") from exc
        _check_parent(root.parent)
        for directory in (root, self.path, self.runs):
            _private_dir(directory)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """The lock every start, reuse and retirement takes (released if the holder dies)."""
        self.ensure()
        fd = os.open(self.path / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    # ------------------------------------------------------------- proxy.json

    def read_proxy(self) -> ProxyRecord | None:
        try:
            data = json.loads((self.path / RUNTIME_FILE).read_text(encoding="utf-8"))
            return ProxyRecord(**data)
        except (OSError, ValueError, TypeError):
            return None  # missing or damaged: treated as no proxy (and replaced)

    def write_proxy(self, record: ProxyRecord) -> None:
        _write_private(self.path / RUNTIME_FILE, record._asdict())

    def clear_proxy(self, pid: int | None = None) -> None:
        """Remove ``proxy.json`` (only if it still names ``pid``, when given)."""
        current = self.read_proxy()
        if pid is not None and current is not None and current.pid != pid:
            return
        with contextlib.suppress(FileNotFoundError):
            (self.path / RUNTIME_FILE).unlink()

    # ------------------------------------------------------------- management tokens

    def token_file(self, port: int) -> Path:
        """Where ``auto-router proxy`` on ``port`` keeps its management API token."""
        return self.path / f"admin-{port}.token"

    def write_token(self, port: int, token: str) -> Path:
        """Write the token file (0600, in the 0700 runtime directory); returns its path."""
        self.ensure()
        path = self.token_file(port)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        try:
            os.write(fd, token.encode() + b"\n")
        finally:
            os.close(fd)
        os.replace(tmp, path)
        return path

    def admin_token(self, port: int) -> str | None:
        """The management token of this configuration's proxy on ``port``: the run's proxy
        (``proxy.json``), else ``auto-router proxy`` (its token file); ``None`` if neither."""
        record = self.read_proxy()
        if record is not None and record.port == port and record.admin_token:
            return record.admin_token
        return self._file_token(port)

    def remove_token(self, port: int, token: str) -> None:
        """Remove the token file if it still holds ``token`` (a later proxy's stays)."""
        if self._file_token(port) == token:
            with contextlib.suppress(FileNotFoundError):
                self.token_file(port).unlink()

    def _file_token(self, port: int) -> str | None:
        try:
            return self.token_file(port).read_text(encoding="utf-8").strip() or None
        except OSError:
            return None

    # ------------------------------------------------------------- runs

    def register(self, token: str, entry: RunEntry) -> None:
        self.ensure()
        _write_private(self.runs / f"{token_digest(token)}.json", entry._asdict())

    def unregister(self, token: str) -> None:
        digest = token_digest(token)
        for suffix in (".json", ".events"):
            with contextlib.suppress(FileNotFoundError):
                (self.runs / f"{digest}{suffix}").unlink()

    def entries(self) -> dict[str, RunEntry]:
        """digest -> entry for every readable registration (live or not)."""
        found: dict[str, RunEntry] = {}
        try:
            names = os.listdir(self.runs)
        except FileNotFoundError:
            return found
        for name in names:
            if not name.endswith(".json"):
                continue
            try:
                data = json.loads((self.runs / name).read_text(encoding="utf-8"))
                found[name[:-5]] = RunEntry(**data)
            except (OSError, ValueError, TypeError):
                continue  # being written, or damaged: the next scan decides
        return found

    def live_entries(self) -> dict[str, RunEntry]:
        """Registrations whose launcher is alive; the others' files are removed."""
        live: dict[str, RunEntry] = {}
        for digest, entry in self.entries().items():
            if pid_alive(entry.pid):
                live[digest] = entry
            else:
                for suffix in (".json", ".events"):
                    with contextlib.suppress(FileNotFoundError):
                        (self.runs / f"{digest}{suffix}").unlink()
        return live

    # ------------------------------------------------------------- events

    def add_event(self, digest: str, event: dict[str, Any]) -> None:
        """Append one request of a run to its record (called by the proxy)."""
        path = self.runs / f"{digest}.events"
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, (json.dumps(event, separators=(",", ":")) + "\n").encode())
        finally:
            os.close(fd)

    def events(self, token: str) -> list[dict[str, Any]]:
        try:
            text = (self.runs / f"{token_digest(token)}.events").read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        events: list[dict[str, Any]] = []
        for line in text.splitlines():
            with contextlib.suppress(ValueError):
                item = json.loads(line)
                if isinstance(item, dict):
                    events.append(item)
        return events


class RunTokens:
    """The proxy's view of the registered runs: token -> entry, refreshed from the files.

    A lookup is a hash and a dict lookup; an unknown token triggers a rescan (at most one
    per ``min_rescan`` seconds, so a flood of bad tokens cannot turn into a flood of reads).
    ``refresh`` (the watchdog, every fraction of a second) drops runs that ended.
    """

    def __init__(
        self,
        runtime: RuntimeDir,
        *,
        min_rescan: float = 0.05,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.runtime = runtime
        self._known: dict[str, RunEntry] = {}
        self._scanned = -1e9
        self._min_rescan = min_rescan
        self._monotonic = monotonic

    def lookup(self, token: str | None) -> tuple[str, RunEntry] | None:
        """(digest, entry) of a registered run's token, else ``None``."""
        if not token or not token.startswith(TOKEN_PREFIX):
            return None
        digest = token_digest(token)
        entry = self._known.get(digest)
        if entry is None and self._monotonic() - self._scanned >= self._min_rescan:
            self.refresh(live_only=False)
            entry = self._known.get(digest)
        return None if entry is None else (digest, entry)

    def refresh(self, *, live_only: bool = True) -> dict[str, RunEntry]:
        self._scanned = self._monotonic()
        runs = self.runtime.live_entries() if live_only else self.runtime.entries()
        self._known = runs
        return runs

    def record_failover(self, digest: str, event: dict[str, Any]) -> None:
        with contextlib.suppress(OSError):
            self.runtime.add_event(digest, event)


def _write_private(path: Path, data: dict[str, Any]) -> None:
    """Write JSON atomically, readable by the owner only."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, json.dumps(data).encode())
    finally:
        os.close(fd)
    os.replace(tmp, path)


def port_open(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    """Does something accept connections on ``host:port``?"""
    import socket  # here: only a run that finds a recorded proxy asks

    # A plain IPv4 connect, not create_connection: its getaddrinfo encodes the host with the
    # "idna" codec, whose import (stringprep, unicodedata) cost ~3 ms of every run that
    # joins a running proxy. The host is a loopback address, never a name to resolve.
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect((host, port))
            return True
    except OSError:
        return False
