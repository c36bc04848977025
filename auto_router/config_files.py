"""Creating the configuration files: the commented starter files shipped with the package."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from .errors import ConfigError
from .paths import LLM_CONFIG_NAME, PROVIDER_METADATA_NAME, Paths


def starter_text(name: str) -> str:
    return resources.files("auto_router").joinpath("starter", name).read_text(encoding="utf-8")


def init_config(paths: Paths) -> tuple[list[Path], list[Path]]:
    """Write the starter files that do not exist yet. Returns (written, kept as they were)."""
    written: list[Path] = []
    kept: list[Path] = []
    try:
        paths.config_dir.mkdir(parents=True, exist_ok=True)
        for name in (LLM_CONFIG_NAME, PROVIDER_METADATA_NAME):
            target = paths.config_dir / name
            try:
                # "x": never overwrite, even if another process creates the file meanwhile.
                with target.open("x", encoding="utf-8") as handle:
                    handle.write(starter_text(name))
            except FileExistsError:
                kept.append(target)
                continue
            written.append(target)
    except OSError as exc:
        raise ConfigError(f"cannot write starter files: {exc}", path=paths.config_dir) from exc
    return written, kept
