"""One locked, validated, atomic edit of the configuration pair.

Every write goes through ``_transaction``:

1. take the exclusive locks of both files (``filesafety.lock_files``), finish an edit a dead
   writer had committed (``filesafety.finish_pending``) and remove temp files of one that had
   not, the journal's included (``filesafety.remove_orphans``);
2. read both files *under the locks*, so concurrent edits compose instead of overwriting each
   other;
3. build the new texts and validate them together with ``config.parse_config`` (the whole
   configuration, ``[proxy]`` included): an invalid result raises ``ConfigValidationError``
   ("edit refused: ...") and no file is touched;
4. write the changed files as one (``filesafety.write_pair``: temp files, journal, renames).
"""

from __future__ import annotations

import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.items import Array
from tomlkit.toml_document import TOMLDocument

from ..config import BACKEND_SECTIONS, Config, parse_config
from ..config.filesafety import (
    StepHook,
    check_directory,
    finish_pending,
    lock_files,
    read_pair,
    read_text,
    remove_orphans,
    write_pair,
)
from ..errors import (
    BackendNotFoundError,
    ConfigError,
    ConfigValidationError,
    EditConflictError,
    ProviderNotFoundError,
)
from ..paths import Paths, ensure_private_dir
from ..secrets import looks_secret
from .tomlhelpers import add_table, child_table, is_table, parse_document, set_key, tidy


@dataclass(frozen=True)
class EditResult:
    """What an edit did: the validated configuration after it, and the files it rewrote."""

    config: Config
    #: Files rewritten; empty when the edit changed nothing (the files were not touched).
    changed: tuple[Path, ...]

    @property
    def warnings(self) -> tuple[Any, ...]:
        return self.config.warnings


@dataclass
class Documents:
    """Both files as tomlkit documents during one locked edit. Mutate ``llm``/``metadata``
    (or assign new documents) inside ``edit_config``'s ``change`` callback."""

    paths: Paths
    llm: TOMLDocument
    metadata: TOMLDocument

    # ------------------------------------------------------------------ lookups

    def backend_section_name(self) -> str:
        """``message_backend``, or the legacy ``backend`` when only that one is present."""
        for name in BACKEND_SECTIONS:
            if name in self.llm:
                return name
        return BACKEND_SECTIONS[0]

    def declared_backend(self, backend: str) -> Any | None:
        """The ``[backends.<backend>]`` table, if written."""
        backends = child_table(self.llm, "backends")
        return None if backends is None else child_table(backends, backend)

    def provider_group(self, backend: str) -> Any | None:
        """The ``[<backend>]`` super-table of provider_metadata.toml, if any."""
        return child_table(self.metadata, backend)

    def provider_table(self, backend: str, provider: str) -> Any | None:
        group = self.provider_group(backend)
        return None if group is None else child_table(group, provider)

    def backend_exists(self, backend: str) -> bool:
        declared = self.declared_backend(backend)
        return declared is not None or self.provider_group(backend) is not None

    def backend_names(self) -> list[str]:
        names: list[str] = []
        backends = child_table(self.llm, "backends")
        if backends is not None:
            names.extend(k for k, v in backends.items() if is_table(v))
        names.extend(k for k, v in self.metadata.items() if is_table(v) and k not in names)
        return names

    def provider_names(self, backend: str) -> list[str]:
        """Rotation order: the ``providers`` list if written, else the table order."""
        declared = self.declared_backend(backend)
        if declared is not None and isinstance(declared.get("providers"), list):
            return [str(v) for v in declared["providers"]]
        group = self.provider_group(backend)
        return [] if group is None else [k for k, v in group.items() if is_table(v)]

    def proxy_models(self) -> Any | None:
        """The ``[proxy.models]`` table, if written."""
        proxy = child_table(self.llm, "proxy")
        return None if proxy is None else child_table(proxy, "models")

    def models_routed_to(self, backend: str, provider: str | None = None) -> list[str]:
        """Client model names ``[proxy.models]`` sends to the backend (or to that provider)."""
        models = self.proxy_models()
        found: list[str] = []
        for model, target in (models or {}).items():
            name, _, pinned = str(target).partition("/")
            if isinstance(target, str) and name == backend and provider in (None, pinned):
                found.append(str(model))
        return found

    # ------------------------------------------------------------------ checked lookups

    def require_backend(self, backend: str) -> None:
        if not self.backend_exists(backend):
            known = ", ".join(self.backend_names()) or "none"
            raise BackendNotFoundError(
                f"no backend named {backend!r} (known: {known})",
                hint="list them with `auto-router backend list`",
            )

    def require_provider(self, backend: str, provider: str) -> Any:
        self.require_backend(backend)
        table = self.provider_table(backend, provider)
        if table is None:
            group = self.provider_group(backend)
            known = ", ".join(k for k, v in (group or {}).items() if is_table(v)) or "none"
            raise ProviderNotFoundError(
                f"backend {backend!r} has no provider {provider!r} (known: {known})",
                hint=f"list them with `auto-router provider list --backend {backend}`",
            )
        return table

    # ------------------------------------------------------------------ creating

    def ensure_declared_backend(self, backend: str) -> Any:
        """The ``[backends.<backend>]`` table, created (after the last one) when missing."""
        found = self.declared_backend(backend)
        if found is not None:
            return found
        backends = self.llm.get("backends")
        if backends is None:
            backends = tomlkit.table(is_super_table=True)
            add_table(self.llm, "backends", backends)
            backends = self.llm["backends"]
        table = tomlkit.table()
        add_table(backends, backend, table)
        return backends[backend]

    def ensure_provider_list(self, backend: str) -> Array:
        """The backend's ``providers`` array, written out from the table order if absent."""
        declared = self.ensure_declared_backend(backend)
        current = declared.get("providers")
        if isinstance(current, Array):
            return current
        array = tomlkit.array()
        array.extend(self.provider_names(backend) if current is None else [])
        set_key(declared, "providers", array)
        result = declared["providers"]
        assert isinstance(result, Array)
        return result

    def backend_section(self) -> Any:
        name = self.backend_section_name()
        section = self.llm.get(name)
        if section is None:
            add_table(self.llm, name, tomlkit.table())
            section = self.llm[name]
        return section


