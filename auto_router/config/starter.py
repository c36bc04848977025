"""Creating the configuration files: the commented starter files shipped with the package."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from ..errors import ConfigError
from ..paths import (
    LLM_CONFIG_NAME,
    PRIVATE_FILE,
    PROVIDER_METADATA_NAME,
    Paths,
    ensure_private_dir,
)


def starter_text(name: str) -> str:
    return (
        resources.files("auto_router.config")
        .joinpath("starter_files", name)
        .read_text(encoding="utf-8")
    )


def init_config(paths: Paths) -> tuple[list[Path], list[Path]]:
    """Write the starter files that do not exist yet. Returns (written, kept as they were)."""
    written: list[Path] = []
    kept: list[Path] = []
    try:
        ensure_private_dir(paths.config_dir)
        for name in (LLM_CONFIG_NAME, PROVIDER_METADATA_NAME):
            target = paths.config_dir / name
            try:
                # O_EXCL: never overwrite, even if another process creates the file meanwhile.
                # 0600: the user fills in keys next (a literal api_key is allowed).
                fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    handle.write(starter_text(name))
            except FileExistsError:
                kept.append(target)
                continue
            written.append(target)
    except OSError as exc:
        raise ConfigError(f"cannot write starter files: {exc}", path=paths.config_dir) from exc
    return written, kept
