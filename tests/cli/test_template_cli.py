"""``auto-router provider add --template <name>`` for the issue 19 templates, through the real
entry point against files on disk, and the listing that shows each template's source."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from auto_router.config import load_config
from auto_router.paths import Paths
from auto_router.providers.templates import get_template

Run = Any
CODING_PLANS = [
    "openrouter-anthropic",
    "deepseek-anthropic",
    "dashscope-anthropic",
    "zai",
    "zai-coding",
    "minimax",
    "kimi-code",
    "xai",
    "fireworks",
    "cerebras",
]


@pytest.mark.parametrize("name", CODING_PLANS)
def test_provider_add_with_a_coding_plan_template(run: Run, home: Path, name: str) -> None:
    done = run("provider", "add", f"plan/{name}", "--template", name)
    assert done.returncode == 0, done.stderr
    template = get_template(name)
    provider = load_config(Paths(home, home)).provider("plan", name)
    assert (provider.type, provider.base_url) == (template.type, template.base_url)
    assert provider.api_key == "${" + str(template.key_env) + "}"
    assert provider.model == template.settings.get("model")


def test_the_listing_names_each_templates_source(run: Run) -> None:
    rows = json.loads(run("provider", "templates", "--json").stdout)["templates"]
    by_name = {row["name"]: row for row in rows}
    assert set(CODING_PLANS) <= set(by_name)
    assert by_name["minimax"]["source"].startswith("https://platform.minimax.io/")
    assert by_name["zai"]["auth"] == "x-api-key: <key> and Authorization: Bearer <key>"
