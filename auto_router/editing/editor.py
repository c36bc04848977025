"""``config edit``: edit a copy of one file in an editor; save it only if the pair stays valid."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..config.filesafety import read_text
from ..errors import AutoRouterError, ConfigError, ConfigValidationError, EditConflictError
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
    text kept in a temp file (named in the hint), and the original file is as it was. In every
    other case (saved, unchanged, the editor failed) the temp directory is removed.
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
    kept = False
    try:
        copy.write_bytes(original.encode("utf-8"))
        os.chmod(copy, 0o600)
        done = _edit_until_valid(paths, index, start, copy, run_editor, retry)
        if isinstance(done, EditorOutcome):
            return done
        kept = True
        raise done
    finally:
        # The copy goes with its directory, whatever happened (the editor failed, the user
        # interrupted), unless the error names it as the user's version to recover.
        if not kept:
            shutil.rmtree(workdir, ignore_errors=True)


def _edit_until_valid(
    paths: Paths,
    index: int,
    start: tuple[str | None, str | None],
    copy: Path,
    run_editor: Callable[[Path], None],
    retry: Callable[[ConfigError], bool],
) -> EditorOutcome | AutoRouterError:
    """Open the editor on ``copy`` until the pair is valid with it, or the user gives up.

    Returns the error to raise when the edit is abandoned with the user's version in
    ``copy`` (its hint says so), so that the caller keeps the copy for them to recover.
    """
    target = (paths.llm_config, paths.provider_metadata)[index]
    while True:
        run_editor(copy)
        text = read_text(copy) or ""
        if text == start[index]:
            return EditorOutcome(saved=False)
        texts = (text, None) if index == 0 else (None, text)
        try:
            result = replace_texts(paths, *texts, expected=start)
        except EditConflictError as exc:
            exc.hint = f"your version is kept at {copy}; run the command again"
            return exc
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
            return error
        return EditorOutcome(saved=True, result=result)
