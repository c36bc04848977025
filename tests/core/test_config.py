from __future__ import annotations

from pathlib import Path

import pytest

from auto_router.config import load_config, parse_config
from auto_router.errors import (
    BackendNotFoundError,
    ConfigSyntaxError,
    ConfigValidationError,
    MissingVariableError,
    ProviderNotFoundError,
)
from auto_router.paths import resolve_paths
from tests.helpers import write_config

ROOT = Path(__file__).resolve().parents[2]


def load(tmp_path: Path, llm: str, meta: str = ""):  # type: ignore[no-untyped-def]
    return load_config(resolve_paths(write_config(tmp_path, llm, meta)))


def test_the_issue_example_parses_into_backends_and_ordered_providers(
    three_providers: Path,
) -> None:
    config = load_config(resolve_paths(three_providers))
    assert config.default_backend == "qwen"
    assert config.order == ("qwen", "gemini")
    qwen = config.backend("qwen")
    assert qwen.model == "qwen3-coder-plus"
    assert [p.name for p in config.providers_of("qwen")] == [
        "qwen-open-router",
        "qwen-azure",
        "qwen-direct",
    ]
    router = config.provider("qwen", "qwen-open-router")
    assert router.command == "uvx"
    assert router.args == ("qwen-openai-proxy",)
    assert router.base_url == "https://openrouter.ai/api/v1"
    assert dict(router.env) == {
        "OPENROUTER_API_KEY": "${OPENROUTER_API_KEY:-sk-or-test-0000000000000000}"
    }
    assert config.provider("qwen", "qwen-azure").type == "azure-openai"
    assert config.warnings == ()


def test_the_shipped_example_and_starter_files_are_valid() -> None:
    for directory in (ROOT / "config", ROOT / "auto_router" / "config" / "starter_files"):
        config = load_config(resolve_paths(directory))
        assert config.warnings == (), directory
        assert config.backends


def test_without_a_providers_key_the_order_is_the_table_order(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        '[backends.qwen]\nmodel = "m"\n',
        '[qwen.zeta]\nbase_url = "http://z"\n[other.x]\n[qwen.alpha]\nbase_url = "http://a"\n',
    )
    assert config.backend("qwen").provider_names == ("zeta", "alpha")


def test_provider_tables_imply_a_backend_without_a_backends_table(tmp_path: Path) -> None:
    config = load(tmp_path, "", "[gemini.one]\n[gemini.two]\n")
    assert config.backend("gemini").provider_names == ("one", "two")
    assert config.default_backend == "gemini"


def test_a_backend_with_no_providers_is_fallback_mode(tmp_path: Path) -> None:
    config = load(tmp_path, '[backends.qwen]\nmodel = "m"\n')
    assert config.providers_of("qwen") == ()


def test_backend_section_also_accepts_the_auto_coder_name(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        '[backends.a]\n[backends.b]\n[backend]\ndefault = "b"\norder = ["b", "a"]\n',
    )
    assert config.default_backend == "b"
    assert config.backend_order() == ("b", "a")
    assert config.backend_order("a") == ("a", "b")


def test_order_absent_means_every_backend_in_definition_order(tmp_path: Path) -> None:
    config = load(tmp_path, "[backends.b]\n[backends.a]\n")
    assert config.order == ("b", "a")
    assert config.default_backend == "b"


def test_syntax_error_names_file_line_and_column(tmp_path: Path) -> None:
    with pytest.raises(ConfigSyntaxError) as info:
        load(tmp_path, '[backends.qwen]\nmodel = "unterminated\n')
    error = info.value
    assert error.path == tmp_path / "llm_config.toml"
    assert error.line == 2
    assert error.column is not None
    assert str(error).startswith(f"{tmp_path / 'llm_config.toml'}:2:")
    assert "invalid TOML" in str(error)


def test_syntax_error_in_provider_metadata_names_that_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigSyntaxError) as info:
        load(tmp_path, "", "[qwen.a]\nkey = = 1\n")
    assert info.value.path == tmp_path / "provider_metadata.toml"
    assert info.value.line == 2


