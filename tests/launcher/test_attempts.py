from __future__ import annotations

import sqlite3
from pathlib import Path

from auto_router.cli.history import render_attempts
from auto_router.store.attempts import Attempt, AttemptLog, history


def attempt(n: int, backend: str, provider: str | None, outcome: str = "ok") -> Attempt:
    return Attempt(
        run_id=f"run{n // 10}",
        attempt=n % 10,
        started_at=1_700_000_000 + n,
        backend=backend,
        provider=provider,
        command="qwen",
        outcome=outcome,
        duration=0.25,
        exit_code=0,
    )


def test_insert_query_filters_and_order(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    log = AttemptLog(db)
    for row in (
        attempt(11, "qwen", "a", "usage-limit"),
        attempt(12, "qwen", "b"),
        attempt(21, "gemini", None),
        attempt(31, "qwen", "a"),
    ):
        assert log.add(row) > 0
    log.close()
    assert [(a.run_id, a.attempt) for a in history(db)] == [
        ("run1", 1),
        ("run1", 2),
        ("run2", 1),
        ("run3", 1),
    ]
    assert [a.provider for a in history(db, backend="qwen", provider="a")] == ["a", "a"]
    assert [a.run_id for a in history(db, limit=2)] == ["run2", "run3"]  # newest two
    assert [a.attempt for a in history(db, run_id="run1")] == [1, 2]
    tables = sqlite3.connect(db).execute("SELECT name FROM _migrations").fetchall()
    assert ("002_run_attempts",) in tables


def test_render() -> None:
    lines = render_attempts([attempt(11, "qwen", "a", "usage-limit")])
    assert lines[0].split() == [
        "TIME",
        "RUN",
        "#",
        "BACKEND",
        "PROVIDER",
        "COMMAND",
        "EXIT",
        "TOOK",
        "OUTCOME",
    ]
    assert "usage-limit" in lines[1] and "0.2s" in lines[1]
    assert render_attempts([])[0].startswith("no attempts recorded yet")
