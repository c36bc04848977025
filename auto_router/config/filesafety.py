"""File safety for the configuration pair: locks, atomic writes and the pair journal.

``llm_config.toml`` and ``provider_metadata.toml`` refer to each other (a backend's
``providers`` list names tables of the other file), so an edit that touches both must change
them as one. Two mechanisms make it so:

* **Locks.** Every reader and every writer takes ``<file>.lock`` for both files (``flock``,
  sorted order, so nobody deadlocks; released by the kernel when a process dies). Writers take
  them exclusive, readers shared (without creating them: where none exists, no edit has begun),
  and readers hold them only while reading the bytes (parsing happens after). So no process
  ever reads between the two renames of a live edit.
* **The journal** ``.auto-router-pair.journal`` in the configuration directory. A writer writes
  and fsyncs both new files as temp files, then writes the journal (temp + fsync + rename), then
  renames the temp files over the targets, then deletes the journal. The journal's rename is
  the commit point: before it a crash leaves the old pair (and temp files, the journal's too,
  removed by the next command that takes the exclusive locks: ``remove_orphans``); after it
  the next reader or writer finds the journal and finishes the renames (roll forward) before
  reading. Either way nobody ever reads a mixed pair.

Only the standard library: the CLI imports this for every command.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Final

from ..errors import ConfigError, ConfigSyntaxError

if TYPE_CHECKING:
    import re

#: How long to wait for another process's edit (or read) to finish before giving up.
LOCK_TIMEOUT: Final = 30.0
JOURNAL_NAME: Final = ".auto-router-pair.journal"
_BOM: Final = b"\xef\xbb\xbf"

#: Called after each step of a pair write with the step's name (tests inject crashes here).
StepHook = Callable[[str], None]
#: The steps of ``write_pair``, in order (``renamed:N`` once per file).
WRITE_STEPS: Final = ("temps-written", "journal-written", "renamed", "journal-removed")


# --------------------------------------------------------------------------- reading


def read_regular(path: Path) -> bytes | None:
    """The bytes of ``path``; ``None`` when it does not exist.

    Opened with ``O_NONBLOCK`` and checked to be a regular file before reading, so a FIFO or a
    device in its place is refused instead of hanging the command. A symlink loop, a directory
    or an unreadable file is one ``ConfigError`` line.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(_os_reason(exc, "cannot read file"), path=path) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError(
                f"cannot read file: it is {_kind(info.st_mode)}, not a regular file", path=path
            )
        chunks: list[bytes] = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError as exc:
        raise ConfigError(_os_reason(exc, "cannot read file"), path=path) from None
    finally:
        os.close(fd)


def decode(data: bytes, path: Path) -> str:
    """UTF-8 text of a configuration file; a BOM or invalid bytes name the line."""
    reject_bom(data, path)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigSyntaxError(
            f"not UTF-8 text (byte {data[exc.start]:#04x})", path=path, line=line
        ) from None


def reject_bom(start: bytes | str, path: Path) -> None:
    """``ConfigSyntaxError`` when a file starts with a UTF-8 byte order mark, as bytes read
    from disk or as text from elsewhere (an edit): tomli refuses it without saying why."""
    bom = start.startswith(_BOM) if isinstance(start, bytes) else start.startswith("\ufeff")
    if bom:
        raise ConfigSyntaxError(
            "the file starts with a UTF-8 byte order mark (BOM)",
            path=path,
            line=1,
            column=1,
            hint="remove the UTF-8 BOM (save the file as UTF-8 without BOM)",
        )


def read_text(path: Path) -> str | None:
    """The file's text exactly as on disk (no newline translation); ``None`` when absent."""
    data = read_regular(path)
    return None if data is None else decode(data, path)


def check_directory(directory: Path) -> bool:
    """True when ``directory`` exists; ``ConfigError`` when something else is in its place."""
    try:
        info = directory.stat()
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise ConfigError(_os_reason(exc, "cannot use directory"), path=directory) from None
    if not stat.S_ISDIR(info.st_mode):
        raise ConfigError(
            f"the configuration directory is {_kind(info.st_mode)}, not a directory",
            path=directory,
            hint="point AUTO_ROUTER_HOME (or --config-dir) at a directory",
        )
    return True


def read_pair(config_dir: Path, targets: Sequence[Path]) -> tuple[str | None, ...]:
    """Both files' texts as one consistent pair, read under the shared locks.

    An interrupted edit (a journal left by a writer that died after its commit point) is
    finished first, under the exclusive locks, so what is returned is never half of an edit.
    Readers never create lock files (reading leaves no trace): where none exists yet, no edit
    has started, and if one appears while the files are read, they are read again under it.
    """
    if not check_directory(config_dir):
        return tuple(None for _ in targets)
    for attempt in range(2):
        with lock_files(*targets, shared=True) as held:
            if (config_dir / JOURNAL_NAME).exists():
                break
            texts = tuple(read_text(t) for t in targets)
            # Held, or no lock yet (so no edit began before the read ended), or a lock we
            # cannot open (read-only for us: the second time, read without it).
            if held or attempt or not any(_lock_path(t).exists() for t in targets):
                return texts
    with lock_files(*targets):
        since = time.time()
        finish_pending(config_dir, targets)
        remove_orphans(config_dir, targets, since)
        return tuple(read_text(t) for t in targets)


