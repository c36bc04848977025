"""Importing the layouts of the tools auto-router replaces.

- auto-coder's ``~/.auto-coder/llm_config.toml`` and ``provider_metadata.toml``: copied with
  their comments. auto-coder's own layout is converted where it differs: top-level backend
  tables (``[qwen]``) become ``[backends.qwen]`` (header rewritten in place, comments kept),
  ``backend_type`` becomes ``agent`` (following ``backend_type = "<parent>"`` inheritance),
  ``options`` become ``args``, and credentials in a backend (``openai_api_key`` /
  ``openai_base_url``, ``api_key`` / ``base_url``) move into a provider table of that backend.
  ``[backend]`` stays: auto-router reads it like ``[message_backend]``.
- ``qwen-providers.toml`` (``[[qwen.providers]]`` entries or top-level tables): one
  ``[qwen.<name>]`` table each.
- a provider-router ``.env``: ``lm-studio``, ``qwen-proxy`` and ``qwen-direct`` providers of
  one backend, ``DEFAULT_PROVIDER`` first; ``REQUEST_TIMEOUT`` (ms) as ``timeout`` (s);
  ``MODEL_MAPPINGS`` as ``[proxy.models]`` entries ``"model" = "backend/provider"``.

``plan_migration`` computes the new texts (nothing written); ``apply_migration`` writes them
through ``editing.replace_texts`` (validated, locked, atomic), refusing to overwrite existing
files unless ``force``, in which case the old files are first copied to ``<file>.bak``.
"""

from __future__ import annotations

import difflib
import re
import shutil
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlparse

import tomlkit
from tomlkit.items import SingleKey, Table

from ..config import PROVIDER_SETTING_KEYS
from ..config.identifiers import is_identifier
from ..editing import (
    Documents,
    EditResult,
    add_table,
    new_provider_table,
    read_texts,
    rename_headers,
    replace_texts,
    set_key,
    validate_texts,
)
from ..errors import AlreadyExistsError, ConfigError
from ..paths import Paths
from ..secrets import looks_secret, mask

#: Top-level tables of an llm_config.toml that are not backends.
_SECTIONS: Final = frozenset(
    {
        "backends",
        "backend",
        "message_backend",
        "proxy",
        "backend_for_noedit",
        "backend_with_high_score",
    }
)
_CREDENTIALS: Final = (("openai_api_key", "openai_base_url"), ("api_key", "base_url"))
_TYPE_OF_AGENT: Final = {"gemini": "gemini", "claude": "anthropic"}


@dataclass(frozen=True)
class Sources:
    """Where to import from; ``None`` (or a missing file) means nothing to import there."""

    llm_config: Path | None = None
    provider_metadata: Path | None = None
    qwen_providers: Path | None = None
    env_file: Path | None = None
    #: The backend the .env's providers go to.
    env_backend: str = "qwen"

    @classmethod
    def defaults(cls, auto_coder_dir: Path | None = None, env_file: Path | None = None) -> Sources:
        base = auto_coder_dir or Path.home() / ".auto-coder"
        return cls(
            llm_config=base / "llm_config.toml",
            provider_metadata=base / "provider_metadata.toml",
            qwen_providers=base / "qwen-providers.toml",
            env_file=env_file,
        )


@dataclass(frozen=True)
class Plan:
    old: tuple[str | None, str | None]
    new: tuple[str | None, str | None]
    imported: tuple[Path, ...]
    notes: tuple[str, ...] = field(default=())

    @property
    def changes(self) -> bool:
        return any(n is not None and n != o for o, n in zip(self.old, self.new, strict=True))

    def diff(self, paths: Paths) -> str:
        out: list[str] = []
        for path, old, new in zip(
            (paths.llm_config, paths.provider_metadata), self.old, self.new, strict=True
        ):
            if new is None or new == old:
                continue
            out.extend(
                difflib.unified_diff(
                    (old or "").splitlines(keepends=True),
                    new.splitlines(keepends=True),
                    f"{path} (current)" if old is not None else "/dev/null",
                    f"{path} (migrated)",
                )
            )
        return "".join(_mask_line(line if line.endswith("\n") else line + "\n") for line in out)


_ASSIGNMENT: Final = re.compile(
    r"""^([+\- ]\s*)([A-Za-z0-9_.\-"']+)(\s*=\s*)(["'])(.*)\4(.*)$""", re.S
)


