"""`config edit` on a terminal: an invalid edit offers to re-open the editor."""

from __future__ import annotations

import os
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


def run_on_terminal(home: Path, tmp_path: Path, answer: bytes) -> tuple[int, str]:
    editor = tmp_path / "editor.py"
    editor.write_text(EDITOR)
    env = {**os.environ, "EDITOR": f"{sys.executable} {editor} {tmp_path / 'calls'}"}
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
