"""The Python API: auto-coder's names over the shared, persisted rotation state.

(What ``auto_router`` exports is checked in test_exports.py, the documented examples in
test_python_api_doc.py.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from auto_router import (
    LLMBackendManager,
    UsageLimitError,
    applied_environment,
    get_llm_backend_manager,
)
from auto_router.paths import resolve_paths
from auto_router.rotation.service import Rotator
from tests.helpers import FakeClock


class RecordingClient:
    """A client that reports which provider variables it saw and can run out of quota."""

    def __init__(self, exhausted: set[str] | None = None, key: str = "OPENROUTER_API_KEY") -> None:
        self.exhausted = exhausted or set()
        self.seen: list[dict[str, str | None]] = []
        self.key = key

    def _run_llm_cli(self, prompt: str) -> str:
        seen = {
            name: os.environ.get(name)
            for name in ("OPENROUTER_API_KEY", "AZURE_API_KEY", "QWEN_API_KEY", "GEMINI_API_KEY")
        }
        self.seen.append(seen)
        for name, value in seen.items():
            if value is not None and name in self.exhausted:
                raise UsageLimitError(f"{name} quota exceeded")
        return f"answer to {prompt}"


def manager_for(
    config_dir: Path, clock: FakeClock | None = None, **kwargs: Any
) -> LLMBackendManager:
    rotator = Rotator(resolve_paths(config_dir), clock=clock or FakeClock())
    return LLMBackendManager(rotator, **kwargs)


def test_provider_manager_answers_with_auto_coder_names(three_providers: Path) -> None:
    pm = manager_for(three_providers).provider_manager
    assert pm.has_providers("qwen")
    assert not pm.has_providers("nope")
    assert pm.get_provider_count("qwen") == 3
    assert pm.get_all_provider_names("qwen") == ["qwen-open-router", "qwen-azure", "qwen-direct"]
    assert pm.get_current_provider_name("qwen") == "qwen-open-router"
    assert pm.advance_to_next_provider("qwen") is True
    assert pm.get_current_provider_name("qwen") == "qwen-azure"
    pm.reset_provider_rotation("qwen")
    assert pm.get_current_provider_name("qwen") == "qwen-open-router"
    assert pm.get_last_used_provider_name("qwen") is None


def test_run_prompt_applies_the_providers_variables_only_during_the_call(
    three_providers: Path,
) -> None:
    client = RecordingClient()
    os.environ.pop("OPENROUTER_API_KEY", None)
    manager = manager_for(three_providers, default_backend="qwen", default_client=client)
    assert manager.run_prompt("hi") == "answer to hi"
    assert client.seen[0]["OPENROUTER_API_KEY"] == "sk-or-test-0000000000000000"
    assert "OPENROUTER_API_KEY" not in os.environ
    assert manager.get_last_backend_provider_and_model() == (
        "qwen",
        "qwen-open-router",
        "qwen/qwen3-coder",
    )


def test_run_prompt_rotates_providers_then_backends(three_providers: Path) -> None:
    qwen = RecordingClient(exhausted={"OPENROUTER_API_KEY", "AZURE_API_KEY", "QWEN_API_KEY"})
    gemini = RecordingClient()
    manager = manager_for(
        three_providers,
        default_backend="qwen",
        factories={"qwen": lambda: qwen, "gemini": lambda: gemini},
    )
    assert manager.run_prompt("p") == "answer to p"
    assert len(qwen.seen) == 3
    assert gemini.seen[0]["GEMINI_API_KEY"] == "gem-key"
    assert manager.get_last_backend_provider_and_model() == ("gemini", "gemini-a", "gemini-2.5-pro")
    pm = manager.provider_manager
    assert pm.get_last_used_provider_name("gemini") == "gemini-a"


def test_everything_exhausted_reraises_the_last_usage_limit(three_providers: Path) -> None:
    qwen = RecordingClient(exhausted={"OPENROUTER_API_KEY", "AZURE_API_KEY", "QWEN_API_KEY"})
    manager = manager_for(three_providers, default_backend="qwen", default_client=qwen)
    with pytest.raises(UsageLimitError, match="QWEN_API_KEY quota exceeded"):
        manager.run_prompt("p")
    assert len(qwen.seen) == 3  # each provider once, then stop (gemini has no client)


def test_environment_is_restored_after_a_failing_call(three_providers: Path) -> None:
    os.environ["QWEN_API_KEY"] = "the users own value"
    try:

        class Broken:
            def run_prompt(self, prompt: str) -> str:
                assert os.environ["QWEN_API_KEY"] == "qwen-direct-key"
                raise ValueError("client bug")

        manager = manager_for(three_providers, default_backend="qwen", default_client=Broken())
        manager.provider_manager.set_current_provider("qwen", "qwen-direct")
        with pytest.raises(ValueError, match="client bug"):
            manager.run_prompt("p")
        assert os.environ["QWEN_API_KEY"] == "the users own value"
    finally:
        os.environ.pop("QWEN_API_KEY", None)


def test_applied_environment_serialises_threads() -> None:
    inside = threading.Event()
    release = threading.Event()
    observed: list[str | None] = []

    def first() -> None:
        with applied_environment({"AR_TEST_VAR": "one"}):
            inside.set()
            release.wait(10)
            observed.append(os.environ.get("AR_TEST_VAR"))

    def second() -> None:
        inside.wait(10)
        with applied_environment({"AR_TEST_VAR": "two"}):
            observed.append(os.environ.get("AR_TEST_VAR"))

    t1, t2 = threading.Thread(target=first), threading.Thread(target=second)
    t1.start()
    t2.start()
    inside.wait(10)
    release.set()
    t1.join(10)
    t2.join(10)
    assert observed == ["one", "two"]
    assert "AR_TEST_VAR" not in os.environ


def test_get_llm_backend_manager_is_process_wide(three_providers: Path) -> None:
    client = RecordingClient()
    first = get_llm_backend_manager(
        default_backend="qwen", default_client=client, config_dir=three_providers
    )
    assert get_llm_backend_manager() is first
    assert get_llm_backend_manager(force_reinitialize=True, config_dir=three_providers) is not first


@pytest.mark.integration
def test_api_changes_are_what_the_cli_status_shows(three_providers: Path) -> None:
    manager = get_llm_backend_manager(default_backend="qwen", config_dir=three_providers)
    manager.provider_manager.advance_to_next_provider("qwen")
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "auto_router",
            "--config-dir",
            str(three_providers),
            "status",
            "--json",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    qwen = json.loads(out)["backends"][0]
    assert qwen["current"] == "qwen-azure"
    assert [p["name"] for p in qwen["providers"] if p["current"]] == ["qwen-azure"]