def _mask_line(line: str) -> str:
    """A diff line with a literal credential value masked (``${VAR}`` references kept)."""
    match = _ASSIGNMENT.match(line)
    if match is None:
        return line
    lead, key, eq, quote, value, rest = match.groups()
    if not looks_secret(key.strip("\"'")) or "${" in value or not value:
        return line
    return f"{lead}{key}{eq}{quote}{mask(value)}{quote}{rest}"


def plan_migration(paths: Paths, sources: Sources) -> Plan:
    """The files the migration would write, validated; nothing is written."""
    notes: list[str] = []
    imported: list[Path] = []
    llm_text = _read(sources.llm_config, imported)
    meta_text = _read(sources.provider_metadata, imported)
    llm = tomlkit.parse(_convert_headers(llm_text, sources.llm_config) if llm_text else "")
    meta = tomlkit.parse(meta_text or "")
    docs = Documents(paths, llm, meta)
    if llm_text:
        _convert_backends(docs, llm_text, sources.llm_config, notes)
    qwen_text = _read(sources.qwen_providers, imported)
    if qwen_text is not None and sources.qwen_providers is not None:
        _import_qwen_providers(docs, qwen_text, sources.qwen_providers, notes)
    env_text = _read(sources.env_file, imported)
    if env_text is not None:
        _import_env(docs, parse_env(env_text), sources.env_backend, notes)
    if not imported:
        raise ConfigError(
            "nothing to migrate: none of the source files exist",
            hint="point at them with --from DIR, --env-file FILE or --qwen-providers FILE",
        )
    new_llm = docs.llm.as_string() or None
    new_meta = docs.metadata.as_string() or None
    try:
        validate_texts(paths, new_llm, new_meta)
    except ConfigError as exc:
        raise ConfigError(
            f"the migrated configuration would not be valid: {exc.detail}",
            key_path=exc.key_path,
            hint="fix the source file, or migrate and then `auto-router config edit`",
        ) from None
    return Plan(read_texts(paths), (new_llm, new_meta), tuple(imported), tuple(notes))


def apply_migration(paths: Paths, plan: Plan, *, force: bool = False) -> EditResult:
    """Write the plan. Existing files are kept unless ``force`` (then backed up to .bak)."""
    targets = (paths.llm_config, paths.provider_metadata)
    existing = [
        p
        for p, old, new in zip(targets, plan.old, plan.new, strict=True)
        if old is not None and old.strip() and new is not None and new != old
    ]
    if existing and not force:
        raise AlreadyExistsError(
            f"{existing[0]} already exists and would be overwritten",
            hint="see the changes with --dry-run; add --force to replace it (a .bak copy is kept)",
        )
    for path in existing:
        try:
            shutil.copy2(path, path.with_name(path.name + ".bak"))
        except OSError as exc:
            raise ConfigError(f"cannot back up: {exc}", path=path) from exc
    return replace_texts(paths, plan.new[0], plan.new[1], expected=plan.old)


# --------------------------------------------------------------------------- auto-coder


def _read(path: Path | None, imported: list[Path]) -> str | None:
    if path is None:
        return None
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read file: {exc}", path=path) from exc
    try:
        tomllib.loads(text) if path.suffix == ".toml" else None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML: {exc}", path=path) from exc
    imported.append(path)
    return text


def _legacy_backends(data: Mapping[str, Any]) -> list[str]:
    return [
        k
        for k, v in data.items()
        if isinstance(v, dict) and k not in _SECTIONS and is_identifier(k)
    ]


def _convert_headers(text: str, path: Path | None) -> str:
    for name in _legacy_backends(tomllib.loads(text)):
        text = rename_headers(text, (name,), ("backends", name))
    return text


def _convert_backends(docs: Documents, original: str, path: Path | None, notes: list[str]) -> None:
    data = tomllib.loads(original)
    legacy = {name: data[name] for name in _legacy_backends(data)}
    for name, raw in legacy.items():
        table = docs.declared_backend(name)
        if table is None:
            notes.append(f"[{name}]: not converted (not a plain table)")
            continue
        agent, parent = _resolve_agent(name, legacy)
        if "backend_type" in table:
            _rename_key(table, "backend_type", "agent")
            table["agent"] = agent
        if "options" in table:
            _rename_key(table, "options", "args")
        elif parent is not None and "options" in legacy[parent]:
            set_key(table, "args", list(legacy[parent]["options"]))
        creds = _credentials(raw) or (_credentials(legacy[parent]) if parent else [])
        for key_name, url_name in _CREDENTIALS:
            for key in (key_name, url_name):
                if key in table:
                    del table[key]
        providers: list[str] = []
        for api_key, base_url in creds:
            provider = _unique(_name_from_url(base_url), providers)
            settings: dict[str, Any] = {"type": _type_for(agent, base_url)}
            if base_url:
                settings["base_url"] = base_url
            if api_key:
                settings["api_key"] = api_key
            if settings["type"] == "azure-openai":
                version = _option(raw.get("options") or [], "api_version")
                if version:
                    settings["api_version"] = version
                if raw.get("model"):
                    settings["deployment"] = raw["model"]
            settings["description"] = f"imported from auto-coder [{name}]"
            _add_provider_table(docs, name, provider, settings)
            providers.append(provider)
        if providers:
            existing = list(table.get("providers", []))
            set_key(table, "providers", existing + [p for p in providers if p not in existing])
            notes.append(f"[{name}]: credentials moved to provider {name}/{', '.join(providers)}")
        notes.append(f"[{name}] -> [backends.{name}] (agent {agent})")


