"""The headroom marks in the configuration (issue 19): ``rotate_below`` and the absolute
``rotate_below_requests`` / ``rotate_below_tokens``, a backend's and a provider's; and a
provider below its mark skipped by ``Rotator.choose`` (what the launcher's direct mode asks)."""

from __future__ import annotations

from pathlib import Path

import pytest

from auto_router.config import load_config
from auto_router.errors import ConfigValidationError
from auto_router.limits.headroom import Mark, Window
from auto_router.paths import resolve_paths
from auto_router.proxy.recording import _headroom_change, mark_of
from auto_router.rotation.service import Rotator
from tests.helpers import FakeClock, write_config

LLM = """
[backends.b]
providers = ["one", "two"]
{backend}
"""
META = """
[b.one]
base_url = "http://127.0.0.1:9/v1"
{provider}
[b.two]
base_url = "http://127.0.0.1:9/v1"
"""


def config_with(tmp_path: Path, backend: str = "", provider: str = ""):  # type: ignore[no-untyped-def]
    write_config(tmp_path, LLM.format(backend=backend), META.format(provider=provider))
    return load_config(resolve_paths(tmp_path))


def test_the_default_mark_is_five_percent(tmp_path: Path) -> None:
    config = config_with(tmp_path)
    assert mark_of(config, "b", "one") == Mark(0.05, None, None)


def test_a_provider_overrides_its_backend_key_by_key(tmp_path: Path) -> None:
    config = config_with(
        tmp_path,
        backend="rotate_below = 0.1\nrotate_below_requests = 10\nrotate_below_tokens = 500",
        provider="rotate_below = 0.2\nrotate_below_tokens = 9000",
    )
    assert mark_of(config, "b", "one") == Mark(0.2, 10, 9000)
    assert mark_of(config, "b", "two") == Mark(0.1, 10, 500)
    assert mark_of(config_with(tmp_path, backend="rotate_below = 0"), "b", "one").fraction is None


@pytest.mark.parametrize(
    ("backend", "key", "expected"),
    [
        ("rotate_below = 1.5", "rotate_below", "fraction"),
        ("rotate_below = -0.1", "rotate_below", "fraction"),
        ('rotate_below = "5%"', "rotate_below", "fraction"),
        ("rotate_below_requests = 0", "rotate_below_requests", "whole number"),
        ("rotate_below_tokens = 2.5", "rotate_below_tokens", "whole number"),
    ],
)
def test_bad_marks_are_refused_with_the_key(
    tmp_path: Path, backend: str, key: str, expected: str
) -> None:
    with pytest.raises(ConfigValidationError) as info:
        config_with(tmp_path, backend=backend)
    assert info.value.key_path == f"[backends.b].{key}"
    assert expected in str(info.value)


def test_below_the_mark_the_next_choice_is_the_other_provider(tmp_path: Path) -> None:
    """The launcher's direct mode (``Rotator.choose``) sees the threshold cooldown too."""
    config_with(tmp_path)
    clock = FakeClock()
    rotator = Rotator(resolve_paths(tmp_path), clock=clock)
    low = Window("requests", 2, 100, clock.now + 30, clock.now)
    names = rotator.rotation_names("b")
    rotator.store.update("b", lambda s: _headroom_change(names, "one", (low,), low, clock.now, s))
    assert rotator.choose("b").provider_name == "two"
    state = rotator.state("b").provider("one")
    assert state.last_error is not None and "threshold: requests 2/100 left" in state.last_error
    clock.advance(30)
    assert rotator.state("b").provider("one").is_available(clock.now)
