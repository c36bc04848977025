"""Every documented configuration runs as its comment says, and calls only hosts it names.

Issue 17, "Done when": the configurations in the README, in ``config/`` (and the starter files
``config init`` writes), in ``docs/`` and in auto-coder's documentation (``../shared/reference/``)
are loaded and validated, with a dummy value for each ``${VAR}``; then, for every backend,

- the launcher's plan (``reach.decide`` and, for a direct run, ``plan_child``) says which hosts
  the agent is pointed at, and
- the proxy's resolution (``Router.plan`` for each API family) says which hosts it would call;

every such host must be written in that configuration, or be the documented base URL of a
provider type the configuration names (``type = "gemini"``; ``GEMINI_API_KEY``, which names
Google's API, for Gemini CLI).

How examples are found: each fenced ``toml`` block is one, except that a block holding only
llm_config.toml tables followed by one holding only provider tables is one example (the
docs show the two files that way). A block whose preceding line is ``<!-- fragment: why -->``
is not a configuration (a list of every key, say). auto-coder's documents cannot carry such
marks, so their fragments are listed here, each with the reason. auto-coder's own
``llm_config.toml`` (its legacy layout) goes through ``auto-router migrate`` first.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from auto_router.agents import agent_for
from auto_router.config import Config, ProviderConfig, parse_config
from auto_router.errors import NoCommandError
from auto_router.launcher.plan import plan_child
from auto_router.launcher.reach import decide
from auto_router.migrate import Sources, plan_migration
from auto_router.paths import Paths
from auto_router.providers.protocols import DEFAULT_BASE_URLS
from auto_router.proxy.routing import Router
from auto_router.rotation.state import MemoryStateStore

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT.parent / "shared" / "reference"
_LLM_TABLES = ("backends", "message_backend", "backend", "proxy", "launcher")
_BLOCK = re.compile(r"^```toml\n(.*?)^```", re.S | re.M)
_HEADER = re.compile(r"^\s*\[\[?\s*\"?([A-Za-z0-9_-]+)")
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(:-[^}]*)?\}")
_URL_HOST = re.compile(r"https?://([A-Za-z0-9.-]+|\[[0-9a-fA-F:]+\])")
#: The agent's own endpoint when it is given none: what it calls on a direct run.
_AGENT_DEFAULT = {
    "claude": DEFAULT_BASE_URLS["anthropic"],
    "gemini": DEFAULT_BASE_URLS["gemini"],
}
#: auto-coder's documents (read-only here): blocks that are not a configuration, and why.
REFERENCE_FRAGMENTS = {
    "auto-coder-qwen-provider-management.md:76": "one provider of the example above",
    "auto-coder-qwen-provider-management.md:86": "one provider of the example above",
    "auto-coder-qwen-provider-management.md:98": "one provider of the example above",
    "auto-coder-qwen-provider-management.md:112": "two keys, to show UPPERCASE export",
    "auto-coder-qwen-provider-management.md:166": "one key, to show the rotation order",
    "auto-coder-qwen-provider-management.md:221": "qwen-providers.toml, another file",
    "auto-coder-qwen-provider-management.md:229": "placeholders (`args = [...]`)",
    "auto-coder-qwen-provider-management.md:250": "a backend alone, no provider table",
    "auto-coder-qwen-provider-management.md:268": "a providers list without its tables",
    "auto-coder-qwen-provider-management.md:341": "one key, to show ${VAR}",
}


@dataclass(frozen=True)
class Example:
    where: str
    llm: str
    meta: str
    #: auto-coder's legacy layout: imported with ``auto-router migrate`` first.
    legacy: bool = False
    #: Where the example starts in its document.
    line: int | None = None

    @property
    def text(self) -> str:
        return self.llm + "\n" + self.meta


def _split(block: str) -> tuple[str, str]:
    """A block's llm_config.toml tables and its provider tables (by each table's header)."""
    llm: list[str] = []
    meta: list[str] = []
    target = meta if block.lstrip().startswith("# provider_metadata.toml") else llm
    for line in block.splitlines(keepends=True):
        header = _HEADER.match(line)
        if header:
            target = llm if header.group(1) in _LLM_TABLES else meta
        target.append(line)
    return "".join(llm), "".join(meta)


def _has_tables(text: str) -> bool:
    return any(_HEADER.match(line) for line in text.splitlines())


def _markdown_examples(path: Path, label: str, fragments: dict[str, str]) -> Iterator[Example]:
    """The document's examples, named ``<file>#<n>`` (n-th example: stabler than a line)."""
    text = path.read_text(encoding="utf-8")
    found: list[tuple[int, str, str]] = []  # (line, llm, meta)
    for match in _BLOCK.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        before = text[: match.start()].rstrip().splitlines()
        if (before and before[-1].startswith("<!-- fragment")) or f"{label}:{line}" in fragments:
            continue
        llm, meta = _split(match.group(1))
        last = found[-1] if found else None
        if last and not _has_tables(llm) and not _has_tables(last[2]) and _has_tables(last[1]):
            found[-1] = (last[0], last[1], meta)  # the two files, shown one after the other
        else:
            found.append((line, llm, meta))
    for n, (line, llm, meta) in enumerate(found, start=1):
        yield Example(f"{label}#{n}", llm, meta, line=line)


