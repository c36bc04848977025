"""``auto-router status`` says which strategy is in force per backend (issue 19)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

Run = Callable[..., subprocess.CompletedProcess[str]]

LLM = """
[backends.qwen]
providers = ["a", "b"]
strategy = "priority"

[backends.glm]
providers = ["a"]
"""
META = """
[qwen.a]
command = "true"
[qwen.b]
command = "true"
[glm.a]
command = "true"
"""


def test_status_shows_each_backends_strategy(run: Run, home: Path) -> None:
    (home / "llm_config.toml").write_text(LLM)
    (home / "provider_metadata.toml").write_text(META)
    status = run("status")
    assert status.returncode == 0, status.stderr
    lines = status.stdout.splitlines()
    qwen = next(i for i, line in enumerate(lines) if line.startswith("qwen"))
    glm = next(i for i, line in enumerate(lines) if line.startswith("glm"))
    assert (
        lines[qwen + 1] == "    strategy: priority (the first available provider in order serves)"
    )
    assert (
        lines[glm + 1] == "    strategy: sticky (stays on the current provider until it must move)"
    )
    shown = json.loads(run("status", "--json").stdout)
    assert {b["name"]: b["strategy"] for b in shown["backends"]} == {
        "qwen": "priority",
        "glm": "sticky",
    }


def test_set_and_rotate_say_when_the_strategy_decides_who_serves(run: Run, home: Path) -> None:
    """Under priority a manual ``set``/``rotate`` moves ``current`` but not the traffic: the
    command says so rather than let the user think it moved the requests."""
    (home / "llm_config.toml").write_text(LLM)
    (home / "provider_metadata.toml").write_text(META)
    moved = run("set", "qwen", "b")
    assert moved.returncode == 0, moved.stderr
    assert moved.stdout.splitlines() == [
        "qwen: current provider is now b",
        "  note: strategy priority: the first available provider in order serves, "
        "whatever is current",
    ]
    rotated = run("rotate", "qwen", "--json")
    assert json.loads(rotated.stdout)["strategy"] == "priority"
    sticky = run("set", "glm", "a")
    assert sticky.stdout.strip() == "glm: current provider is now a"  # no note: it decides
