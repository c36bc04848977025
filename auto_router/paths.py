"""Where auto-router keeps its files.

One override for everything: ``--config-dir`` on the CLI, else ``AUTO_ROUTER_HOME``, puts both
the configuration files and the data (state database) in that directory. Otherwise the
platformdirs user config and user data directories for the app name ``auto-router`` are used.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
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
    if sys.platform.startswith("linux") and "ANDROID_DATA" not in env:
        # The XDG rule platformdirs applies on Linux, without importing it: platformdirs
        # imports tempfile and its platform tables, ~20 ms of every `status` (a test checks
        # both agree).
        return Paths(
            config_dir=_xdg_home("XDG_CONFIG_HOME", ".config", env) / APP_NAME,
            data_dir=_xdg_home("XDG_DATA_HOME", ".local/share", env) / APP_NAME,
        )
    import platformdirs  # only when no directory is given (it costs start-up time)

    return Paths(
        config_dir=Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)),
        data_dir=Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)),
    )


def _xdg_home(variable: str, default: str, env: Mapping[str, str]) -> Path:
    """An XDG base directory: ``$variable`` when it is absolute (the spec ignores relative
    ones), else ``default`` under the home directory."""
    value = env.get(variable, "")
    if os.path.isabs(value):
        return Path(value)
    home = env.get("HOME", "")
    if not os.path.isabs(home):  # unset or relative: the account's home, as platformdirs does
        import pwd

        home = pwd.getpwuid(os.getuid()).pw_dir
    return Path(home) / default


#: Modes of everything auto-router writes that can hold a secret or a prompt.
PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def ensure_private_dir(directory: Path) -> None:
    """Create ``directory`` (and parents) as 0700; tighten it if others can read it.

    The home directory is never changed (``AUTO_ROUTER_HOME=~`` would otherwise lock the
    user's own home), nor a directory owned by someone else (the files inside are 0600).
    """
    directory.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
    info = directory.stat()
    if stat.S_IMODE(info.st_mode) & 0o077 == 0 or directory.resolve() == Path.home().resolve():
        return
    if info.st_uid == os.getuid():
        with contextlib.suppress(OSError):
            os.chmod(directory, stat.S_IMODE(info.st_mode) & PRIVATE_DIR)


def ensure_private_file(path: Path) -> None:
    """Create ``path`` empty as 0600 if missing; drop group/other bits if present.

    Never opens an existing file: for SQLite files, closing any descriptor of a database
    releases every POSIX lock this process holds on it, which corrupts it under load.
    """
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))
        return
    except FileExistsError:
        tighten_file(path)


def tighten_file(path: Path) -> None:
    """Drop group/other permissions of an existing file, by path (no descriptor opened)."""
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        with contextlib.suppress(PermissionError):  # not ours: it stays as its owner set it
            os.chmod(path, mode & PRIVATE_DIR)
