"""The migration as a whole: where to read from, what would change, and writing it.

``plan_migration`` reads the sources, converts each with its layout's module
(``auto_coder``, ``qwen_providers``, ``dotenv``, ``claude_code_router``, ``cc_switch``) into
the two documents, and validates the result; nothing is written. auto-coder's files *replace*
the configuration; claude-code-router's and cc-switch's providers alone are *added* to the
current files (comments and everything else kept), so importing them needs no ``force``.
``apply_migration`` writes a plan through ``editing.replace_texts`` (validated, locked,
atomic, refused if the files changed since the plan was made), refusing to overwrite existing
files unless ``force``, in which case the old files are first copied to ``<file>.bak``.
"""

from __future__ import annotations

import difflib
import re
import shutil
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import tomlkit

from ..editing import Documents, EditResult, read_texts, replace_texts, validate_texts
from ..editing.tomlhelpers import parse_document, tidy
from ..errors import AlreadyExistsError, ConfigError
from ..paths import Paths
from ..secrets import looks_secret, mask
from .auto_coder import convert_backends, convert_headers
from .cc_switch import import_cc_switch
from .claude_code_router import import_claude_code_router
from .dotenv import import_env, parse_env
from .qwen_providers import import_qwen_providers


@dataclass(frozen=True)
class Sources:
    """Where to import from; ``None`` (or a missing file) means nothing to import there."""

    llm_config: Path | None = None
    provider_metadata: Path | None = None
    qwen_providers: Path | None = None
    env_file: Path | None = None
    #: The backend the .env's providers go to.
    env_backend: str = "qwen"
    #: claude-code-router's config.json, and the backend its providers go to.
    claude_code_router: Path | None = None
    ccr_backend: str = "claude"
    #: cc-switch's cc-switch.db (newer) or config.json (older).
    cc_switch: Path | None = None

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
    #: Built on the current files (only additions): applying it overwrites nothing.
    merged: bool = False

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
    docs, merged = _base_documents(paths, sources, imported, notes)
    for source, read_one in (
        (sources.claude_code_router, _import_ccr),
        (sources.cc_switch, import_cc_switch),
    ):
        if source is not None:
            read_one(docs, _required(source), sources, notes)
            imported.append(source)
    if not imported:
        raise ConfigError(
            "nothing to migrate: none of the source files exist",
            hint="point at them with --from DIR, --env-file FILE, --qwen-providers FILE, "
            "--claude-code-router [FILE] or --cc-switch [FILE]",
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
    old = read_texts(paths)
    if merged:
        new_llm, new_meta = _tidy(old[0], new_llm), _tidy(old[1], new_meta)
    return Plan(old, (new_llm, new_meta), tuple(imported), tuple(notes), merged)


def _base_documents(
    paths: Paths, sources: Sources, imported: list[Path], notes: list[str]
) -> tuple[Documents, bool]:
    """auto-coder's files converted (they replace the config), else the current files."""
    llm_text = _read(sources.llm_config, imported)
    meta_text = _read(sources.provider_metadata, imported)
    qwen_text = _read(sources.qwen_providers, imported)
    env_text = _read(sources.env_file, imported)
    if not imported:
        current_llm, current_meta = read_texts(paths)
        llm = parse_document(current_llm or "", paths.llm_config)
        meta = parse_document(current_meta or "", paths.provider_metadata)
        return Documents(paths, llm, meta), True
    llm = tomlkit.parse(convert_headers(llm_text, sources.llm_config) if llm_text else "")
    docs = Documents(paths, llm, tomlkit.parse(meta_text or ""))
    if llm_text:
        convert_backends(docs, llm_text, sources.llm_config, notes)
    if qwen_text is not None and sources.qwen_providers is not None:
        import_qwen_providers(docs, qwen_text, sources.qwen_providers, notes)
    if env_text is not None:
        import_env(docs, parse_env(env_text), sources.env_backend, notes)
    return docs, False


def _import_ccr(docs: Documents, path: Path, sources: Sources, notes: list[str]) -> None:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read file: {exc.strerror}", path=path) from None
    import_claude_code_router(docs, _decode(data, path), path, sources.ccr_backend, notes)


def _required(path: Path) -> Path:
    """A source named on the command line: it must be there."""
    if not path.is_file():
        raise ConfigError(
            "no such file" if not path.exists() else "not a file",
            path=path,
            hint="give the file's path after the option",
        )
    return path


def _decode(data: bytes, path: Path) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 text: {exc.reason}", path=path) from None


def _tidy(before: str | None, after: str | None) -> str | None:
    return None if after is None else tidy(before, after)


def apply_migration(paths: Paths, plan: Plan, *, force: bool = False) -> EditResult:
    """Write the plan. Existing files are kept unless ``force`` (then backed up to .bak)."""
    targets = (paths.llm_config, paths.provider_metadata)
    existing = [
        p
        for p, old, new in zip(targets, plan.old, plan.new, strict=True)
        if old is not None and old.strip() and new is not None and new != old
    ]
    if plan.merged:
        existing = []  # only additions: nothing of the user's is lost
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