def _resolve_agent(name: str, legacy: Mapping[str, Any]) -> tuple[str, str | None]:
    """The agent CLI behind ``backend_type`` and the parent backend it inherits from."""
    seen = {name}
    kind = str(legacy[name].get("backend_type") or name)
    parent: str | None = None
    while kind in legacy and kind not in seen and kind != name:
        parent = parent or kind
        seen.add(kind)
        kind = str(legacy[kind].get("backend_type") or kind)
    return kind, parent


def _credentials(raw: Mapping[str, Any]) -> list[tuple[str | None, str | None]]:
    found = []
    for key_name, url_name in _CREDENTIALS:
        key, url = raw.get(key_name), raw.get(url_name)
        if key or url:
            found.append((key, url))
    return found


def _type_for(agent: str, base_url: str | None) -> str:
    if base_url and ".openai.azure.com" in base_url:
        return "azure-openai"
    if base_url and "dashscope" in base_url:
        return "qwen-direct"
    return _TYPE_OF_AGENT.get(agent, "openai")


def _name_from_url(url: str | None) -> str:
    host = urlparse(url or "").hostname or ""
    if host.endswith(".openai.azure.com"):
        return "azure"
    parts = [p for p in host.split(".") if p not in ("api", "www", "com", "ai", "io", "net")]
    name = (parts[-1] if parts and host.count(".") >= 1 else "").lower()
    if name == "googleapis":
        return "google"
    return name if is_identifier(name) else "default"


def _unique(name: str, taken: list[str]) -> str:
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f"{name}-{n}", n + 1
    return candidate


def _option(options: list[Any], name: str) -> str | None:
    for i in range(len(options) - 2):
        if options[i] == "-o" and options[i + 1] == name:
            return str(options[i + 2])
    return None


def _rename_key(table: Table, old: str, new: str) -> None:
    body = table.value.body
    for index, (key, item) in enumerate(body):
        if key is not None and key.key == old:
            body[index] = (SingleKey(new), item)
    table.value._map[SingleKey(new)] = table.value._map.pop(SingleKey(old))


def _add_provider_table(
    docs: Documents, backend: str, provider: str, settings: Mapping[str, Any]
) -> bool:
    if docs.provider_table(backend, provider) is not None:
        return False
    lower = {k: v for k, v in settings.items() if not k.isupper()}
    upper = {k: str(v) for k, v in settings.items() if k.isupper()}
    group = docs.provider_group(backend)
    if group is None:
        add_table(docs.metadata, backend, tomlkit.table(is_super_table=True))
        group = docs.metadata[backend]
    add_table(group, provider, new_provider_table(lower, upper))
    return True


# --------------------------------------------------------------------------- qwen-providers.toml


def _import_qwen_providers(docs: Documents, text: str, path: Path, notes: list[str]) -> None:
    data = tomllib.loads(text)
    entries: list[tuple[str, dict[str, Any]]] = []
    listed = data.get("qwen", {}).get("providers") if isinstance(data.get("qwen"), dict) else None
    if isinstance(listed, list):
        for index, entry in enumerate(listed, start=1):
            if isinstance(entry, dict):
                entries.append((str(entry.get("name") or f"provider-{index}"), dict(entry)))
    for key, value in data.items():
        if isinstance(value, dict) and key != "qwen":
            entries.append((key, dict(value)))
    for name, entry in entries:
        entry.pop("name", None)
        provider = re.sub(r"[^a-z0-9._-]+", "-", name.lower()).strip("-._") or "provider"
        settings = {k: v for k, v in entry.items() if k.isupper() or k in PROVIDER_SETTING_KEYS}
        skipped = sorted(set(entry) - set(settings))
        settings.setdefault("type", _type_for("qwen", entry.get("base_url")))
        settings.setdefault("description", f"imported from {path.name}")
        if _add_provider_table(docs, "qwen", provider, settings):
            _append_to_order(docs, "qwen", provider)
            notes.append(f"{path.name}: [{name}] -> [qwen.{provider}]")
        else:
            notes.append(f"{path.name}: [{name}] skipped, qwen/{provider} exists already")
        if skipped:
            notes.append(f"{path.name}: [{name}]: unknown keys not imported: {', '.join(skipped)}")