@pytest.mark.parametrize(
    ("llm", "meta", "line", "key_path", "expected"),
    [
        (
            '[backends.qwen]\nproviders = ["missing"]\n',
            "",
            2,
            "[backends.qwen].providers",
            "provider 'missing' has no table [qwen.missing]",
        ),
        (
            '[backends.qwen]\nenabled = "yes"\n',
            "",
            2,
            "[backends.qwen].enabled",
            "expected true or false, got a string ('yes')",
        ),
        (
            "[backends.qwen]\ncooldown = -5\n",
            "",
            2,
            "[backends.qwen].cooldown",
            "expected a positive number of seconds, got -5",
        ),
        (
            '[backends.qwen]\n[message_backend]\ndefault = "nope"\n',
            "",
            3,
            "[message_backend].default",
            "backend 'nope' is not defined",
        ),
        (
            '[backends.qwen]\nproviders = ["a", "a"]\n',
            "[qwen.a]\n",
            2,
            "[backends.qwen].providers",
            "'a' is listed twice",
        ),
        (
            "[backends.Qwen]\n",
            "",
            1,
            "[backends.Qwen]",
            "invalid backend name: names must match ^[a-z0-9][a-z0-9._-]*$",
        ),
    ],
)
def test_validation_errors_name_file_line_key_and_what_was_expected(
    tmp_path: Path, llm: str, meta: str, line: int, key_path: str, expected: str
) -> None:
    with pytest.raises(ConfigValidationError) as info:
        load(tmp_path, llm, meta)
    error = info.value
    assert error.path == tmp_path / "llm_config.toml"
    assert error.line == line
    assert error.key_path == key_path
    assert expected in str(error)


@pytest.mark.parametrize(
    ("meta", "line", "key_path", "expected"),
    [
        ('[qwen.a]\ntype = "bogus"\n', 2, "[qwen.a].type", "expected one of openai, anthropic"),
        ('[qwen.a]\ntimeout = "30"\n', 2, "[qwen.a].timeout", "positive number of seconds"),
        ('[qwen.a]\nargs = "x"\n', 2, "[qwen.a].args", "expected a list of strings"),
        ("[qwen.a]\nheaders = { X = 1 }\n", 2, "[qwen.a].headers", "expected a table of strings"),
        ("[qwen.a]\nAPI_KEY = [1]\n", 2, "[qwen.a].API_KEY", "strings or numbers"),
        ('[qwen.a]\nbase_url = "${UNCLOSED"\n', 2, "[qwen.a].base_url", "unclosed '${'"),
        ('[qwen.a]\nKEY = "${1BAD}"\n', 2, "[qwen.a].KEY", "not a valid variable reference"),
        ("[qwen.Bad_Name]\n", 1, "[qwen.Bad_Name]", "invalid provider name"),
        ("qwen = 3\n", 1, "qwen", "expected a table of providers"),
    ],
)
def test_provider_validation_errors(
    tmp_path: Path, meta: str, line: int, key_path: str, expected: str
) -> None:
    with pytest.raises(ConfigValidationError) as info:
        load(tmp_path, "", meta)
    assert info.value.path == tmp_path / "provider_metadata.toml"
    assert info.value.line == line
    assert info.value.key_path == key_path
    assert expected in str(info.value)


def test_every_problem_is_collected(tmp_path: Path) -> None:
    with pytest.raises(ConfigValidationError) as info:
        load(tmp_path, "[backends.a]\nenabled = 1\nmodel = 2\n")
    assert len(info.value.problems) == 2
    assert "(and 1 more problem)" in str(info.value)


def test_unknown_keys_are_warnings_not_failures(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        '[backends.qwen]\nflavour = "x"\n\n[qwen]\nmodel = "old layout"\n',
        "[qwen.a]\nspeed = 3\n",
    )
    messages = [str(w) for w in config.warnings]
    assert any("[backends.qwen].flavour: unknown key" in m for m in messages)
    assert any(
        "llm_config.toml:4: [qwen]: unknown key, ignored" in m and "migrate" in m for m in messages
    )
    assert any("[qwen.a].speed: unknown key" in m for m in messages)
    assert config.provider("qwen", "a").extra == {"speed": 3}


def test_order_naming_an_undefined_backend_is_a_warning(tmp_path: Path) -> None:
    config = load(tmp_path, '[backends.qwen]\n[message_backend]\norder = ["qwen", "gemini"]\n')
    assert config.backend_order() == ("qwen",)
    assert any("'gemini' is not defined" in str(w) for w in config.warnings)


