"""Issue 18, item 14: a kill -9 during an edit left ``..auto-router-pair.journal.*.tmp`` files
behind for good (the next edit removed the two files' temp files, never the journal's).

A real subprocess takes the exclusive locks as an edit does, writes the journal's temp file
(and the two files' temps) exactly as a writer does, says so and waits; the test kills it with
SIGKILL there. The next command that takes the locks (``auto-router backend default``, a real
CLI process) removes those orphans, and only them: a symlink with an orphan's name (and what
it points to), near-miss names, a newer file and, when the tests run as root, another user's
file all stay.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from auto_router.config.filesafety import JOURNAL_NAME

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).parent / "fixtures"
ROOT = Path(__file__).resolve().parents[2]
NAMES = ("llm_config.toml", "provider_metadata.toml")

DYING_WRITER = """
    import sys, time
    from pathlib import Path
    from auto_router.config.filesafety import JOURNAL_NAME, _write_temp, lock_files
    d = Path(sys.argv[1])
    targets = (d / "llm_config.toml", d / "provider_metadata.toml")
    with lock_files(*targets):
        for target in targets:  # the two files' temps (before the commit point)
            _write_temp(target, target.read_text() + "# new\\n", False)
        for _ in range(int(sys.argv[2])):  # the journal's temp, not yet renamed
            _write_temp(d / JOURNAL_NAME, '{"version": 1, "files": []}', False, follow=False)
        print("written", flush=True)
        time.sleep(600)
"""


def temps(directory: Path) -> set[str]:
    return {p.name for p in directory.iterdir() if p.name.endswith(".tmp")}


def kill_mid_edit(home: Path, journal_temps: int) -> set[str]:
    """Run the dying writer until it has written its temp files, then SIGKILL it."""
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(DYING_WRITER), str(home), str(journal_temps)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "written"
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL
    proc.stdout.close()
    return temps(home)


def next_edit(home: Path) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "auto_router", "--config-dir", str(home)]
    return subprocess.run(
        [*argv, "backend", "default", "claude"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if not k.startswith("AUTO_ROUTER")},
    )


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    for name in NAMES:
        shutil.copyfile(FIXTURES / name, home / name)
    return home


@pytest.mark.parametrize("journal_temps", [1, 3])
def test_the_next_edit_removes_what_a_kill_left(home: Path, journal_temps: int) -> None:
    before = {name: (home / name).read_text() for name in NAMES}
    left = kill_mid_edit(home, journal_temps)
    journals = {n for n in left if n.startswith(f".{JOURNAL_NAME}.")}
    assert len(journals) == journal_temps and len(left) == journal_temps + 2
    assert {name: (home / name).read_text() for name in NAMES} == before  # the old pair
    result = next_edit(home)
    assert result.returncode == 0, result.stderr
    assert temps(home) == set()
    assert not (home / JOURNAL_NAME).exists()


def test_only_our_own_orphans_are_removed(home: Path, tmp_path: Path) -> None:
    left = kill_mid_edit(home, 1)
    outside = tmp_path / "precious"
    outside.write_text("not ours to delete")
    kept = {
        f".{JOURNAL_NAME}.lnk12345.tmp": "symlink",  # an orphan's name, but a symlink
        f".{JOURNAL_NAME}.short.tmp": "file",  # not the random part mkstemp makes
        f"{JOURNAL_NAME}.abcd1234.tmp": "file",  # no leading dot
        f".{JOURNAL_NAME}.abcd1234.tmp.bak": "file",
        ".other.toml.abcd1234.tmp": "file",  # another file's temp
        f".{JOURNAL_NAME}.future99.tmp": "future",  # modified after the locks are taken
    }
    for name, kind in kept.items():
        if kind == "symlink":
            (home / name).symlink_to(outside)
        else:
            (home / name).write_text("x")
    future = time.time() + 3600
    os.utime(home / f".{JOURNAL_NAME}.future99.tmp", (future, future))
    theirs = home / f".{JOURNAL_NAME}.nobody12.tmp"
    if os.geteuid() == 0:  # another user's file: only root can make one here
        theirs.write_text("x")
        os.chown(theirs, 65534, 65534)
        os.utime(theirs, (1, 1))
        kept[theirs.name] = "theirs"
    result = next_edit(home)
    assert result.returncode == 0, result.stderr
    assert temps(home) == {n for n in kept if n.endswith(".tmp")}
    assert not left & temps(home)  # every orphan of the killed writer went
    assert os.path.islink(home / f".{JOURNAL_NAME}.lnk12345.tmp")
    assert outside.read_text() == "not ours to delete"
