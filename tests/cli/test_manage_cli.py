"""The management commands, run through the real entry point against files on disk."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from auto_router.config import load_config
from auto_router.paths import Paths

Run = Any


def test_provider_add_with_template_and_position(run: Run, home: Path) -> None:
    done = run(
        "provider",
        "add",
        "--backend",
        "qwen",
        "--id",
        "qwen-azure2",
        "--template",
        "azure-openai",
        "--set",
        "base_url=https://x.openai.azure.com",
        "--set",
        "deployment=qwen",
        "--env",
        "AZURE_API_KEY=${AZURE_API_KEY}",
        "--description",
        "second azure",
        "--position",
        "1",
    )
    assert done.returncode == 0, done.stderr
    config = load_config(Paths(home, home))
    assert config.providers_of("qwen")[0].name == "qwen-azure2"
    provider = config.provider("qwen", "qwen-azure2")
    assert provider.type == "azure-openai"
    assert provider.api_key == "${AZURE_OPENAI_API_KEY}"
    assert provider.env == {"AZURE_API_KEY": "${AZURE_API_KEY}"}
    assert "# --- claude ----" in (home / "provider_metadata.toml").read_text()


def test_provider_add_create_backend_and_typed_settings(run: Run, home: Path) -> None:
    done = run(
        "provider",
        "add",
        "codex/oa",
        "--template",
        "openai",
        "--create-backend",
        "--set",
        "timeout=30",
        "--set",
        "model=123",
    )
    assert done.returncode == 0, done.stderr
    provider = load_config(Paths(home, home)).provider("codex", "oa")
    assert provider.timeout == 30 and provider.model == "123"
    missing = run("provider", "add", "nope/x", "--set", "base_url=https://x.invalid/v1")
    assert missing.returncode != 0
    assert "no backend named 'nope'" in missing.stderr and "--create-backend" in missing.stderr
    # a template names a whole API provider: its backend is created (issue 17)
    templated = run("provider", "add", "claude/zai", "--template", "anthropic")
    assert templated.returncode == 0, templated.stderr
    assert load_config(Paths(home, home)).provider("claude", "zai").kind == "api"


def test_list_and_show_json_mask_literal_secrets(run: Run, home: Path) -> None:
    secret = "sk-very-secret-value-1234567890"
    assert run("provider", "edit", "qwen/qwen-direct", "--set", f"api_key={secret}").returncode == 0
    assert stat.S_IMODE((home / "provider_metadata.toml").stat().st_mode) == 0o600
    listing = run("provider", "list", "--json")
    shown = run("provider", "show", "qwen-direct", "--json")
    human = run("provider", "show", "qwen/qwen-direct")
    for out in (listing.stdout, shown.stdout, human.stdout, run("provider", "list").stdout):
        assert secret not in out
    assert json.loads(shown.stdout)["settings"]["api_key"] == "****7890"
    rows = json.loads(listing.stdout)["providers"]
    assert [r["name"] for r in rows][:3] == ["qwen-open-router", "qwen-azure", "qwen-direct"]


def test_list_filters(run: Run) -> None:
    assert run("provider", "disable", "qwen/qwen-azure").returncode == 0
    disabled = json.loads(run("provider", "list", "--disabled", "--json").stdout)["providers"]
    assert [r["name"] for r in disabled] == ["qwen-azure"]
    claude = json.loads(run("provider", "list", "--backend", "claude", "--json").stdout)
    assert [r["name"] for r in claude["providers"]] == ["anthropic-main"]
    assert run("provider", "enable", "qwen/qwen-azure").returncode == 0
    assert json.loads(run("provider", "list", "--disabled", "--json").stdout)["providers"] == []


def test_edit_unset_env_rename_remove(run: Run, home: Path) -> None:
    paths = Paths(home, home)
    assert (
        run(
            "provider",
            "edit",
            "qwen/qwen-azure",
            "--set",
            "model=m",
            "--unset",
            "api_version",
            "--env",
            "REGION=eu",
        ).returncode
        == 0
    )
    assert run("provider", "edit", "qwen/qwen-azure", "--unenv", "REGION").returncode == 0
    p = load_config(paths).provider("qwen", "qwen-azure")
    assert p.model == "m" and p.api_version is None and not p.env
    assert run("set", "qwen", "qwen-azure").returncode == 0
    assert run("provider", "rename", "qwen/qwen-azure", "azure-work").returncode == 0
    status = json.loads(run("status", "--json").stdout)
    qwen = next(b for b in status["backends"] if b["name"] == "qwen")
    assert qwen["current"] == "azure-work"
    assert run("provider", "remove", "qwen/azure-work").returncode == 0
    names = [x.name for x in load_config(paths).providers_of("qwen")]
    assert names == ["qwen-open-router", "qwen-direct"]


def test_errors_are_one_line_plus_hint(run: Run, home: Path) -> None:
    before = (home / "provider_metadata.toml").read_bytes()
    cases = [
        (("provider", "add", "qwen/Bad_Name"), "^[a-z0-9][a-z0-9._-]*$"),
        (("provider", "edit", "qwen/qwen-direct", "--set", "type=nonsense"), "edit refused"),
        (("provider", "edit", "qwen/qwen-direct", "--set", "oops"), "KEY=VALUE"),
        (("provider", "show", "qwen/ghost"), "has no provider 'ghost'"),
        (("provider", "add", "qwen/x", "--template", "nope"), "no provider template"),
        (("provider", "test"), "say which provider"),
        (("backend", "order", "qwen", "ghost"), "no backend named 'ghost'"),
        (("set", "qwen", "ghost"), "has no provider 'ghost'"),
    ]
    for args, message in cases:
        done = run(*args)
        assert done.returncode != 0, args
        first = done.stderr.splitlines()[0]
        assert first.startswith("auto-router: error:") and message in first, done.stderr
        assert len(done.stderr.splitlines()) <= 3, done.stderr
    assert (home / "provider_metadata.toml").read_bytes() == before


def test_backend_commands(run: Run, home: Path) -> None:
    paths = Paths(home, home)
    assert run("backend", "add", "codex", "--set", "model=gpt-5", "--default").returncode == 0
    config = load_config(paths)
    assert config.default_backend == "codex" and config.order[-1] == "codex"
    assert run("backend", "order", "claude", "qwen", "codex").returncode == 0
    assert run("backend", "default", "qwen").returncode == 0
    assert run("backend", "edit", "qwen", "--set", "cooldown=60").returncode == 0
    assert run("backend", "disable", "gemini").returncode == 0
    config = load_config(paths)
    assert config.order == ("claude", "qwen", "codex")
    assert config.default_backend == "qwen"
    assert config.backend("qwen").cooldown == 60
    listing = json.loads(run("backend", "list", "--json").stdout)
    assert [b["name"] for b in listing["backends"]] == ["qwen", "claude", "gemini", "codex"]
    shown = json.loads(run("backend", "show", "qwen", "--json").stdout)
    assert shown["providers"] == ["qwen-open-router", "qwen-azure", "qwen-direct"]
    refused = run("backend", "remove", "claude")
    assert refused.returncode != 0 and "--with-providers" in refused.stderr
    assert run("backend", "remove", "claude", "--with-providers").returncode == 0
    assert "claude" not in load_config(paths).backends
    assert "# Backends I use" in (home / "llm_config.toml").read_text()


def test_set_rotate_reset(run: Run) -> None:
    def current() -> str:
        status = json.loads(run("status", "--json").stdout)
        return str(next(b for b in status["backends"] if b["name"] == "qwen")["current"])

    assert current() == "qwen-open-router"
    assert run("set", "qwen/qwen-direct").returncode == 0
    assert current() == "qwen-direct"
    done = run("rotate", "qwen")
    assert done.returncode == 0 and "qwen-open-router" in done.stdout
    assert run("rotate", "qwen").returncode == 0
    assert current() == "qwen-azure"
    assert run("reset", "qwen").returncode == 0
    assert current() == "qwen-open-router"
    assert run("reset", "--all").returncode == 0


def test_templates_listing(run: Run) -> None:
    data = json.loads(run("provider", "templates", "--json").stdout)["templates"]
    names = {t["name"] for t in data}
    assert {
        "openai",
        "anthropic",
        "openrouter",
        "together",
        "groq",
        "deepseek",
        "mistral",
        "perplexity",
        "dashscope",
        "azure-openai",
        "lm-studio",
        "ollama",
        "qwen-proxy",
        "generic",
    } <= names
    openrouter = next(t for t in data if t["name"] == "openrouter")
    assert openrouter["key_env"] == "OPENROUTER_API_KEY"
    assert "openrouter" in run("provider", "templates").stdout


def test_twenty_cli_processes_add_at_once(home: Path) -> None:
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "auto_router",
                "--config-dir",
                str(home),
                "provider",
                "add",
                f"qwen/cli-{i:02d}",
                "--template",
                "openrouter",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(20)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * 20, outs
    names = [x.name for x in load_config(Paths(home, home)).providers_of("qwen")]
    assert sorted(names[3:]) == [f"cli-{i:02d}" for i in range(20)]


def test_config_edit_valid_invalid_and_noninteractive(run: Run, home: Path, tmp_path: Path) -> None:
    editor = tmp_path / "editor.py"
    editor.write_text(
        textwrap.dedent(
            """
        import os, sys
        path = sys.argv[1]
        text = open(path).read()
        with open(path, "w") as f:
            f.write(text.replace(os.environ["FIND"], os.environ["REPLACE"]))
        """
        )
    )
    cmd = f"{sys.executable} {editor}"
    before = (home / "llm_config.toml").read_bytes()
    bad = run(
        "config",
        "edit",
        env={"EDITOR": cmd, "FIND": 'default = "qwen"', "REPLACE": 'default = "ghost"'},
    )
    assert bad.returncode != 0
    assert "not saved" in bad.stderr and "ghost" in bad.stderr
    assert (home / "llm_config.toml").read_bytes() == before
    good = run(
        "config",
        "edit",
        env={"VISUAL": cmd, "FIND": 'default = "qwen"', "REPLACE": 'default = "claude"  # edited'},
    )
    assert good.returncode == 0, good.stderr
    assert (home / "llm_config.toml").read_text() == before.decode().replace(
        'default = "qwen"', 'default = "claude"  # edited'
    )
    same = run("config", "edit", "providers", env={"EDITOR": cmd, "FIND": "x", "REPLACE": "x"})
    assert same.returncode == 0 and "no changes" in same.stdout
    broken = run("config", "edit", env={"EDITOR": "false"})
    assert broken.returncode != 0 and "exited with status" in broken.stderr
    # Only the abandoned invalid edit is kept (for the user to recover); the failed one is not.
    kept = list(run.tmp.iterdir())
    assert len(kept) == 1 and "ghost" in (kept[0] / "llm_config.toml").read_text()
