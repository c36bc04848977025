"""The configuration as the long-lived processes hold it: re-read when a file changes."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from ..config import Config, load_config
from ..paths import Paths

Clock = Callable[[], float]


class ConfigSource:
    """The configuration, re-read when either file changes (checked by mtime and size).

    ``min_interval`` bounds how often the files are even stat()ed, so a busy proxy pays for
    two stat calls at most that often rather than on every request.
    """

    def __init__(
        self, paths: Paths, *, min_interval: float = 0.0, monotonic: Clock = time.monotonic
    ) -> None:
        self.paths = paths
        self._min_interval = min_interval
        self._monotonic = monotonic
        self._config: Config | None = None
        self._stamp: tuple[tuple[int, int] | None, ...] = ()
        self._checked_at = float("-inf")
        self.version = 0
        #: The error of the last reload that failed; the previous good config stays in force.
        self.reload_error: Exception | None = None

    def get(self) -> Config:
        now = self._monotonic()
        if self._config is not None and now - self._checked_at < self._min_interval:
            return self._config
        self._checked_at = now
        stamp = (self._stat(self.paths.llm_config), self._stat(self.paths.provider_metadata))
        if self._config is None or stamp != self._stamp:
            try:
                config = load_config(self.paths)
            except Exception as exc:
                if self._config is None:
                    raise
                self.reload_error = exc
                self._stamp = stamp
                return self._config
            self._config, self._stamp = config, stamp
            self.reload_error = None
            self.version += 1
        return self._config

    def invalidate(self) -> None:
        """Force a re-read on the next ``get`` (after the tool edited a file itself)."""
        self._stamp = ()
        self._checked_at = float("-inf")

    @staticmethod
    def _stat(path: os.PathLike[str]) -> tuple[int, int] | None:
        try:
            st = os.stat(path)
        except OSError:  # absent, or unusable (a symlink loop...): load_config says which
            return None
        return (st.st_mtime_ns, st.st_size)
