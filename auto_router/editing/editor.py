"""``config edit``: edit a copy of one file in an editor; save it only if the pair stays valid."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..config.filesafety import read_text
from ..errors import ConfigError, ConfigValidationError, EditConflictError
from ..paths import Paths
from .transaction import EditResult, read_texts, replace_texts


@dataclass(frozen=True)
class EditorOutcome:
    saved: bool
    #: Where the rejected text was kept when the edit was abandoned invalid.
    kept_at: Path | None = None
    result: EditResult | None = None


def edit_with_editor(
    paths: Paths,
    which: str,
    run_editor: Callable[[Path], None],
    retry: Callable[[ConfigError], bool],
) -> EditorOutcome:
    """``config edit``: let the user edit a copy; save it only if both files stay valid.

    ``which`` is ``"llm_config"`` or ``"provider_metadata"``. ``run_editor(path)`` edits the
    copy; when the result is invalid, ``retry(error)`` says whether to re-open it. The file is
    never left invalid: an abandoned edit raises ``ConfigValidationError`` with the rejected
    text kept in a temp file (named in the hint), and the original file is as it was.
    """
    if which not in ("llm_config", "provider_metadata"):
        raise ConfigValidationError(
            f"no configuration file {which!r}", hint="llm_config or provider_metadata"
        )
    start = read_texts(paths)
    index = 0 if which == "llm_config" else 1
    target = (paths.llm_config, paths.provider_metadata)[index]
    original = start[index]
    if original is None:
        from ..config.starter import starter_text

        original = starter_text(target.name)
    workdir = Path(tempfile.mkdtemp(prefix="auto-router-edit-"))
    copy = workdir / target.name
    copy.write_bytes(original.encode("utf-8"))
    os.chmod(copy, 0o600)
    while True:
        run_editor(copy)
        text = read_text(copy) or ""
        if text == start[index]:
            _cleanup(workdir)
            return EditorOutcome(saved=False)
        texts = (text, None) if index == 0 else (None, text)
        try:
            result = replace_texts(paths, *texts, expected=start)
        except EditConflictError as exc:
            exc.hint = f"your version is kept at {copy}; run the command again"
            raise
        except ConfigError as exc:
            if retry(exc):
                continue
            error = ConfigValidationError(
                f"not saved, the edited file is invalid: {exc.detail}",
                path=target,
                key_path=exc.key_path,
                hint=f"{target} is unchanged; your version is kept at {copy}",
            )
            error.problems = exc.problems
            raise error from None
        _cleanup(workdir)
        return EditorOutcome(saved=True, result=result)


def _cleanup(workdir: Path) -> None:
    for child in workdir.iterdir():
        with contextlib.suppress(OSError):
            child.unlink()
    with contextlib.suppress(OSError):
        workdir.rmdir()
