"""cc-switch's providers for Claude Code, Codex CLI and Gemini CLI.

Where cc-switch keeps them (farion1231/cc-switch, ``src-tauri/src``):

- newer versions: the SQLite database ``~/.cc-switch/cc-switch.db``, table ``providers``
  (``database/schema.rs`` ``create_tables_on_conn``), one row per (``id``, ``app_type``),
  read in the order ``COALESCE(sort_index, 999999), created_at, id``
  (``database/dao/providers.rs`` ``get_all_providers``); the current one has ``is_current``,
  unless ``~/.cc-switch/settings.json`` names another (``currentProviderClaude`` ...:
  ``settings.rs``, "takes precedence over the database's is_current");
- older versions: ``~/.cc-switch/config.json``, ``{"version": 2, "claude": {"providers":
  {id: provider}, "current": id}, "codex": ..., "gemini": ...}`` (``app_config.rs``
  ``MultiAppConfig``, ``provider.rs`` ``ProviderManager``; v1 had ``providers``/``current`` at
  the top, for Claude only). cc-switch renames it ``config.json.migrated`` once it moved it
  into the database (``lib.rs``).

A provider's ``settingsConfig`` is the agent's own configuration (``provider.rs``
``resolve_usage_credentials``): Claude Code's ``{"env": {"ANTHROPIC_BASE_URL": ...,
"ANTHROPIC_AUTH_TOKEN": ...}}``, Codex's ``{"auth": {"OPENAI_API_KEY": ...}, "config":
"<config.toml>"}`` (``codex_config.rs`` ``extract_codex_base_url``: the active
``[model_providers.<model_provider>]``'s ``base_url``), Gemini CLI's ``{"env":
{"GOOGLE_GEMINI_BASE_URL": ..., "GEMINI_API_KEY": ..., "GEMINI_MODEL": ...}}``.

Claude and Gemini providers are written as cc-switch writes them: their variables, UPPERCASE
(auto-router reads the endpoint from them). A Claude provider whose ``meta.apiFormat`` says
the endpoint speaks OpenAI (cc-switch translates for it) becomes an ``openai`` provider.
Codex providers get ``base_url``, ``api_key`` and ``model``. A provider with nothing to point
the agent at (the "Official" ones: the agent's own login) is reported, not imported.
"""

from __future__ import annotations

import sqlite3
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from ..editing import Documents
from ..errors import ConfigError
from .jsonish import load_json
from .tables import import_providers, slug