# --------------------------------------------------------------------------- locks


@contextlib.contextmanager
def lock_files(
    *paths: Path,
    shared: bool = False,
    timeout: float = LOCK_TIMEOUT,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[bool]:
    """Hold ``<file>.lock`` for each path (sorted, so concurrent holders never deadlock).

    ``shared`` is for readers: many at once, but never beside a writer. A reader does not
    create a missing lock file (nor wait for one it cannot open): it yields False when it holds
    fewer than all the locks, True when it holds them all.
    """
    with contextlib.ExitStack() as stack:
        held = [
            stack.enter_context(_lock(_lock_path(path), shared, timeout, clock, sleep))
            for path in sorted(set(paths))
        ]
        yield all(held)


def _lock_path(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


@contextlib.contextmanager
def _lock(
    lock_path: Path,
    shared: bool,
    timeout: float,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
) -> Iterator[bool]:
    fd = _open_lock(lock_path, shared)
    if fd is None:
        yield False
        return
    try:
        deadline = clock() + timeout
        delay = 0.002
        mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
        while True:
            try:
                fcntl.flock(fd, mode | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if clock() >= deadline:
                    raise ConfigError(
                        f"another auto-router process has held the lock for {timeout:.0f}s",
                        path=lock_path,
                        hint="wait for it to finish; the lock is released when it exits",
                    ) from None
                sleep(delay)
                delay = min(delay * 2, 0.05)
        yield True
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _open_lock(lock_path: Path, shared: bool) -> int | None:
    if shared:  # readers never create it, and read without it where they cannot open it
        try:
            return os.open(lock_path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return None
    try:
        return os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise ConfigError(_os_reason(exc, "cannot open lock file"), path=lock_path) from None


# --------------------------------------------------------------------------- writing


def write_pair(
    config_dir: Path,
    files: Sequence[tuple[Path, str, bool]],
    *,
    on_step: StepHook | None = None,
) -> None:
    """Replace every ``(path, text, secret)`` as one change. Hold ``lock_files`` around it.

    One file is a plain atomic write. Two go through the journal (see the module docstring).
    """
    step = on_step or (lambda name: None)
    if len(files) == 1:
        path, text, secret = files[0]
        atomic_write(path, text, secret=secret)
        step("renamed")
        return
    staged: list[tuple[Path, Path]] = []  # (temp, real target)
    try:
        for path, text, secret in files:
            staged.append(_write_temp(path, text, secret))
        step("temps-written")
        journal = config_dir / JOURNAL_NAME
        entries = [{"temp": str(t), "target": str(r)} for t, r in staged]
        _write_journal(journal, entries)
        step("journal-written")
    except BaseException:
        for temp, _ in staged:
            with contextlib.suppress(OSError):
                os.unlink(temp)
        raise
    staged_done = _roll_forward(entries, step)
    _finish_journal(journal, staged_done)
    step("journal-removed")


def finish_pending(config_dir: Path, targets: Sequence[Path]) -> bool:
    """Finish an edit whose writer died after its commit point. Hold the exclusive locks.

    Returns True when there was one. Only entries that stage one of ``targets`` from a temp
    file beside it are replayed; an unreadable journal (it is written atomically, so only a
    hand-made file can be) is discarded and the files stay as they are.
    """
    import json

    journal = config_dir / JOURNAL_NAME
    data = read_regular(journal)
    if data is None:
        return False
    allowed = {Path(os.path.realpath(t)) for t in targets}
    try:
        files = json.loads(data)["files"]
        entries = [(Path(e["temp"]), Path(os.path.realpath(e["target"]))) for e in files]
    except (ValueError, KeyError, TypeError):
        entries = []
    staged = [
        {"temp": str(temp), "target": str(target)}
        for temp, target in entries
        if target in allowed
        and temp.parent == target.parent
        and temp.name.startswith(f".{target.name}.")
        and temp.name.endswith(".tmp")
    ]
    _finish_journal(journal, _roll_forward(staged, lambda name: None))
    return True


def _roll_forward(entries: Sequence[dict[str, str]], step: StepHook) -> set[Path]:
    """Rename each staged temp over its target (a temp already gone was renamed before)."""
    directories: set[Path] = set()
    for entry in entries:
        temp, target = Path(entry["temp"]), Path(entry["target"])
        try:
            os.replace(temp, target)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise ConfigError(_os_reason(exc, "cannot finish the edit"), path=target) from None
        directories.add(target.parent)
        step("renamed")
    return directories


def _finish_journal(journal: Path, directories: set[Path]) -> None:
    try:
        for directory in directories:
            _fsync_directory(directory)
        journal.unlink(missing_ok=True)
        _fsync_directory(journal.parent)
    except OSError as exc:
        raise ConfigError(_os_reason(exc, "cannot finish the edit"), path=journal) from None


def _write_journal(journal: Path, entries: list[dict[str, str]]) -> None:
    import json  # only edits need it: loading stays cheap to import

    text = json.dumps({"version": 1, "files": entries})
    temp, _ = _write_temp(journal, text, False, follow=False)
    _put_in_place(temp, journal, journal)


def atomic_write(path: Path, text: str, *, secret: bool = False) -> None:
    """Replace ``path`` with ``text`` all at once (temp file + fsync + rename + dir fsync).

    New files get mode 0600 when ``secret`` else 0644; existing files keep their mode, except
    that ``secret`` removes group and other permissions. A symlink is followed, not replaced.
    """
    temp, target = _write_temp(path, text, secret)
    _put_in_place(temp, target, path)


def _put_in_place(temp: Path, target: Path, path: Path) -> None:
    """Rename the written ``temp`` over ``target`` durably; on failure the temp file goes
    and the error names ``path`` (the name the caller gave, not a symlink's target)."""
    try:
        os.replace(temp, target)
        _fsync_directory(target.parent)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise ConfigError(_os_reason(exc, "cannot write file"), path=path) from None


def _write_temp(path: Path, text: str, secret: bool, *, follow: bool = True) -> tuple[Path, Path]:
    """Write ``text`` to a fsynced temp file beside ``path``'s real target; (temp, target)."""
    target = Path(os.path.realpath(path)) if follow else path
    try:
        info = target.stat()
    except FileNotFoundError:
        mode = 0o600 if secret else 0o644
    except OSError as exc:
        raise ConfigError(_os_reason(exc, "cannot write file"), path=path) from None
    else:
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError(
                f"cannot write file: it is {_kind(info.st_mode)}, not a regular file", path=path
            )
        mode = stat.S_IMODE(info.st_mode)
    if secret:
        mode &= 0o700
    import tempfile  # only edits need it

    temp_name: str | None = None
    try:
        fd, temp_name = tempfile.mkstemp(
            prefix=f".{target.name}.", suffix=".tmp", dir=target.parent
        )
        with os.fdopen(fd, "wb") as handle:
            handle.write(text.encode("utf-8"))
            handle.flush()
            os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
    except OSError as exc:
        if temp_name is not None:
            with contextlib.suppress(OSError):
                os.unlink(temp_name)
        raise ConfigError(_os_reason(exc, "cannot write file"), path=path) from None
    return Path(temp_name), target


#: The random part ``tempfile.mkstemp`` puts between our prefix and ``.tmp``.
_TEMP_PART: Final = "[a-z0-9_]{8}"


def remove_orphans(config_dir: Path, targets: Sequence[Path], since: float) -> None:
    """Temp files left by writers killed before their commit point: the two files' and the
    journal's (a kill between the journal's temp file and its rename left 1-3 of those).

    Hold the exclusive locks (every writer takes them, and any pending journal was finished
    first, so no temp file is in use). Removed are only names of the exact form ``_write_temp``
    makes, regular files (a symlink is never followed nor removed) owned by this user and
    last modified before ``since``, when the locks were taken.
    """
    import re  # only writers need it: loading stays cheap to import

    where: dict[Path, list[str]] = {Path(os.path.realpath(config_dir)): [JOURNAL_NAME]}
    for path in targets:
        target = Path(os.path.realpath(path))
        where.setdefault(target.parent, []).append(target.name)
    for directory, names in where.items():
        alternation = "|".join(re.escape(name) for name in names)
        pattern = re.compile(rf"\.(?:{alternation})\.{_TEMP_PART}\.tmp")
        _remove_matching(directory, pattern, since)


def _remove_matching(directory: Path, pattern: re.Pattern[str], since: float) -> None:
    me = os.geteuid()
    with contextlib.suppress(OSError), os.scandir(directory) as entries:
        for entry in entries:
            if not pattern.fullmatch(entry.name):
                continue
            with contextlib.suppress(OSError):
                info = entry.stat(follow_symlinks=False)
                if stat.S_ISREG(info.st_mode) and info.st_uid == me and info.st_mtime < since:
                    os.unlink(entry.path)  # unlink never follows a symlink either


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --------------------------------------------------------------------------- messages


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISREG(mode):
        return "a file"
    return "not a regular file"


def _os_reason(exc: OSError, what: str) -> str:
    reasons = {
        errno.ELOOP: "too many levels of symbolic links (a symlink loop?)",
        errno.EACCES: "permission denied",
        errno.EPERM: "permission denied",
        errno.EISDIR: "it is a directory",
        errno.ENOTDIR: "a part of the path is not a directory",
        errno.ENAMETOOLONG: "the path is too long",
    }
    return f"{what}: {reasons.get(exc.errno or 0) or exc.strerror or type(exc).__name__}"
