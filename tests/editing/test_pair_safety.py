"""The two files change as one: readers never see half of an edit, concurrent writers all
succeed, and a crash at any step of a write leaves the old pair or the new one, which the next
command finishes without help."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from auto_router import editing
from auto_router.config import load_config
from auto_router.config.filesafety import JOURNAL_NAME, lock_files
from auto_router.errors import ConfigError
from auto_router.paths import Paths

FIXTURES = Path(__file__).parent / "fixtures"
NAMES = ("llm_config.toml", "provider_metadata.toml")
ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.integration


@pytest.fixture
def paths(tmp_path: Path) -> Paths:
    home = tmp_path / "home"
    home.mkdir()
    for name in NAMES:
        shutil.copyfile(FIXTURES / name, home / name)
    return Paths(config_dir=home, data_dir=home)


def pair(paths: Paths) -> tuple[str, str]:
    return paths.llm_config.read_text(), paths.provider_metadata.read_text()


def python(script: str, *args: str, **kwargs: object) -> subprocess.Popen[str]:
    return subprocess.Popen(  # type: ignore[call-overload, no-any-return]
        [sys.executable, "-c", textwrap.dedent(script), *args],
        text=True,
        cwd=ROOT,
        **kwargs,
    )


# --------------------------------------------------------------------------- readers and writers

READER = """
    import sys
    from pathlib import Path
    from auto_router.config import load_config
    from auto_router.errors import ConfigError
    from auto_router.paths import Paths
    d, stop = Path(sys.argv[1]), Path(sys.argv[2])
    loads = failed = 0
    print("ready", flush=True)
    while not stop.exists() or loads < 50:
        try:
            config = load_config(Paths(d, d))
            config.providers_of("qwen")
        except ConfigError as exc:
            failed += 1
            print("FAILED", exc, file=sys.stderr)
        loads += 1
    print(loads, failed)
"""

WRITER = """
    import sys
    from pathlib import Path
    from auto_router import editing
    from auto_router.paths import Paths
    d = Path(sys.argv[1])
    sys.stdin.read()  # start together
    editing.add_provider(Paths(d, d), "qwen", sys.argv[2], {"model": "m"})
"""


def test_readers_in_other_processes_never_see_half_an_edit(paths: Paths, tmp_path: Path) -> None:
    stop = tmp_path / "stop"
    readers = [
        python(READER, str(paths.config_dir), str(stop), stdout=subprocess.PIPE) for _ in range(2)
    ]
    for reader in readers:
        assert reader.stdout is not None
        assert reader.stdout.readline().strip() == "ready"
    writers = [
        python(WRITER, str(paths.config_dir), f"n{i:02d}", stdin=subprocess.PIPE) for i in range(30)
    ]
    for writer in writers:
        assert writer.stdin is not None
        writer.stdin.close()
    assert [w.wait(timeout=300) for w in writers] == [0] * 30
    stop.touch()
    counts = [reader.communicate(timeout=120)[0].split() for reader in readers]
    assert all(int(loads) >= 50 for loads, _ in counts)
    assert [int(failed) for _, failed in counts] == [0, 0]
    names = [p.name for p in load_config(paths).providers_of("qwen")]
    assert sorted(names[3:]) == [f"n{i:02d}" for i in range(30)]  # both files, every edit


def test_twenty_cli_writers_of_mixed_commands_all_succeed(paths: Paths) -> None:
    home = str(paths.config_dir)
    commands = []
    for i in range(20):
        kind = i % 4
        if kind == 0:
            commands.append(["provider", "add", "--backend", "qwen", "--id", f"w{i}"])
            commands[-1] += ["--set", "base_url=http://127.0.0.1:9/v1"]
        elif kind == 1:
            commands.append(["provider", "edit", "qwen/qwen-direct", "--set", f"model=m{i}"])
        elif kind == 2:
            target = ("qwen/qwen-azure", "qwen/qwen-open-router")[i % 8 == 2]
            commands.append(["provider", "disable" if i % 3 else "enable", target])
        else:
            order = ["qwen", "claude"] if i % 8 == 3 else ["claude", "qwen"]
            commands.append(["backend", "order", *order])
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "auto_router", "--config-dir", home, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for args in commands
    ]
    results = [p.communicate(timeout=300) for p in procs]
    failures = [(c, r[1]) for c, p, r in zip(commands, procs, results, strict=True) if p.returncode]
    assert failures == []
    names = {p.name for p in load_config(paths).providers_of("qwen")}
    assert {f"w{i}" for i in range(0, 20, 4)} <= names


# --------------------------------------------------------------------------- crashes

RENAMER = """
    import os, sys
    from pathlib import Path
    from auto_router import editing
    from auto_router.paths import Paths
    d, crash_at = Path(sys.argv[1]), int(sys.argv[2])
    steps = []

    def step(name):
        steps.append(name)
        if len(steps) == crash_at:
            os._exit(9)  # a crash: no finally, no cleanup

    llm, meta = (d / "llm_config.toml").read_text(), (d / "provider_metadata.toml").read_text()
    llm = llm.replace("'qwen-azure'", "'azure-work'")
    meta = meta.replace("[qwen.qwen-azure]", "[qwen.azure-work]")
    editing.replace_texts(Paths(d, d), llm, meta, on_step=step)
    print(steps)
