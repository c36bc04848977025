"""`config edit` on a terminal: an invalid edit offers to re-open the editor.

Every run gets its own ``TMPDIR``, so the tests see what the command leaves behind: nothing,
unless it names a copy it kept for the user on purpose.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import converse_on_terminal

pytestmark = pytest.mark.integration

# An editor that writes invalid TOML the first time and a valid change the second time.
EDITOR = """\
import sys
from pathlib import Path
count = Path(sys.argv[1])
calls = int(count.read_text()) if count.exists() else 0
count.write_text(str(calls + 1))
target = Path(sys.argv[2])
if calls == 0:
    target.write_text(target.read_text() + "\\n[broken\\n")
else:
    target.write_text(target.read_text().replace("[broken\\n", "") + "\\n[backends.added]\\n")
"""
# An editor that writes a change and then fails (as `vim +cq` does to abort).
FAILING_EDITOR = """\
import sys
from pathlib import Path
target = Path(sys.argv[1])
target.write_text(target.read_text() + "\\n[backends.half_done]\\n")
sys.exit(3)
"""

# Invalid TOML the first time; the second time it fails (the user gave up in the editor).
INVALID_THEN_FAILING_EDITOR = """\
import sys
from pathlib import Path
count = Path(sys.argv[1])
calls = int(count.read_text()) if count.exists() else 0
count.write_text(str(calls + 1))
target = Path(sys.argv[2])
target.write_text(target.read_text() + "\\n[broken\\n")
sys.exit(3 if calls else 0)
"""


def temp_dir(tmp_path: Path) -> Path:
    """The directory the command's ``tempfile`` uses (its ``TMPDIR``), empty at first."""
    directory = tmp_path / "tmp"
    directory.mkdir(exist_ok=True)
    return directory


def run_on_terminal(
    home: Path, tmp_path: Path, answer: bytes, script: str = EDITOR
) -> tuple[int, str]:
    editor = tmp_path / "editor.py"
    editor.write_text(script)
    env = {**os.environ, "EDITOR": f"{sys.executable} {editor} {tmp_path / 'calls'}"}
    env["TMPDIR"] = str(temp_dir(tmp_path))
    env.pop("VISUAL", None)
    argv = [sys.executable, "-m", "auto_router", "--config-dir", str(home), "config", "edit"]
    return converse_on_terminal(argv, b"Edit it again?", answer, env)


def test_yes_reopens_the_editor_and_saves_the_valid_version(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "llm_config.toml").write_text("# my comment\n[backends.qwen]\n")
    code, out = run_on_terminal(home, tmp_path, b"y\n")
    assert code == 0, out
    assert "invalid TOML" in out and "Edit it again?" in out
    assert "saved llm_config.toml (valid)" in out
    text = (home / "llm_config.toml").read_text()
    assert text.startswith("# my comment\n[backends.qwen]\n")
    assert "[backends.added]" in text and "[broken" not in text
    assert (tmp_path / "calls").read_text() == "2"
    assert list(temp_dir(tmp_path).iterdir()) == []  # the edited copy went with its directory


def test_no_keeps_the_file_as_it_was(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    original = "# my comment\n[backends.qwen]\n"
    (home / "llm_config.toml").write_text(original)
    code, out = run_on_terminal(home, tmp_path, b"n\n")
    assert code != 0
    assert "Traceback" not in out
    assert (home / "llm_config.toml").read_text() == original
    assert (tmp_path / "calls").read_text() == "1"
    # The rejected version is kept on purpose, where the message says, for the user to recover.
    kept = Path(re.sub(r"\s+", "", out.split("your version is kept at ")[1]))
    assert kept.parent.parent == temp_dir(tmp_path) and kept.name == "llm_config.toml"
    assert "[broken" in kept.read_text()
    assert list(temp_dir(tmp_path).iterdir()) == [kept.parent]


def run_failing_editor(home: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    editor = tmp_path / "failing_editor.py"
    editor.write_text(FAILING_EDITOR)
    env = {**os.environ, "EDITOR": f"{sys.executable} {editor}", "TMPDIR": str(temp_dir(tmp_path))}
    env.pop("VISUAL", None)
    argv = [sys.executable, "-m", "auto_router", "--config-dir", str(home), "config", "edit"]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)


def test_a_failing_editor_saves_nothing_and_leaves_nothing_behind(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    original = "# my comment\n[backends.qwen]\n"
    (home / "llm_config.toml").write_text(original)
    done = run_failing_editor(home, tmp_path)
    assert done.returncode != 0
    assert "exited with status 3; nothing was saved" in done.stderr
    assert "Traceback" not in done.stderr
    assert (home / "llm_config.toml").read_text() == original
    assert list(temp_dir(tmp_path).iterdir()) == []


def test_an_editor_failing_after_an_invalid_edit_leaves_nothing_behind(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    original = "# my comment\n[backends.qwen]\n"
    (home / "llm_config.toml").write_text(original)
    code, out = run_on_terminal(home, tmp_path, b"y\n", INVALID_THEN_FAILING_EDITOR)
    assert code != 0, out
    assert "Edit it again?" in out and "exited with status 3; nothing was saved" in out
    assert (tmp_path / "calls").read_text() == "2"
    assert (home / "llm_config.toml").read_text() == original
    assert list(temp_dir(tmp_path).iterdir()) == []