DEFAULT_DIR: Final = Path("~/.cc-switch")
APPS: Final = ("claude", "codex", "gemini")
_SQLITE_MAGIC: Final = b"SQLite format 3\x00"
_CURRENT_KEY: Final = {app: "currentProvider" + app.capitalize() for app in APPS}
#: Claude settings consumed as the endpoint when the provider speaks OpenAI.
_ANTHROPIC_ENDPOINT: Final = ("ANTHROPIC_BASE_URL", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_API_KEY")


@dataclass(frozen=True)
class Row:
    """One cc-switch provider as stored."""

    id: str
    app: str
    name: str
    settings: Any
    meta: Any
    current: bool


def default_source(home: Path | None = None) -> Path:
    """The database when the installed version keeps one, else the older config.json."""
    base = (home / ".cc-switch") if home else DEFAULT_DIR.expanduser()
    database = base / "cc-switch.db"
    return database if database.exists() else base / "config.json"


def import_cc_switch(docs: Documents, path: Path, sources: Any, notes: list[str]) -> None:
    rows = read_rows(path)
    current = _current_overrides(path.parent / "settings.json", notes)
    label = path.name
    for app in APPS:
        mine = [r for r in rows if r.app == app]
        chosen = current.get(app) or next((r.id for r in mine if r.current), None)
        mine.sort(key=lambda r: r.id != chosen)  # the current provider first, then cc-switch's
        entries: list[tuple[str, dict[str, Any]]] = []
        for row in mine:
            where = f'{label}: {app} provider "{row.name}"'
            try:
                settings = _CONVERT[app](row, where, notes)
            except ConfigError as exc:
                raise ConfigError(
                    exc.detail, path=path, key_path=f"{app} provider {row.id!r}: settingsConfig"
                ) from None
            if settings is None:
                continue
            name = slug(row.name, slug(row.id, f"{app}-provider"))
            while name in (n for n, _ in entries):
                name += "-2"
            settings["description"] = f"imported from cc-switch ({row.name})"
            entries.append((name, settings))
        import_providers(docs, app, app, entries, label, notes)


def read_rows(path: Path) -> list[Row]:
    """Every Claude, Codex and Gemini provider in the file, in cc-switch's order."""
    try:
        with path.open("rb") as handle:
            head = handle.read(len(_SQLITE_MAGIC))
    except OSError as exc:
        raise ConfigError(f"cannot read file: {exc.strerror}", path=path) from None
    if head == _SQLITE_MAGIC:
        return _database_rows(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError):
        raise ConfigError("neither a cc-switch database nor JSON text", path=path) from None
    return _json_rows(load_json(text, path), path)


def _database_rows(path: Path) -> list[Row]:
    # Read-only: cc-switch may be running, and its database is not ours to change.
    uri = path.resolve().as_uri() + "?mode=ro"
    try:
        with sqlite3.connect(uri, uri=True) as db:
            columns = {r[1] for r in db.execute("PRAGMA table_info(providers)")}
            if not {"id", "app_type", "name", "settings_config"} <= columns:
                raise ConfigError("not a cc-switch database: it has no providers table", path=path)
            meta = "meta" if "meta" in columns else "'{}'"
            current = "is_current" if "is_current" in columns else "0"
            order = "COALESCE(sort_index, 999999), created_at ASC, id ASC"
            if "sort_index" not in columns:
                order = "id ASC"
            found = db.execute(
                f"SELECT id, app_type, name, settings_config, {meta}, {current} "
                f"FROM providers WHERE app_type IN ('claude', 'codex', 'gemini') ORDER BY {order}"
            ).fetchall()
    except sqlite3.Error as exc:
        raise ConfigError(f"cannot read the cc-switch database: {exc}", path=path) from None
    rows = []
    for id_, app, name, settings, meta, is_current in found:
        where = f"providers row {app}/{id_}"
        rows.append(
            Row(
                str(id_),
                str(app),
                str(name),
                _json_column(settings, path, f"{where}: settings_config"),
                _json_column(meta, path, f"{where}: meta"),
                bool(is_current),
            )
        )
    return rows


def _json_column(text: Any, path: Path, key_path: str) -> Any:
    try:
        return load_json(str(text or "null"), path)
    except ConfigError as exc:
        raise ConfigError(exc.detail, path=path, key_path=key_path) from None


def _json_rows(data: Any, path: Path) -> list[Row]:
    if not isinstance(data, dict):
        raise ConfigError("expected a JSON object at the top", path=path)
    if isinstance(data.get("providers"), dict) and "claude" not in data:
        data = {"claude": data}  # v1: Claude's providers at the top
    rows: list[Row] = []
    for app in APPS:
        manager = data.get(app)
        if manager is None:
            continue
        providers = manager.get("providers") if isinstance(manager, dict) else None
        if not isinstance(providers, dict):
            raise ConfigError("expected an object", path=path, key_path=f"{app}.providers")
        current = manager.get("current")
        listed = []
        for position, (id_, raw) in enumerate(providers.items()):
            if not isinstance(raw, dict):
                raise ConfigError("expected an object", path=path, key_path=f"{app}.{id_}")
            sort = raw.get("sortIndex")
            created = raw.get("createdAt")
            created = created if isinstance(created, (int, float)) else 0
            key = (sort if isinstance(sort, int) else 999999, created, position)
            row = Row(
                str(id_),
                app,
                str(raw.get("name") or id_),
                raw.get("settingsConfig"),
                raw.get("meta"),
                id_ == current,
            )
            listed.append((key, row))
        rows.extend(row for _, row in sorted(listed, key=lambda pair: pair[0]))
    return rows


def _current_overrides(path: Path, notes: list[str]) -> dict[str, str]:
    """``settings.json``'s current provider per app, which wins over ``is_current``."""
    try:
        data = load_json(path.read_bytes().decode("utf-8-sig"), path)
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, ConfigError):
        notes.append(f"{path.name}: not readable; the database's current providers are used")
        return {}
    if not isinstance(data, dict):
        return {}
    return {app: str(data[k]) for app, k in _CURRENT_KEY.items() if isinstance(data.get(k), str)}


def _env(settings: Any, where: str, notes: list[str]) -> dict[str, str]:
    """The ``env`` object as variables: non-empty values, UPPERCASE names."""
    env = settings.get("env") if isinstance(settings, dict) else None
    if not isinstance(env, dict):
        return {}
    found: dict[str, str] = {}
    skipped: list[str] = []
    for key, value in env.items():
        text = value if isinstance(value, str) else None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            text = str(value)
        elif isinstance(value, bool):
            text = "1" if value else "0"
        if not key.isupper() or text is None:
            skipped.append(key)
        elif text:
            found[key] = text.replace("$", "$$")  # the value is literal in cc-switch
    if skipped:
        notes.append(f"{where}: env not imported: {', '.join(sorted(skipped))}")
    return found