def _append_to_order(docs: Documents, backend: str, provider: str) -> None:
    declared = docs.declared_backend(backend)
    providers = None if declared is None else declared.get("providers")
    if isinstance(providers, list) and provider not in providers:
        providers.append(provider)


# --------------------------------------------------------------------------- .env


def parse_env(text: str) -> dict[str, str]:
    """A dotenv file's ``KEY=VALUE`` lines (``export``, quotes and ``#`` comments handled)."""
    values: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if value[:1] in ("'", '"') and value.endswith(value[0]) and len(value) > 1:
            value = value[1:-1]
        else:
            value = value.split(" #", 1)[0].strip()
        values[key.strip()] = value
    return values


def _import_env(docs: Documents, env: Mapping[str, str], backend: str, notes: list[str]) -> None:
    timeout: float | None = None
    if env.get("REQUEST_TIMEOUT", "").isdigit():
        timeout = int(env["REQUEST_TIMEOUT"]) / 1000
    mappings = _model_mappings(env.get("MODEL_MAPPINGS", ""))
    wanted = {env.get("DEFAULT_PROVIDER", ""), *mappings.values()}
    candidates: dict[str, dict[str, Any]] = {}
    if env.get("LM_STUDIO_BASE_URL") or "lm-studio" in wanted:
        candidates["lm-studio"] = {
            "type": "lm-studio",
            "base_url": env.get("LM_STUDIO_BASE_URL") or "http://127.0.0.1:1234/v1",
            "model": env.get("LM_STUDIO_DEFAULT_MODEL"),
        }
    if env.get("QWEN_PROXY_BASE_URL") or "qwen-proxy" in wanted:
        url = (env.get("QWEN_PROXY_BASE_URL") or "http://localhost:3000").rstrip("/")
        candidates["qwen-proxy"] = {
            "type": "qwen-proxy",
            "base_url": url if url.endswith("/v1") else url + "/v1",
        }
    if env.get("QWEN_API_KEY") or env.get("QWEN_BASE_URL") or "qwen-direct" in wanted:
        candidates["qwen-direct"] = {
            "type": "qwen-direct",
            "base_url": env.get("QWEN_BASE_URL")
            or "https://dashscope.aliyuncs.com/compatible-mode/v1",
            "api_key": env.get("QWEN_API_KEY") or "${QWEN_API_KEY}",
        }
    default = env.get("DEFAULT_PROVIDER")
    order = sorted(candidates, key=lambda n: n != default)
    added: list[str] = []
    for name in order:
        settings = {k: v for k, v in candidates[name].items() if v}
        settings["description"] = "imported from the provider-router .env"
        if timeout is not None:
            settings["timeout"] = timeout
        if _add_provider_table(docs, backend, name, settings):
            added.append(name)
        else:
            notes.append(f".env: {backend}/{name} exists already, skipped")
    if added:
        declared = docs.ensure_declared_backend(backend)
        existing = [str(v) for v in declared.get("providers", docs.provider_names(backend))]
        merged = [p for p in existing if p not in added]
        if default in added:
            merged = [default, *[p for p in merged if p != default]]
            merged += [p for p in added if p != default]
        else:
            merged += added
        set_key(declared, "providers", [p for p in dict.fromkeys(merged)])
        notes.append(f".env: providers {', '.join(added)} -> backend {backend}")
    if mappings:
        proxy = docs.llm.get("proxy")
        if proxy is None:
            add_table(docs.llm, "proxy", tomlkit.table())
            proxy = docs.llm["proxy"]
        # The Node router sent a model to one provider: "backend/provider" pins it the same way.
        table = tomlkit.inline_table()
        table.update({model: f"{backend}/{p}" for model, p in mappings.items()})
        set_key(proxy, "models", table)
        notes.append(".env: MODEL_MAPPINGS -> [proxy].models")


def _model_mappings(text: str) -> dict[str, str]:
    result: dict[str, str] = {}
    for pair in text.split(","):
        model, sep, provider = pair.strip().partition(":")
        if sep and model and provider:
            result[model.strip()] = provider.strip()
    return result
