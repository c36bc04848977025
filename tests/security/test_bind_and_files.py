"""Beyond loopback only with both tokens; files that hold secrets or prompts are private."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from auto_router.config import load_config, parse_proxy_settings
from auto_router.config.starter import init_config
from auto_router.editing import add_provider
from auto_router.errors import UnsafeBindError
from auto_router.paths import Paths
from auto_router.proxy.auth import check_bind
from auto_router.rotation.state import SQLiteStateStore


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _proxy(
    home: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k != "AUTO_ROUTER_ADMIN_TOKEN"}
    return subprocess.run(
        [sys.executable, "-m", "auto_router", "--config-dir", str(home), "proxy", *args],
        capture_output=True,
        text=True,
        env={**base, **(env or {})},
        timeout=60,
    )


def _config(home: Path, proxy: str) -> None:
    (home / "llm_config.toml").write_text(
        f'[backends.qwen]\nproviders = ["one"]\n[message_backend]\ndefault = "qwen"\n'
        f"[proxy]\n{proxy}\n"
    )
    (home / "provider_metadata.toml").write_text(
        '[qwen.one]\nbase_url = "http://127.0.0.1:9/v1"\napi_key = "${ONE_KEY:-x}"\n'
    )


@pytest.mark.parametrize(
    ("proxy", "env", "missing"),
    [
        ("", {}, ["admin token", "client_tokens"]),
        ("", {"AUTO_ROUTER_ADMIN_TOKEN": "admin-token-123456"}, ["client_tokens"]),
        ('client_tokens = ["client-token-123456"]', {}, ["admin token"]),
    ],
)
def test_beyond_loopback_needs_both_tokens(
    tmp_path: Path, proxy: str, env: dict[str, str], missing: list[str]
) -> None:
    _config(tmp_path, proxy)
    result = _proxy(tmp_path, "--host", "0.0.0.0", "--port", "9", env=env)
    assert result.returncode == 78, result.stderr
    assert "refusing to listen on 0.0.0.0" in result.stderr
    for what in missing:
        assert what in result.stderr
    # It says exactly what to set.
    assert 'client_tokens = ["${PROXY_CLIENT_TOKEN}"]' in result.stderr
    assert "AUTO_ROUTER_ADMIN_TOKEN" in result.stderr
    assert "Traceback" not in result.stderr


def test_both_tokens_allow_it(tmp_path: Path) -> None:
    _config(tmp_path, 'admin_token = "admin-token-123456"\nclient_tokens = ["client-token-1234"]')
    settings = parse_proxy_settings(load_config(Paths(tmp_path, tmp_path)))
    check_bind("0.0.0.0", settings)  # no error: the proxy would start
    check_bind("::", settings)
    with pytest.raises(UnsafeBindError):
        check_bind("0.0.0.0", parse_proxy_settings(load_config(_paths_without(tmp_path))))


def _paths_without(tmp_path: Path) -> Paths:
    other = tmp_path / "other"
    other.mkdir()
    _config(other, 'admin_token = "admin-token-123456"')
    return Paths(other, other)


@pytest.fixture
def open_umask() -> object:
    old = os.umask(0o022)  # the usual default: new files 0644, directories 0755
    yield None
    os.umask(old)


def test_the_state_database_is_private(tmp_path: Path, open_umask: object) -> None:
    data = tmp_path / "data"
    db_path = data / "auto-router.db"
    store = SQLiteStateStore(db_path)
    store.update("qwen", lambda s: s)
    # A second connection while the first is open keeps -wal and -shm on disk.
    with sqlite3.connect(db_path) as peek:
        peek.execute("SELECT count(*) FROM provider_state").fetchone()
        for name in ("auto-router.db", "auto-router.db-wal", "auto-router.db-shm"):
            assert (data / name).exists(), name
            assert _mode(data / name) == 0o600, name
    assert _mode(data) == 0o700


def test_an_existing_world_readable_database_is_tightened(
    tmp_path: Path, open_umask: object
) -> None:
    data = tmp_path / "data"
    SQLiteStateStore(data / "auto-router.db").update("qwen", lambda s: s)
    os.chmod(data, 0o755)
    for name in data.iterdir():
        os.chmod(name, 0o644)
    SQLiteStateStore(data / "auto-router.db").update("qwen", lambda s: s)
    assert _mode(data) == 0o700
    for name in data.iterdir():
        assert _mode(name) == 0o600, name


def test_config_files_with_a_literal_secret_are_private(tmp_path: Path, open_umask: object) -> None:
    conf = tmp_path / "conf"
    paths = Paths(conf, conf)
    written, _ = init_config(paths)
    assert written and all(_mode(p) == 0o600 for p in written)
    assert _mode(conf) == 0o700
    add_provider(
        paths,
        "qwen",
        "lit",
        {"base_url": "http://127.0.0.1:9/v1", "api_key": "sk-literal-secret-0000"},
    )
    assert _mode(paths.provider_metadata) == 0o600
    lock = conf / "provider_metadata.toml.lock"
    if lock.exists():
        assert _mode(lock) == 0o600
