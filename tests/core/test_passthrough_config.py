"""``auth = "passthrough"`` in provider_metadata.toml (issue 20): what it may be combined with,
each refusal naming the file, the line and the key (real TOML files, the real loader)."""

from __future__ import annotations

from pathlib import Path

import pytest

from auto_router.config import load_config
from auto_router.errors import ConfigValidationError
from auto_router.paths import resolve_paths
from tests.helpers import write_config

LLM = '[backends.b]\nproviders = ["sub"]\n'


def load(tmp_path: Path, table: str):  # type: ignore[no-untyped-def]
    write_config(tmp_path, LLM, "# the subscription\n[b.sub]\n" + table)
    return load_config(resolve_paths(tmp_path))


def test_a_passthrough_provider_loads_with_no_key_of_its_own(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        'type = "anthropic"\nauth = "passthrough"\nbase_url = "https://api.anthropic.com"\n',
    )
    provider = config.provider("b", "sub")
    assert provider.passthrough and provider.auth == "passthrough"
    assert provider.has_api  # the proxy may call it
    plain = load(tmp_path, 'type = "anthropic"\nbase_url = "https://x.example"\napi_key = "k"\n')
    assert not plain.provider("b", "sub").passthrough  # the default: api-key


@pytest.mark.parametrize(
    ("table", "key", "line", "expected"),
    [
        (
            'type = "anthropic"\nauth = "passthrough"\nbase_url = "https://a.example"\n'
            'api_key = "sk-ant-api03-x"\n',
            "api_key",
            None,
            "forwards the client's login: remove the key",
        ),
        (
            'type = "azure-openai"\nauth = "passthrough"\nbase_url = "https://g.example"\n',
            "auth",
            4,
            '"passthrough" is for type "anthropic", "openai" or "gemini", not \'azure-openai\'',
        ),
        (
            'type = "openai"\nauth = "passthrough"\nbase_url = "https://o.example/v1"\n'
            '[b.sub.headers]\nAuthorization = "Bearer fixed"\n',
            "headers].Authorization",
            None,
            "sends the client's Authorization",
        ),
        ('type = "openai"\nauth = "passthrough"\n', "auth", 4, "needs a base_url"),
        (
            'type = "anthropic"\nauth = "passthrough"\nbase_url = "https://a.example"\n'
            'api_keys = ["sk-ant-api03-x", "sk-ant-api03-y"]\n',
            "api_keys",
            None,
            "forwards the client's login: no pool",
        ),
        (
            'type = "openai"\nauth = "login"\nbase_url = "https://o.example"\n',
            "auth",
            4,
            'expected one of "api-key", "passthrough"',
        ),
        (
            'auth = "passthrough"\nANTHROPIC_BASE_URL = "https://a.example"\n'
            'ANTHROPIC_AUTH_TOKEN = "sk-fixed"\n',
            "ANTHROPIC_AUTH_TOKEN",
            5,
            "remove the key",
        ),
    ],
)
def test_what_contradicts_passthrough_is_refused_with_file_line_and_key(
    tmp_path: Path, table: str, key: str, line: int | None, expected: str
) -> None:
    with pytest.raises(ConfigValidationError) as info:
        load(tmp_path, table)
    error = info.value
    assert error.key_path == (f"[b.sub.{key}" if "]" in key else f"[b.sub].{key}")
    assert expected in str(error)
    assert error.path is not None and error.path.name == "provider_metadata.toml"
    if line is not None:
        assert error.line == line
