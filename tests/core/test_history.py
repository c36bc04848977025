"""`auto-router history`: launcher attempts and proxied requests, from one database."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from auto_router.paths import resolve_paths
from auto_router.store.attempts import Attempt, AttemptLog
from auto_router.store.db import connect
from auto_router.store.requests import FailedAttempt, RequestRecord, insert_batch

pytestmark = pytest.mark.integration


@pytest.fixture
def logged(tmp_path: Path) -> Path:
    database = resolve_paths(tmp_path).database
    now = time.time()
    log = AttemptLog(database)
    log.add(
        Attempt(
            "run1",
            1,
            now - 60,
            "qwen",
            "qwen-azure",
            "qwen",
            "usage-limit",
            duration=1.0,
            exit_code=1,
            limit_detected=True,
            marker="429",
        )
    )
    log.add(
        Attempt("run1", 2, now - 50, "qwen", "qwen-direct", "qwen", "ok", duration=2.0, exit_code=0)
    )
    log.close()
    db = connect(database)
    insert_batch(
        db,
        [
            RequestRecord(
                ts=now - 40,
                method="POST",
                endpoint="chat",
                status=200,
                backend="qwen",
                provider="qwen-direct",
                client_model="m",
                attempts=2,
                failed=(FailedAttempt("qwen", "qwen-azure", 429, "rate limited"),),
                duration_ms=5.0,
            ),
            RequestRecord(
                ts=now - 30,
                method="POST",
                endpoint="chat",
                status=503,
                backend="qwen",
                provider=None,
                client_model="m",
                attempts=3,
                error="nothing left",
            ),
        ],
    )
    db.close()
    return tmp_path


def history(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "auto_router", "--config-dir", str(home), "history", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_history_shows_runs_and_proxied_requests(logged: Path) -> None:
    out = history(logged).stdout
    runs, requests = out.split("proxied requests (auto-router proxy):")
    assert runs.startswith("runs (auto-router run):")
    assert "qwen-azure" in runs and "usage-limit" in runs and "qwen-direct" in runs
    assert "failed: qwen-azure (429)" in requests
    assert "503" in requests


def test_history_filters_by_source_and_status(logged: Path) -> None:
    proxy_only = history(logged, "--source", "proxy").stdout
    assert "usage-limit" not in proxy_only and "503" in proxy_only
    errors = json.loads(history(logged, "--status", "error", "--json").stdout)
    assert [a["outcome"] for a in errors["attempts"]] == ["usage-limit"]
    assert [r["status"] for r in errors["requests"]] == [503]
    ok = json.loads(history(logged, "--status", "ok", "--json").stdout)
    assert [a["provider"] for a in ok["attempts"]] == ["qwen-direct"]
    assert [r["status"] for r in ok["requests"]] == [200]
    by_code = json.loads(history(logged, "--status", "503", "--json").stdout)
    assert by_code["attempts"] == [] and [r["status"] for r in by_code["requests"]] == [503]
    runs = json.loads(history(logged, "--source", "run", "--json").stdout)
    assert "requests" not in runs and len(runs["attempts"]) == 2


def test_history_since_and_bad_status(logged: Path) -> None:
    recent = json.loads(history(logged, "--since", "45s", "--json").stdout)
    assert recent["attempts"] == [] and len(recent["requests"]) == 2
    bad = history(logged, "--status", "maybe")
    assert bad.returncode != 0 and "Traceback" not in bad.stderr
    assert "--status expects 'ok', 'error' or a number" in bad.stderr


def test_history_on_an_empty_database_says_what_fills_it(tmp_path: Path) -> None:
    out = history(tmp_path).stdout
    assert out.startswith("nothing recorded yet")
