"""Where auto-router keeps its files.

One override for everything: ``--config-dir`` on the CLI, else ``AUTO_ROUTER_HOME``, puts both
the configuration files and the data (state database) in that directory. Otherwise the
platformdirs user config and user data directories for the app name ``auto-router`` are used.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

APP_NAME = "auto-router"
HOME_ENV = "AUTO_ROUTER_HOME"
LLM_CONFIG_NAME = "llm_config.toml"
PROVIDER_METADATA_NAME = "provider_metadata.toml"
DATABASE_NAME = "auto-router.db"


@dataclass(frozen=True)
class Paths:
    config_dir: Path
    data_dir: Path

    @property
    def llm_config(self) -> Path:
        return self.config_dir / LLM_CONFIG_NAME

    @property
    def provider_metadata(self) -> Path:
        return self.config_dir / PROVIDER_METADATA_NAME

    @property
    def database(self) -> Path:
        return self.data_dir / DATABASE_NAME


def resolve_paths(
    config_dir: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Paths:
    """The paths in force: explicit directory, else ``AUTO_ROUTER_HOME``, else platform defaults."""
    env = os.environ if environ is None else environ
    override = config_dir if config_dir is not None else env.get(HOME_ENV) or None
    if override is not None:
        home = Path(override).expanduser()
        return Paths(config_dir=home, data_dir=home)
    import platformdirs  # only when no directory is given (it costs start-up time)

    return Paths(
        config_dir=Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)),
        data_dir=Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)),
    )
