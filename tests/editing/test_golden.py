"""Golden-file tests: each edit of a heavily commented pair of files gives exactly the
expected text. Everything the edit does not touch stays byte-for-byte as it was.

Regenerate after an intended change with ``AUTO_ROUTER_UPDATE_GOLDEN=1 pytest tests/editing``
and review the diff of tests/editing/golden/ before committing it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from auto_router import editing
from auto_router.paths import Paths

HERE = Path(__file__).parent
FIXTURES = HERE / "fixtures"
GOLDEN = HERE / "golden"
NAMES = ("llm_config.toml", "provider_metadata.toml")

Edit = Callable[[Paths], object]

CASES: dict[str, Edit] = {
    "add-provider-template-position": lambda p: editing.add_provider(
        p,
        "qwen",
        "qwen-groq",
        {"model": "qwen/qwen3-32b"},
        template="groq",
        description="Groq",
        position=2,
    ),
    "add-provider-last-in-file": lambda p: editing.add_provider(
        p, "claude", "claude-or", template="openrouter"
    ),
    "add-provider-create-backend": lambda p: editing.add_provider(
        p, "codex", "oa", template="openai", create_backend=True
    ),
    "add-provider-azure-env": lambda p: editing.add_provider(
        p,
        "qwen",
        "qwen-azure2",
        {"base_url": "https://b.openai.azure.com", "deployment": "qwen"},
        {"AZURE_API_KEY": "${AZURE_API_KEY}"},
        template="azure-openai",
        description="second Azure",
    ),
    "edit-provider": lambda p: editing.edit_provider(
        p,
        "qwen",
        "qwen-azure",
        set={"model": "m", "timeout": 30, "description": "changed"},
        unset=["api_version"],
        env={"AZURE_REGION": "x"},
    ),
    "edit-provider-unenv": lambda p: editing.edit_provider(
        p, "qwen", "qwen-direct", unenv=["DASHSCOPE_REGION"], set={"timeout": 60}
    ),
    "remove-provider": lambda p: editing.remove_provider(p, "qwen", "qwen-azure"),
    "remove-last-provider-of-backend": lambda p: editing.remove_provider(
        p, "claude", "anthropic-main"
    ),
    "disable-provider": lambda p: editing.set_provider_enabled(p, "qwen", "qwen-direct", False),
    "rename-provider": lambda p: editing.rename_provider(p, "qwen", "qwen-azure", "azure-work"),
    "provider-order": lambda p: editing.set_provider_order(
        p, "qwen", ["qwen-direct", "qwen-open-router", "qwen-azure"]
    ),
    "backend-order": lambda p: editing.set_backend_order(p, ["claude", "gemini", "qwen"]),
    "backend-default": lambda p: editing.set_default_backend(p, "claude"),
    "add-backend": lambda p: editing.add_backend(p, "codex", {"model": "gpt-5"}),
    "edit-backend": lambda p: editing.edit_backend(
        p, "qwen", set={"cooldown": 600, "fail_fast": False}, unset=["enabled"]
    ),
    "enable-backend": lambda p: editing.set_backend_enabled(p, "gemini", True),
    "remove-backend": lambda p: editing.remove_backend(p, "gemini"),
}


def _copy_fixtures(tmp_path: Path) -> Paths:
    for name in NAMES:
        shutil.copyfile(FIXTURES / name, tmp_path / name)
    return Paths(config_dir=tmp_path, data_dir=tmp_path)


@pytest.mark.parametrize("case", sorted(CASES))
def test_edit_matches_golden_file(case: str, tmp_path: Path) -> None:
    paths = _copy_fixtures(tmp_path)
    CASES[case](paths)
    for name in NAMES:
        actual = (tmp_path / name).read_bytes()
        golden = GOLDEN / case / name
        if os.environ.get("AUTO_ROUTER_UPDATE_GOLDEN"):
            golden.parent.mkdir(parents=True, exist_ok=True)
            golden.write_bytes(actual)
        assert actual.decode() == golden.read_text(), f"{case}: {name} differs from golden"


def test_every_golden_case_changes_something_and_stays_valid(tmp_path: Path) -> None:
    # Guards against a golden file that merely equals its fixture (a test that cannot fail).
    for case in CASES:
        changed = [
            name
            for name in NAMES
            if (GOLDEN / case / name).read_bytes() != (FIXTURES / name).read_bytes()
        ]
        assert changed, case


def test_untouched_lines_survive_byte_for_byte(tmp_path: Path) -> None:
    paths = _copy_fixtures(tmp_path)
    editing.edit_provider(paths, "qwen", "qwen-open-router", set={"model": "other"})
    before = (FIXTURES / "provider_metadata.toml").read_text().splitlines()
    after = (tmp_path / "provider_metadata.toml").read_text().splitlines()
    assert len(before) == len(after)
    differing = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    assert differing == [('model = "qwen/qwen3-coder"', 'model = "other"')]
    assert (tmp_path / "llm_config.toml").read_bytes() == (
        FIXTURES / "llm_config.toml"
    ).read_bytes()


def test_crlf_files_keep_their_line_endings(tmp_path: Path) -> None:
    for name in NAMES:
        text = (FIXTURES / name).read_text().replace("\n", "\r\n")
        (tmp_path / name).write_bytes(text.encode())
    paths = Paths(tmp_path, tmp_path)
    editing.set_default_backend(paths, "claude")
    data = (tmp_path / "llm_config.toml").read_bytes()
    assert b'default = "claude"\r\n' in data
    assert data.count(b"\r\n") == data.count(b"\n")
    assert (tmp_path / "provider_metadata.toml").read_bytes().count(b"\r\n") > 10