def _others(settings: Any, known: tuple[str, ...], where: str, notes: list[str]) -> None:
    if isinstance(settings, dict):
        rest = sorted(k for k, v in settings.items() if k not in known and v not in ({}, "", None))
        if rest:
            notes.append(f"{where}: not imported (the agent's own settings): {', '.join(rest)}")


def _claude(row: Row, where: str, notes: list[str]) -> dict[str, Any] | None:
    env = _env(row.settings, where, notes)
    _others(row.settings, ("env",), where, notes)
    if not env:
        notes.append(f"{where}: not imported: it uses Claude Code's own login")
        return None
    api_format = row.meta.get("apiFormat") if isinstance(row.meta, dict) else None
    if api_format not in ("openai_chat", "openai_responses") or "ANTHROPIC_BASE_URL" not in env:
        return dict(env)
    # cc-switch's proxy translated Claude Code's requests for this OpenAI endpoint; here the
    # proxy does, so it is an OpenAI provider.
    settings: dict[str, Any] = {"type": "openai", "base_url": env["ANTHROPIC_BASE_URL"]}
    key = env.get("ANTHROPIC_AUTH_TOKEN") or env.get("ANTHROPIC_API_KEY")
    if key:
        settings["api_key"] = key
    if env.get("ANTHROPIC_MODEL"):
        settings["model"] = env.pop("ANTHROPIC_MODEL")
    if api_format == "openai_responses":
        settings["responses"] = True
    settings.update({k: v for k, v in env.items() if k not in _ANTHROPIC_ENDPOINT})
    notes.append(f"{where}: speaks {api_format}: imported as an openai provider")
    return settings


def _gemini(row: Row, where: str, notes: list[str]) -> dict[str, Any] | None:
    env = _env(row.settings, where, notes)
    _others(row.settings, ("env",), where, notes)
    if not env:
        notes.append(f"{where}: not imported: it uses Gemini CLI's own login")
        return None
    return dict(env)


def _codex(row: Row, where: str, notes: list[str]) -> dict[str, Any] | None:
    settings = row.settings if isinstance(row.settings, dict) else {}
    config = _codex_config(settings.get("config"), where)
    active = str(config.get("model_provider") or "")
    providers = config.get("model_providers")
    section = providers.get(active) if isinstance(providers, dict) and active else None
    section = section if isinstance(section, dict) else {}
    base_url = section.get("base_url") or config.get("base_url")
    found = settings.get("auth")
    auth: Mapping[str, Any] = found if isinstance(found, dict) else {}
    key = auth.get("OPENAI_API_KEY") or section.get("experimental_bearer_token")
    key = key or config.get("experimental_bearer_token")
    if not key and isinstance(section.get("env_key"), str):
        key = "${" + section["env_key"] + "}"
    elif isinstance(key, str):
        key = key.strip().replace("$", "$$")
    if not isinstance(base_url, str) or not base_url:
        notes.append(f"{where}: not imported: it uses Codex's own login (no base_url)")
        return None
    result: dict[str, Any] = {"type": "openai", "base_url": base_url.replace("$", "$$")}
    if isinstance(key, str) and key:
        result["api_key"] = key
    if isinstance(config.get("model"), str):
        result["model"] = config["model"].replace("$", "$$")
    api_format = row.meta.get("apiFormat") if isinstance(row.meta, dict) else None
    if section.get("wire_api") != "chat" and api_format != "openai_chat":
        result["responses"] = True  # Codex speaks Responses to it (cc-switch's template)
    _codex_leftovers(config, section, auth, where, notes)
    return result


def _codex_config(text: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(text, str) or not text.strip():
        return {}
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # tomllib's message says where ("at line 3, column 7"), never the value.
        raise ConfigError(f"its config.toml is not valid TOML: {exc}") from None


_CODEX_USED: Final = ("model_provider", "model_providers", "model", "base_url")
_CODEX_SECTION_USED: Final = ("name", "base_url", "wire_api", "env_key", "requires_openai_auth")


def _codex_leftovers(
    config: Mapping[str, Any],
    section: Mapping[str, Any],
    auth: Mapping[str, Any],
    where: str,
    notes: list[str],
) -> None:
    rest = [k for k in config if k not in _CODEX_USED and k != "experimental_bearer_token"]
    rest += [
        f"model_providers.*.{k}"
        for k in section
        if k not in _CODEX_SECTION_USED and k != "experimental_bearer_token"
    ]
    rest += [f"auth.{k}" for k in auth if k != "OPENAI_API_KEY"]
    if rest:
        notes.append(f"{where}: not imported: {', '.join(sorted(rest))}")


_CONVERT: Final = {"claude": _claude, "codex": _codex, "gemini": _gemini}