def test_missing_files_mean_an_empty_configuration(tmp_path: Path) -> None:
    config = load_config(resolve_paths(tmp_path / "nowhere"))
    assert dict(config.backends) == {}
    assert config.default_backend is None


def test_lookups_of_unknown_names_raise_not_found(three_providers: Path) -> None:
    config = load_config(resolve_paths(three_providers))
    with pytest.raises(BackendNotFoundError, match="known: qwen, gemini"):
        config.backend("claude")
    with pytest.raises(ProviderNotFoundError, match="qwen-azure"):
        config.provider("qwen", "nope")


def test_parse_config_validates_texts_without_files(tmp_path: Path) -> None:
    paths = resolve_paths(tmp_path)
    with pytest.raises(ConfigValidationError):
        parse_config(paths, '[backends.q]\nproviders = ["x"]\n', "")
    assert parse_config(paths, '[backends.q]\nproviders = ["x"]\n', "[q.x]\n").backend("q")


# ------------------------------------------------------------------ expansion


def resolve_one(tmp_path: Path, meta: str, environ: dict[str, str]):  # type: ignore[no-untyped-def]
    config = load(tmp_path, "", meta)
    return config.provider("qwen", "a").resolve(environ)


def test_expansion_in_settings_and_exported_variables(tmp_path: Path) -> None:
    resolved = resolve_one(
        tmp_path,
        '[qwen.a]\nbase_url = "https://${HOST}/v1"\napi_key = "${KEY}"\n'
        'model = "${MODEL:-fallback-model}"\nargs = ["--x", "${ARG}"]\n'
        'headers = { "X-Team" = "${TEAM}" }\nTOKEN = "${KEY}"\nPLAIN = "a$b"\n'
        'PRICE = "$$5 and $${NOT_A_VAR}"\nPORT = 8080\n',
        {"HOST": "example.test", "KEY": "sk-live-abcdefghijklmnop", "ARG": "y", "TEAM": "t1"},
    )
    assert resolved.base_url == "https://example.test/v1"
    assert resolved.api_key is not None
    assert resolved.api_key.reveal() == "sk-live-abcdefghijklmnop"
    assert resolved.model == "fallback-model"
    assert resolved.args == ("--x", "y")
    assert resolved.headers["X-Team"].reveal() == "t1"
    assert resolved.exported_env() == {
        "TOKEN": "sk-live-abcdefghijklmnop",
        "PLAIN": "a$b",
        "PRICE": "$5 and ${NOT_A_VAR}",
        "PORT": "8080",
    }


def test_default_applies_when_the_variable_is_empty(tmp_path: Path) -> None:
    resolved = resolve_one(
        tmp_path, '[qwen.a]\nmodel = "${M:-dflt}"\nX = "${E}"\n', {"M": "", "E": ""}
    )
    assert resolved.model == "dflt"
    assert resolved.exported_env() == {"X": ""}


def test_missing_variable_names_file_provider_and_key(tmp_path: Path) -> None:
    with pytest.raises(MissingVariableError) as info:
        resolve_one(
            tmp_path,
            '[qwen.a]\nbase_url = "https://x.example"\nAZURE_API_KEY = "${AZURE_KEY}"\n',
            {},
        )
    message = str(info.value)
    assert str(tmp_path / "provider_metadata.toml") in message
    assert "[qwen.a].AZURE_API_KEY" in message
    assert "AZURE_KEY is not set" in message
    assert info.value.hint is not None and "export AZURE_KEY" in info.value.hint


def test_a_missing_variable_of_one_provider_does_not_stop_loading(tmp_path: Path) -> None:
    config = load(tmp_path, "", '[qwen.a]\nK = "${NOT_SET_ANYWHERE}"\n[qwen.b]\nK = "v"\n')
    assert config.provider("qwen", "b").resolve({}).exported_env() == {"K": "v"}


def test_secrets_are_masked_in_reprs(tmp_path: Path) -> None:
    resolved = resolve_one(
        tmp_path,
        '[qwen.a]\napi_key = "sk-very-secret-value-1234"\nOPENAI_API_KEY = "sk-very-secret-value-1234"\n',
        {},
    )
    text = repr(resolved) + repr(resolved.config) + str(resolved.api_key)
    assert "sk-very-secret-value" not in text
    assert "****1234" in repr(resolved.api_key)
