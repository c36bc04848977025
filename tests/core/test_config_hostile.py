"""Hostile values and files: every number checked, ``[proxy]`` validated with the rest, files
that are not files refused in one line, the journal finished or discarded."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from auto_router import editing
from auto_router.config import load_config, parse_proxy_settings
from auto_router.config.filesafety import JOURNAL_NAME, read_regular
from auto_router.config.source import parse_toml
from auto_router.config.values import MAX_SECONDS
from auto_router.errors import ConfigError, ConfigSyntaxError, ConfigValidationError
from auto_router.paths import Paths
from auto_router.rotation.policy import BackendState, record_usage_limit

LLM = '[message_backend]\ndefault = "qwen"\n\n[backends.qwen]\nproviders = ["one"]\n'
META = '[qwen.one]\ntype = "openai"\nbase_url = "http://127.0.0.1:9/v1"\nmodel = "m"\n'


@pytest.fixture
def paths(tmp_path: Path) -> Paths:
    (tmp_path / "llm_config.toml").write_text(LLM)
    (tmp_path / "provider_metadata.toml").write_text(META)
    return Paths(tmp_path, tmp_path)


def refused(paths: Paths) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_config(paths)
    return info.value


@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "-1", "0", "1e300", "99999999999"])
@pytest.mark.parametrize("key", ["timeout", "cooldown"])
def test_provider_numbers_outside_their_range_name_file_line_and_key(
    paths: Paths, key: str, value: str
) -> None:
    paths.provider_metadata.write_text(META + f"{key} = {value}\n")
    error = refused(paths)
    assert isinstance(error, ConfigValidationError)
    assert error.path == paths.provider_metadata
    assert error.line == 5
    assert error.key_path == f"[qwen.one].{key}"


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("port", "70000"),
        ("port", "3001.0"),
        ("max_attempts", "0"),
        ("max_attempts", "101"),
        ("fallback", '"yes"'),
        ("read_timeout", "nan"),
        ("connect_timeout", "inf"),
        ("failure_cooldown", "-1"),
        ("default_backend", '"ghost"'),
        ("client_tokens", '["${UNCLOSED"]'),
    ],
)
def test_proxy_settings_are_checked_on_every_load(paths: Paths, key: str, value: str) -> None:
    paths.llm_config.write_text(LLM + f"\n[proxy]\n{key} = {value}\n")
    error = refused(paths)
    assert error.path == paths.llm_config
    assert error.line == 8
    assert error.key_path == f"[proxy].{key}"


def test_request_log_and_model_map_problems_have_lines(paths: Paths) -> None:
    paths.llm_config.write_text(
        LLM + '\n[proxy.models]\n"a" = "qwen/ghost"\n\n[proxy.request_log]\nmax_days = inf\n'
    )
    error = refused(paths)
    problems = [str(p) for p in error.problems]
    assert problems == [
        f"{paths.llm_config}:8: [proxy.models].a: backend 'qwen' has no provider 'ghost'",
        f"{paths.llm_config}:11: [proxy.request_log].max_days: expected a positive number"
        " of days, got inf (must be a finite number)",
    ]


def test_unknown_proxy_keys_are_warnings(paths: Paths) -> None:
    paths.llm_config.write_text(LLM + "\n[proxy]\nprot = 3001\n")
    config = load_config(paths)
    assert [w.key_path for w in config.warnings] == ["[proxy].prot"]


def test_an_unset_token_variable_is_the_proxys_error_with_a_line(paths: Paths) -> None:
    paths.llm_config.write_text(LLM + '\n[proxy]\nadmin_token = "${NOT_SET_HERE}"\n')
    config = load_config(paths)  # status and run do not need the proxy's tokens
    with pytest.raises(ConfigValidationError) as info:
        parse_proxy_settings(config, environ={})
    assert info.value.line == 8 and info.value.key_path == "[proxy].admin_token"
    settings = parse_proxy_settings(config, environ={"NOT_SET_HERE": "s3cret-token"})
    assert settings.admin_token is not None and settings.admin_token.reveal() == "s3cret-token"


def test_the_longest_cooldown_is_a_representable_timestamp() -> None:
    dt.datetime.fromtimestamp(time.time() + MAX_SECONDS)  # no OverflowError
    assert MAX_SECONDS >= 365 * 24 * 3600


def test_every_edit_validates_the_proxy_settings_too(paths: Paths) -> None:
    paths.llm_config.write_text(LLM + '\n[proxy.models]\n"m" = "qwen/one"\n')
    with pytest.raises(ConfigValidationError, match=r"target of \[proxy\.models\] 'm'"):
        editing.remove_provider(paths, "qwen", "one")
    with pytest.raises(ConfigValidationError, match="edit refused") as info:
        editing.edit_config(paths, lambda docs: docs.metadata["qwen"].pop("one"))
    assert info.value.line == 5
    assert f"{paths.llm_config}:8: [proxy.models].m: backend 'qwen' has no provider 'one'" in [
        str(p) for p in info.value.problems
    ]
    with pytest.raises(ConfigValidationError, match="edit refused"):
        editing.edit_config(paths, lambda docs: docs.llm["proxy"].update({"port": 70000}))
    assert "70000" not in paths.llm_config.read_text()


def test_rename_updates_the_proxy_model_map(paths: Paths) -> None:
    paths.llm_config.write_text(
        LLM + '\n[proxy.models]\n"m" = "qwen/one"  # pinned\n"b" = "qwen"\n'
    )
    editing.rename_provider(paths, "qwen", "one", "uno")
    config = load_config(paths)
    assert dict(config.proxy_settings.models) == {"m": "qwen/uno", "b": "qwen"}
    assert '"m" = "qwen/uno"  # pinned' in paths.llm_config.read_text()


def test_removing_a_backend_the_proxy_routes_to_is_refused(paths: Paths) -> None:
    paths.llm_config.write_text(LLM + '\n[backends.other]\n\n[proxy.models]\n"m" = "other"\n')
    with pytest.raises(ConfigValidationError, match=r"used by \[proxy\.models\] 'm'"):
        editing.remove_backend(paths, "other")


# --------------------------------------------------------------------------- files


def test_a_bom_is_named(paths: Paths) -> None:
    paths.llm_config.write_bytes(b"\xef\xbb\xbf" + LLM.encode())
    error = refused(paths)
    assert isinstance(error, ConfigSyntaxError)
    assert "byte order mark" in str(error) and error.hint and "remove the UTF-8 BOM" in error.hint


def test_a_bom_is_named_before_bytes_that_are_not_utf8(paths: Paths) -> None:
    paths.llm_config.write_bytes(b"\xef\xbb\xbf" + LLM.encode() + b"# \xff\n")
    assert "byte order mark" in str(refused(paths))


def test_a_bom_in_text_from_elsewhere_is_named_the_same(tmp_path: Path) -> None:
    """Text that did not come through the byte reader (an edit) meets the same check."""
    with pytest.raises(ConfigSyntaxError) as caught:
        parse_toml("\ufeff" + LLM, tmp_path / "llm_config.toml")
    error = caught.value
    assert (error.line, error.column) == (1, 1)
    assert "byte order mark" in str(error) and error.hint and "remove the UTF-8 BOM" in error.hint


def test_deep_nesting_is_a_syntax_error(paths: Paths) -> None:
    paths.provider_metadata.write_text(META + "x = " + "[" * 3000 + "]" * 3000 + "\n")
    assert "nested" in str(refused(paths))


def test_a_fifo_is_refused_without_waiting_for_a_writer(paths: Paths) -> None:
    paths.llm_config.unlink()
    os.mkfifo(paths.llm_config)
    outcome: list[BaseException | None] = []

    def read() -> None:
        try:
            read_regular(paths.llm_config)
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(10)
    if reader.is_alive():  # unblock it, then fail
        with open(paths.llm_config, "w"):
            pass
        pytest.fail("reading a FIFO blocked")
    assert isinstance(outcome[0], ConfigError) and "FIFO" in str(outcome[0])


def test_a_symlink_loop_and_a_directory_are_one_line(paths: Paths) -> None:
    paths.provider_metadata.unlink()
    paths.provider_metadata.symlink_to(paths.provider_metadata)
    assert "symlink loop" in str(refused(paths))
    paths.provider_metadata.unlink()
    paths.provider_metadata.mkdir()
    assert "a directory, not a regular file" in str(refused(paths))


def test_a_home_that_is_a_file_is_one_line(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.write_text("")
    error = refused(Paths(home, home))
    assert "not a directory" in str(error) and error.path == home


def test_a_hand_made_journal_is_discarded(paths: Paths) -> None:
    (paths.config_dir / JOURNAL_NAME).write_text("{not json")
    assert load_config(paths).providers_of("qwen")[0].name == "one"
    assert not (paths.config_dir / JOURNAL_NAME).exists()


def test_a_committed_journal_is_finished_by_the_next_reader(paths: Paths) -> None:
    new_llm = LLM.replace('["one"]', '["one", "two"]')
    new_meta = META + '\n[qwen.two]\nbase_url = "http://127.0.0.1:9/v1"\n'
    staged = []
    for path, text in ((paths.llm_config, new_llm), (paths.provider_metadata, new_meta)):
        temp = path.with_name(f".{path.name}.x.tmp")
        temp.write_text(text)
        staged.append({"temp": str(temp), "target": str(path)})
    os.replace(staged[0]["temp"], paths.llm_config)  # the writer died after one rename
    (paths.config_dir / JOURNAL_NAME).write_text(json.dumps({"version": 1, "files": staged}))
    assert [p.name for p in load_config(paths).providers_of("qwen")] == ["one", "two"]
    assert paths.provider_metadata.read_text() == new_meta
    assert not (paths.config_dir / JOURNAL_NAME).exists()


@pytest.mark.integration
def test_cli_provider_rename_keeps_config_validate_and_the_proxy_happy(paths: Paths) -> None:
    paths.llm_config.write_text(LLM + '\n[proxy.models]\n"m" = "qwen/one"\n')

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "auto_router", "--config-dir", str(paths.config_dir), *args],
            capture_output=True,
            text=True,
            timeout=60,
        )

    assert cli("provider", "rename", "qwen/one", "uno").returncode == 0
    done = cli("config", "validate")
    assert done.returncode == 0, done.stderr
    assert parse_proxy_settings(load_config(paths), environ={}).models == {"m": "qwen/uno"}
    removed = cli("provider", "remove", "qwen/uno")
    assert removed.returncode != 0 and "[proxy.models] 'm'" in removed.stderr


@pytest.mark.parametrize("until", [float("inf"), float("nan"), 1e300, 2e9 + 1e12])
def test_a_reset_time_from_a_message_stays_a_representable_timestamp(until: float) -> None:
    now = 2e9
    state = record_usage_limit(("a", "b"), BackendState("q"), "a", now, until, reason="429")
    cooldown = state.provider("a").cooldown_until
    assert cooldown is not None and now < cooldown <= now + MAX_SECONDS
    dt.datetime.fromtimestamp(cooldown)  # what `status` shows: no OverflowError


def test_a_journal_naming_other_files_renames_nothing(paths: Paths, tmp_path: Path) -> None:
    victim = tmp_path / "elsewhere.txt"
    victim.write_text("keep me")
    staged = tmp_path / ".elsewhere.txt.x.tmp"
    staged.write_text("overwritten")
    entries = [{"temp": str(staged), "target": str(victim)}]
    (paths.config_dir / JOURNAL_NAME).write_text(json.dumps({"version": 1, "files": entries}))
    load_config(paths)
    assert victim.read_text() == "keep me" and staged.exists()
    assert not (paths.config_dir / JOURNAL_NAME).exists()


def test_reading_leaves_no_trace(paths: Paths) -> None:
    before = sorted(p.name for p in paths.config_dir.iterdir())
    load_config(paths)
    assert sorted(p.name for p in paths.config_dir.iterdir()) == before
