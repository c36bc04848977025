from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from auto_router.api import reset_llm_backend_manager
from tests.helpers import (
    THREE_PROVIDERS_LLM,
    THREE_PROVIDERS_META,
    FakeClock,
    close_test_clients,
    write_config,
)


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """No test may read or write the real user's configuration or state."""
    home = tmp_path_factory.mktemp("auto-router-home")
    saved = os.environ.get("AUTO_ROUTER_HOME")
    os.environ["AUTO_ROUTER_HOME"] = str(home)
    reset_llm_backend_manager()
    yield
    reset_llm_backend_manager()
    if saved is None:
        os.environ.pop("AUTO_ROUTER_HOME", None)
    else:
        os.environ["AUTO_ROUTER_HOME"] = saved


@pytest.fixture(autouse=True)
def _sdk_clients_closed() -> Iterator[None]:
    """The SDK clients a test's helpers made are closed as it ends (``closed_after_test``)."""
    yield
    close_test_clients()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def three_providers(tmp_path: Path) -> Path:
    return write_config(tmp_path / "conf", THREE_PROVIDERS_LLM, THREE_PROVIDERS_META)
