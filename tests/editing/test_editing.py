"""The editing guarantees: refusal leaves files untouched, locks compose concurrent edits,
crashes never tear a file, secrets get 0600, names follow the rule, errors carry codes."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from auto_router import editing
from auto_router.config import load_config
from auto_router.errors import (
    AutoRouterError,
    BackendExistsError,
    BackendNotFoundError,
    ConfigValidationError,
    EditConflictError,
    InvalidIdentifierError,
    NotFoundError,
    ProviderExistsError,
    ProviderNotFoundError,
    TemplateNotFoundError,
)
from auto_router.paths import Paths
from auto_router.rotation.policy import BackendState, ProviderState
from auto_router.rotation.state import SQLiteStateStore

FIXTURES = Path(__file__).parent / "fixtures"
NAMES = ("llm_config.toml", "provider_metadata.toml")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def paths(tmp_path: Path) -> Paths:
    for name in NAMES:
        shutil.copyfile(FIXTURES / name, tmp_path / name)
    return Paths(config_dir=tmp_path, data_dir=tmp_path)


def snapshot(paths: Paths) -> dict[str, tuple[bytes, int]]:
    return {
        name: ((paths.config_dir / name).read_bytes(), (paths.config_dir / name).stat().st_mtime_ns)
        for name in NAMES
    }


@pytest.mark.parametrize(
    ("edit", "error", "code"),
    [
        (
            lambda p: editing.edit_provider(p, "qwen", "qwen-direct", set={"type": "nonsense"}),
            ConfigValidationError,
            "VALIDATION_ERROR",
        ),
        (
            lambda p: editing.edit_provider(p, "qwen", "qwen-direct", set={"timeout": -1}),
            ConfigValidationError,
            "VALIDATION_ERROR",
        ),
        (
            lambda p: editing.edit_provider(p, "qwen", "qwen-direct", set={"base_ur": "x"}),
            ConfigValidationError,
            "VALIDATION_ERROR",
        ),
        (
            lambda p: editing.edit_provider(p, "qwen", "nope", set={"model": "x"}),
            ProviderNotFoundError,
            "PROVIDER_NOT_FOUND",
        ),
        (
            lambda p: editing.edit_provider(p, "qwen", "qwen-direct", unset=["model"]),
            NotFoundError,
            "NOT_FOUND",
        ),
        (
            lambda p: editing.edit_provider(p, "qwen", "qwen-direct", env={"lower": "x"}),
            ConfigValidationError,
            "VALIDATION_ERROR",
        ),
        (
            lambda p: editing.add_provider(p, "nope", "x", {"model": "m"}),
            BackendNotFoundError,
            "BACKEND_NOT_FOUND",
        ),
        (
            lambda p: editing.add_provider(p, "qwen", "qwen-direct"),
            ProviderExistsError,
            "PROVIDER_EXISTS",
        ),
        (
            lambda p: editing.add_provider(p, "qwen", "Bad_Name"),
            InvalidIdentifierError,
            "INVALID_IDENTIFIER",
        ),
        (
            lambda p: editing.add_provider(p, "qwen", "x", template="nope"),
            TemplateNotFoundError,
            "TEMPLATE_NOT_FOUND",
        ),
        (
            lambda p: editing.add_provider(p, "qwen", "x", template="generic"),
            ConfigValidationError,
            "VALIDATION_ERROR",
        ),
        (
            lambda p: editing.add_provider(p, "qwen", "x", position=0),
            ConfigValidationError,
            "VALIDATION_ERROR",
        ),
        (
            lambda p: editing.add_provider(p, "qwen", "x", {"api_key": "${UNCLOSED"}),
            ConfigValidationError,
            "VALIDATION_ERROR",
        ),
        (
            lambda p: editing.rename_provider(p, "qwen", "qwen-azure", "qwen-direct"),
            ProviderExistsError,
            "PROVIDER_EXISTS",
        ),
        (
            lambda p: editing.rename_provider(p, "qwen", "qwen-azure", "Azure"),
            InvalidIdentifierError,
            "INVALID_IDENTIFIER",
        ),
        (
            lambda p: editing.add_backend(p, "claude"),
            BackendExistsError,
            "BACKEND_EXISTS",
        ),
        (
            lambda p: editing.remove_backend(p, "qwen", remove_providers=True),
            ConfigValidationError,
            "VALIDATION_ERROR",
        ),
        (lambda p: editing.remove_backend(p, "claude"), ConfigValidationError, "VALIDATION_ERROR"),
        (
            lambda p: editing.set_backend_order(p, ["qwen", "nope"]),
            BackendNotFoundError,
            "BACKEND_NOT_FOUND",
        ),
        (
            lambda p: editing.set_backend_order(p, ["qwen", "qwen"]),
            ConfigValidationError,
            "VALIDATION_ERROR",
        ),
        (
            lambda p: editing.set_provider_order(p, "qwen", ["qwen-direct", "nope"]),
            ProviderNotFoundError,
            "PROVIDER_NOT_FOUND",
        ),
        (
            lambda p: editing.edit_backend(p, "qwen", set={"providers": ["ghost"]}),
            ConfigValidationError,
            "VALIDATION_ERROR",
        ),
        (
            lambda p: editing.set_default_backend(p, "nope"),
            BackendNotFoundError,
            "BACKEND_NOT_FOUND",
        ),
    ],
)
def test_refused_edits_leave_both_files_untouched(
    paths: Paths, edit: object, error: type[AutoRouterError], code: str
) -> None:
    before = snapshot(paths)
    with pytest.raises(error) as caught:
        edit(paths)  # type: ignore[operator]
    assert caught.value.code == code
    assert snapshot(paths) == before
    assert not [p for p in paths.config_dir.iterdir() if p.name.endswith(".tmp")]


def test_refusal_names_the_problem_and_says_nothing_was_written(paths: Paths) -> None:
    with pytest.raises(ConfigValidationError) as caught:
        editing.edit_provider(paths, "qwen", "qwen-direct", set={"type": "nonsense"})
    assert "edit refused" in str(caught.value)
    assert "[qwen.qwen-direct].type" in str(caught.value)
    assert "expected one of" in str(caught.value)
    assert caught.value.hint == "nothing was written"


def test_invalid_identifier_quotes_the_rule(paths: Paths) -> None:
    with pytest.raises(InvalidIdentifierError, match=r"\^\[a-z0-9\]\[a-z0-9\._-\]\*\$"):
        editing.add_provider(paths, "qwen", "-bad")


def test_edit_on_an_already_broken_file_says_so(paths: Paths) -> None:
    llm = paths.llm_config
    llm.write_text(llm.read_text().replace('default = "qwen"', 'default = "ghost"'))
    with pytest.raises(ConfigValidationError) as caught:
        editing.set_provider_enabled(paths, "qwen", "qwen-direct", False)
    assert "already has this problem" in (caught.value.hint or "")


def test_syntax_error_in_file_is_a_config_error_not_a_tomlkit_exception(paths: Paths) -> None:
    paths.provider_metadata.write_text("[qwen.x\nmodel = 1\n")
    with pytest.raises(AutoRouterError) as caught:
        editing.add_provider(paths, "qwen", "y")
    assert caught.value.code == "CONFIG_SYNTAX_ERROR"
    assert "provider_metadata.toml:1" in str(caught.value)


def test_no_op_edit_does_not_rewrite(paths: Paths) -> None:
    before = snapshot(paths)
    result = editing.set_provider_enabled(paths, "qwen", "qwen-direct", True)
    assert result.changed == ()
    assert snapshot(paths) == before


def test_add_then_config_sees_the_provider_in_position(paths: Paths) -> None:
    result = editing.add_provider(paths, "qwen", "first", {"model": "m"}, position=1)
    assert result.changed == (paths.llm_config, paths.provider_metadata)
    names = [p.name for p in load_config(paths).providers_of("qwen")]
    assert names == ["first", "qwen-open-router", "qwen-azure", "qwen-direct"]


def test_position_on_implicit_order_writes_a_providers_list(tmp_path: Path) -> None:
    paths = Paths(tmp_path, tmp_path)
    paths.provider_metadata.write_text('[q.a]\nmodel = "m"\n\n[q.b]\nmodel = "m"\n')
    editing.add_provider(paths, "q", "c", position=2)
    assert [p.name for p in load_config(paths).providers_of("q")] == ["a", "c", "b"]
    assert 'providers = ["a", "c", "b"]' in paths.llm_config.read_text()


def test_files_created_from_nothing(tmp_path: Path) -> None:
    paths = Paths(tmp_path / "new", tmp_path / "new")
    editing.add_provider(
        paths, "qwen", "or", template="openrouter", create_backend=True, description="d"
    )
    config = load_config(paths)
    provider = config.provider("qwen", "or")
    assert provider.api_key == "${OPENROUTER_API_KEY}"
    assert config.backend("qwen").provider_names == ("or",)
    assert stat.S_IMODE(paths.provider_metadata.stat().st_mode) == 0o644
    assert stat.S_IMODE(paths.llm_config.stat().st_mode) == 0o644


def test_literal_secret_file_is_created_0600(tmp_path: Path) -> None:
    paths = Paths(tmp_path, tmp_path)
    editing.add_provider(
        paths, "qwen", "p", {"api_key": "sk-literal-secret-123456"}, create_backend=True
    )
    assert stat.S_IMODE(paths.provider_metadata.stat().st_mode) == 0o600
    assert stat.S_IMODE(paths.llm_config.stat().st_mode) == 0o644


def test_existing_file_loses_group_and_other_bits_when_a_secret_arrives(paths: Paths) -> None:
    os.chmod(paths.provider_metadata, 0o664)
    editing.set_provider_enabled(paths, "qwen", "qwen-direct", False)
    assert stat.S_IMODE(paths.provider_metadata.stat().st_mode) == 0o664  # mode kept
    editing.edit_provider(paths, "qwen", "qwen-direct", env={"SECRET_TOKEN": "abc"})
    assert stat.S_IMODE(paths.provider_metadata.stat().st_mode) == 0o600


def test_symlinked_file_is_written_through_not_replaced(paths: Paths, tmp_path: Path) -> None:
    real = tmp_path / "dotfiles"
    real.mkdir()
    shutil.move(paths.provider_metadata, real / "provider_metadata.toml")
    paths.provider_metadata.symlink_to(real / "provider_metadata.toml")
    editing.set_provider_enabled(paths, "qwen", "qwen-direct", False)
    assert paths.provider_metadata.is_symlink()
    assert "enabled = false" in (real / "provider_metadata.toml").read_text()


def test_rename_moves_rotation_state(paths: Paths) -> None:
    store = SQLiteStateStore(paths.database)
    store.update(
        "qwen",
        lambda s: BackendState(
            backend="qwen",
            current="qwen-azure",
            last_success="qwen-azure",
            providers={"qwen-azure": ProviderState(failures=3)},
        ),
    )
    editing.rename_provider(paths, "qwen", "qwen-azure", "azure-work", store=store)
    state = store.get("qwen")
    assert state.current == "azure-work"
    assert state.last_success == "azure-work"
    assert state.provider("azure-work").failures == 3
    assert "qwen-azure" not in SQLiteStateStore(paths.database).get("qwen").providers
    names = [p.name for p in load_config(paths).providers_of("qwen")]
    assert names == ["qwen-open-router", "azure-work", "qwen-direct"]


def test_rename_of_a_dotted_key_provider_falls_back_to_moving_it(tmp_path: Path) -> None:
    paths = Paths(tmp_path, tmp_path)
    paths.provider_metadata.write_text('[q]\na = { model = "m" }  # inline\nb.model = "n"\n')
    editing.rename_provider(paths, "q", "a", "c")
    config = load_config(paths)
    assert [p.name for p in config.providers_of("q")] == ["b", "c"]
    assert config.provider("q", "c").model == "m"


def test_replace_texts_detects_a_concurrent_change(paths: Paths) -> None:
    start = editing.read_texts(paths)
    editing.set_default_backend(paths, "claude")
    with pytest.raises(EditConflictError):
        editing.replace_texts(paths, "# mine\n", None, expected=start)
    assert "claude" in paths.llm_config.read_text()


def test_crash_before_rename_leaves_the_old_file_and_next_edit_cleans_up(paths: Paths) -> None:
    script = textwrap.dedent(
        """
        import os, sys
        from pathlib import Path
        from auto_router import editing
        from auto_router.paths import Paths
        os.replace = lambda *a, **k: os._exit(3)   # die between fsync and rename
        d = Path(sys.argv[1])
        editing.set_default_backend(Paths(d, d), "claude")
        """
    )
    before = snapshot(paths)
    done = subprocess.run([sys.executable, "-c", script, str(paths.config_dir)], check=False)
    assert done.returncode == 3
    assert snapshot(paths) == before
    leftovers = [p for p in paths.config_dir.iterdir() if p.name.endswith(".tmp")]
    assert leftovers  # the dead writer's temp file
    editing.set_default_backend(paths, "claude")
    assert not [p for p in paths.config_dir.iterdir() if p.name.endswith(".tmp")]
    assert load_config(paths).default_backend == "claude"


def test_twenty_processes_adding_at_once_lose_nothing(paths: Paths) -> None:
    script = textwrap.dedent(
        """
        import sys
        from pathlib import Path
        from auto_router import editing
        from auto_router.paths import Paths
        d = Path(sys.argv[1])
        sys.stdin.read()  # start together
        editing.add_provider(Paths(d, d), "qwen", sys.argv[2], {"model": "m"})
        """
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(paths.config_dir), f"p{i:02d}"],
            stdin=subprocess.PIPE,
        )
        for i in range(20)
    ]
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.close()
    assert [proc.wait(timeout=120) for proc in procs] == [0] * 20
    config = load_config(paths)
    names = [p.name for p in config.providers_of("qwen")]
    assert sorted(names[3:]) == [f"p{i:02d}" for i in range(20)]
    assert names[:3] == ["qwen-open-router", "qwen-azure", "qwen-direct"]
    # The hand-written comments are all still there.
    text = paths.provider_metadata.read_text()
    assert "# --- claude ----" in text and "# end of file comment" in text