def examples() -> list[Example]:
    found: list[Example] = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        found.extend(_markdown_examples(path, str(path.relative_to(ROOT)), {}))
    for folder in (ROOT / "config", ROOT / "auto_router" / "config" / "starter_files"):
        found.append(
            Example(
                str(folder.relative_to(ROOT)),
                (folder / "llm_config.toml").read_text(encoding="utf-8"),
                (folder / "provider_metadata.toml").read_text(encoding="utf-8"),
            )
        )
    if REFERENCE.is_dir():
        for path in sorted(REFERENCE.glob("*.md")):
            found.extend(_markdown_examples(path, path.name, REFERENCE_FRAGMENTS))
        example = REFERENCE / "auto-coder-llm_config.example.toml"
        found.append(Example(example.name, example.read_text(encoding="utf-8"), "", legacy=True))
    return found


def _params() -> list[Any]:
    params = []
    for example in examples():
        params.append(pytest.param(example, id=example.where))
    return params


# ------------------------------------------------------------------ loading


def _dummy_env(text: str) -> dict[str, str]:
    """A value for each ``${VAR}`` without a default (a default is used as written)."""
    env: dict[str, str] = {}
    for name, default in _VARIABLE.findall(text):
        if not default:
            env[name] = f"test-value-of-{name.lower()}"
    return env


def _load(example: Example, tmp_path: Path) -> tuple[Config, str]:
    """The configuration, and the provider_metadata.toml text it came from."""
    paths = Paths(tmp_path / "home", tmp_path / "home")
    if not example.legacy:
        return parse_config(paths, example.llm, example.meta), example.meta
    source = tmp_path / "llm_config.toml"
    source.write_text(example.llm, encoding="utf-8")
    plan = plan_migration(paths, Sources(llm_config=source))
    return parse_config(paths, plan.new[0], plan.new[1]), plan.new[1] or ""


# ------------------------------------------------------------------ hosts


def _host(url: str | None) -> str | None:
    return (urlparse(url).hostname or None) if url else None


def _named_hosts(meta: str, provider: ProviderConfig) -> set[str]:
    """The hosts a provider's own table names: in its values (``${VAR:-default}`` included),
    the documented base URL of the ``type`` it writes, Google's for ``GEMINI_API_KEY``."""
    table = tomllib.loads(meta).get(provider.backend, {}).get(provider.name, {})
    hosts = {m.lower().strip("[]") for m in _URL_HOST.findall(_strings(table))}
    if "type" in table:
        hosts.add(str(_host(DEFAULT_BASE_URLS.get(provider.type))))
    if "GEMINI_API_KEY" in table:
        hosts.add(str(_host(DEFAULT_BASE_URLS["gemini"])))
    return hosts