def edit_config(
    paths: Paths, change: Callable[[Documents], None], *, on_step: StepHook | None = None
) -> EditResult:
    """Apply ``change`` to both files as tomlkit documents, under the locks; validate; write."""

    def produce(llm_text: str | None, meta_text: str | None) -> tuple[str | None, str | None]:
        docs = Documents(
            paths,
            parse_document(llm_text or "", paths.llm_config),
            parse_document(meta_text or "", paths.provider_metadata),
        )
        change(docs)
        return (
            tidy(llm_text, docs.llm.as_string()),
            tidy(meta_text, docs.metadata.as_string()),
        )

    return _transaction(paths, produce, on_step)


def replace_texts(
    paths: Paths,
    llm_text: str | None,
    metadata_text: str | None,
    *,
    expected: tuple[str | None, str | None] | None = None,
    on_step: StepHook | None = None,
) -> EditResult:
    """Write whole files (``None`` leaves that file as it is), validated together.

    With ``expected`` (the texts the caller started from, ``None`` = absent), refuse with
    ``EditConflictError`` if either file changed meanwhile.
    """

    def produce(old_llm: str | None, old_meta: str | None) -> tuple[str | None, str | None]:
        if expected is not None and (old_llm, old_meta) != expected:
            raise EditConflictError(
                "the configuration changed on disk while you were editing it",
                hint="run the command again to start from the current files",
            )
        return (
            old_llm if llm_text is None else llm_text,
            old_meta if metadata_text is None else metadata_text,
        )

    return _transaction(paths, produce, on_step)


def read_texts(paths: Paths) -> tuple[str | None, str | None]:
    """Both files' texts exactly as on disk (``None`` when absent), as one consistent pair."""
    llm, meta = read_pair(paths.config_dir, (paths.llm_config, paths.provider_metadata))
    return llm, meta


def validate_texts(paths: Paths, llm_text: str | None, metadata_text: str | None) -> Config:
    """The configuration those texts would give; ``ConfigError`` when they are not valid."""
    return parse_config(paths, llm_text, metadata_text)


def _transaction(
    paths: Paths,
    produce: Callable[[str | None, str | None], tuple[str | None, str | None]],
    on_step: StepHook | None = None,
) -> EditResult:
    targets = (paths.llm_config, paths.provider_metadata)
    check_directory(paths.config_dir)  # something else in its place: one clear line
    try:
        ensure_private_dir(paths.config_dir)  # security: files here may hold keys
    except OSError as exc:
        raise ConfigError(f"cannot create directory: {exc}", path=paths.config_dir) from exc
    with lock_files(*targets):
        since = time.time()  # temp files older than the locks are no live writer's
        finish_pending(paths.config_dir, targets)
        remove_orphans(paths.config_dir, targets, since)
        old = (read_text(targets[0]), read_text(targets[1]))
        new = produce(*old)
        changed = [
            (path, text)
            for path, before, text in zip(targets, old, new, strict=True)
            if text is not None and text != before and not (before is None and text == "")
        ]
        written = dict(changed)
        final = (written.get(targets[0], old[0]), written.get(targets[1], old[1]))
        config = _validate(paths, final, old, refused=bool(changed))
        if changed:
            files = [(path, text, holds_literal_secret(text)) for path, text in changed]
            write_pair(paths.config_dir, files, on_step=on_step)
    return EditResult(config=config, changed=tuple(path for path, _ in changed))


def _validate(
    paths: Paths,
    texts: tuple[str | None, str | None],
    old: tuple[str | None, str | None],
    *,
    refused: bool,
) -> Config:
    try:
        return parse_config(paths, *texts)
    except ConfigError as exc:
        if not refused:
            raise
        already = False
        try:
            parse_config(paths, *old)
        except ConfigError:
            already = True
        error = ConfigValidationError(
            f"edit refused: {exc.detail}",
            path=exc.path,
            line=exc.line,
            key_path=exc.key_path,
            hint="the file on disk already has this problem; fix it with `auto-router config edit`"
            if already
            else "nothing was written",
        )
        error.problems = exc.problems
        raise error from None


def holds_literal_secret(text: str) -> bool:
    """True when a credential-like key (api_key, *_KEY, *TOKEN...) has a literal value."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return True  # cannot tell: be careful

    def walk(value: Any, name: str) -> bool:
        if isinstance(value, dict):
            return any(walk(v, k) for k, v in value.items())
        if isinstance(value, list):
            return any(walk(v, name) for v in value)
        return isinstance(value, str) and bool(value) and looks_secret(name) and "${" not in value

    return walk(data, "")