"""


def _renamed(paths: Paths) -> tuple[str, str]:
    llm, meta = pair(paths)
    return llm.replace("'qwen-azure'", "'azure-work'"), meta.replace(
        "[qwen.qwen-azure]", "[qwen.azure-work]"
    )


def test_the_write_sequence_has_the_expected_steps(paths: Paths) -> None:
    proc = python(RENAMER, str(paths.config_dir), "0", stdout=subprocess.PIPE)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0
    assert out.strip() == str(
        ["temps-written", "journal-written", "renamed", "renamed", "journal-removed"]
    )


@pytest.mark.parametrize("crash_at", [1, 2, 3, 4, 5])
def test_a_crash_at_each_step_leaves_old_or_new_pair_and_the_next_command_repairs(
    paths: Paths, crash_at: int
) -> None:
    old = pair(paths)
    new = _renamed(paths)
    assert old != new and old[0] != new[0] and old[1] != new[1]
    proc = python(RENAMER, str(paths.config_dir), str(crash_at))
    assert proc.wait(timeout=60) == 9
    committed = crash_at >= 2  # the journal's rename is the commit point
    # The next command (a reader: `status`) succeeds and sees one whole pair.
    status = subprocess.run(
        [sys.executable, "-m", "auto_router", "--config-dir", str(paths.config_dir), "status"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert status.returncode == 0, status.stderr
    assert pair(paths) == (new if committed else old)
    assert not (paths.config_dir / JOURNAL_NAME).exists()
    names = [p.name for p in load_config(paths).providers_of("qwen")]
    assert ("azure-work" in names) is committed
    # The next edit removes what a crash before the commit point left behind.
    editing.set_default_backend(paths, "claude")
    assert not [p for p in paths.config_dir.iterdir() if p.name.endswith(".tmp")]


FLIPPER = """
    import sys
    from pathlib import Path
    from auto_router import editing
    from auto_router.config import load_config
    from auto_router.paths import Paths
    d = Path(sys.argv[1])
    p = Paths(d, d)
    print("ready", flush=True)
    while True:
        names = [x.name for x in load_config(p).providers_of("qwen")]
        old, new = ("qwen-azure", "azure-work") if "qwen-azure" in names else ("azure-work", "qwen-azure")
        editing.rename_provider(p, "qwen", old, new)
        print("edit", flush=True)
"""


def test_kill_minus_nine_at_random_moments_in_200_edits(paths: Paths) -> None:
    before = pair(paths)
    editing.rename_provider(paths, "qwen", "qwen-azure", "azure-work")
    pairs = {before, pair(paths)}
    editing.rename_provider(paths, "qwen", "azure-work", "qwen-azure")
    pairs.add(pair(paths))  # renaming back writes the list item with double quotes
    editing.rename_provider(paths, "qwen", "qwen-azure", "azure-work")
    assert pair(paths) in pairs  # from here on, every edit flips between known pairs
    rng = random.Random(10)
    edits = kills = 0
    while edits < 200:
        proc = python(FLIPPER, str(paths.config_dir), stdout=subprocess.PIPE)
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        # Let it run for a few edits (each takes a few ms), then kill it mid-whatever.
        for _ in range(rng.randint(1, 15)):
            if not proc.stdout.readline():
                break
            edits += 1
        time.sleep(rng.uniform(0, 0.03))  # somewhere in the next read or edit
        os.kill(proc.pid, signal.SIGKILL)
        edits += proc.stdout.read().count("edit")
        proc.stdout.close()
        proc.wait(timeout=30)
        kills += 1
        config = load_config(paths)  # the next command: always works, finishes a pending edit
        assert len(config.providers_of("qwen")) == 3
        assert pair(paths) in pairs
    assert kills >= 10


# --------------------------------------------------------------------------- the lock


def test_a_held_lock_times_out_with_a_config_error(tmp_path: Path) -> None:
    target = tmp_path / "llm_config.toml"
    now = [0.0]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        assert len(sleeps) < 10_000, "the lock timeout never raised"
        now[0] += seconds

    # Another holder (a separate open file description: flock conflicts even in-process).
    with (
        lock_files(target),
        pytest.raises(ConfigError, match="held the lock for 3s"),
        lock_files(target, timeout=3, clock=lambda: now[0], sleep=sleep),
    ):
        pytest.fail("got a lock another holder has")
    assert 3 <= now[0] < 3.1
    with lock_files(target, timeout=0):  # released when the holder is done
        pass


def test_readers_share_the_lock_and_wait_for_a_writer(tmp_path: Path) -> None:
    target = tmp_path / "llm_config.toml"
    with lock_files(target, shared=True) as held:  # a reader creates no lock file
        assert not held and not (tmp_path / "llm_config.toml.lock").exists()
    with lock_files(target) as held:  # the first writer does
        assert held
    with (
        lock_files(target, shared=True),
        lock_files(target, shared=True, timeout=0),  # two readers at once
        pytest.raises(ConfigError),
        lock_files(target, timeout=0),  # but no writer beside them
    ):
        pass
    with lock_files(target), pytest.raises(ConfigError), lock_files(target, shared=True, timeout=0):
        pass