def _strings(value: Any) -> str:
    """Every string in a TOML value (comments are not values), one per line."""
    if isinstance(value, dict):
        return "\n".join(_strings(v) for v in value.values())
    if isinstance(value, list):
        return "\n".join(_strings(v) for v in value)
    return value if isinstance(value, str) else ""


def _providers(config: Config) -> Iterator[ProviderConfig]:
    for name in config.backends:
        yield from config.enabled_providers_of(name)


def _launcher_hosts(config: Config, env: dict[str, str], tmp_path: Path) -> dict[str, set[str]]:
    """Per backend/provider: the hosts a direct run points the agent at."""
    found: dict[str, set[str]] = {}
    for name, backend in config.backends.items():
        providers = config.enabled_providers_of(name)
        if not backend.enabled or not providers:
            continue
        agent = agent_for(backend, (backend.command,) if backend.command else None)
        if decide(config, backend, agent, providers, None).via_proxy:
            continue  # the agent talks to the local proxy only: see _proxy_hosts
        for provider in providers:
            if provider.command:
                continue  # the user's own program: it calls what it calls
            found[provider.key] = _direct_hosts(config, name, provider, env, tmp_path)
    return found


def _direct_hosts(
    config: Config, backend: str, provider: ProviderConfig, env: dict[str, str], tmp: Path
) -> set[str]:
    try:
        child = plan_child(config, backend, provider, None, env, tmp)
    except NoCommandError:
        child = plan_child(config, backend, provider, ("some-client",), env, tmp)
    text = "\n".join([*child.overlay.values(), *child.argv])
    hosts = {m.lower() for m in _URL_HOST.findall(text)}
    if not hosts:  # pointed at nothing: the agent calls its own default endpoint
        default = _AGENT_DEFAULT.get(child.agent.name, DEFAULT_BASE_URLS["openai"])
        hosts = {str(_host(default))}
    return hosts


def _proxy_hosts(config: Config) -> dict[str, set[str]]:
    """Per backend/provider: the hosts the proxy would call for a request to that backend."""
    router = Router(config, MemoryStateStore())
    found: dict[str, set[str]] = {}
    for name in config.backends:
        for family in ("openai", "anthropic", "gemini"):
            for target in router.plan(name, family).candidates:
                if target.broken:
                    continue
                key = f"{target.backend}/{target.provider}"
                urls = [*target.urls.values(), target.gemini_prefix]
                found.setdefault(key, set()).update(h for h in map(_host, urls) if h)
    return found


# ------------------------------------------------------------------ the test


def test_the_examples_are_found() -> None:
    found = [e.where for e in examples()]
    assert "README.md#1" in found and "config" in found
    assert "auto_router/config/starter_files" in found
    # The two key-reference blocks are marked <!-- fragment -->; the one left is the
    # provider-kinds example (a cc-switch-style table).
    assert [w for w in found if w.startswith("docs/configuration.md")] == [
        "docs/configuration.md#1"
    ]
    if not REFERENCE.is_dir():
        message = f"auto-coder's documentation is not at {REFERENCE}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)  # .ci/run's checkout has shared/ beside it
        pytest.skip(message)
    assert "auto-coder-llm_config.example.toml" in found
    assert "auto-coder-qwen-provider-management.md#2" in found


@pytest.mark.parametrize("example", _params())
def test_documented_configuration_calls_only_hosts_it_names(
    example: Example, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = _dummy_env(example.text)
    for name, value in env.items():
        monkeypatch.setenv(name, value)  # the proxy resolves from the process environment
    config, meta = _load(example, tmp_path)
    providers = {p.key: p for p in _providers(config)}
    problems = []
    for side, hosts in (
        ("launcher", _launcher_hosts(config, env, tmp_path)),
        ("proxy", _proxy_hosts(config)),
    ):
        for key, called in sorted(hosts.items()):
            unnamed = called - _named_hosts(meta, providers[key])
            if unnamed:
                problems.append(f"{side}: {key} would call {sorted(unnamed)}")
    assert not problems, f"the example at line {example.line}:\n" + "\n".join(problems)
