"""docs/python-api.md is true: every ``python`` example in it runs and prints what it shows.

The doc's set-up section is the fixture: its ``export`` lines are the environment (with
``AUTO_ROUTER_HOME`` pointed at a fresh directory of the test's), and its two TOML blocks,
whose first line names the file, are written there. Each example then runs on its own, as the
doc says, in a fresh directory and with a fresh process-wide manager; what it prints must be
the ``text`` block that follows it, and an example with no such block must assert something.
"""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from auto_router.api import reset_llm_backend_manager
from auto_router.paths import HOME_ENV

DOC = Path(__file__).resolve().parents[2] / "docs" / "python-api.md"
_FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.M | re.S)
_EXPORT = re.compile(r"^export (\w+)=(\S+)", re.M)


@dataclass(frozen=True)
class Block:
    lang: str
    text: str
    line: int


@dataclass(frozen=True)
class Example:
    code: Block
    output: str | None


def blocks(markdown: str) -> list[Block]:
    return [
        Block(m.group(1), m.group(2), markdown.count("\n", 0, m.start()) + 2)
        for m in _FENCE.finditer(markdown)
    ]


def examples(found: list[Block]) -> list[Example]:
    """Each ``python`` block with the ``text`` block right after it, if there is one."""
    paired: list[Example] = []
    for i, block in enumerate(found):
        if block.lang == "python":
            after = found[i + 1] if i + 1 < len(found) else None
            output = after.text if after is not None and after.lang == "text" else None
            paired.append(Example(block, output))
    return paired


def setup_of(found: list[Block]) -> tuple[dict[str, str], dict[str, str]]:
    """The environment the doc exports and the files it shows (by the name on line one)."""
    environ = {n: v for b in found if b.lang == "bash" for n, v in _EXPORT.findall(b.text)}
    files = {
        b.text.splitlines()[0].removeprefix("# "): b.text
        for b in found
        if b.lang == "toml" and b.text.startswith("# ")
    }
    return environ, files


BLOCKS = blocks(DOC.read_text(encoding="utf-8"))
EXAMPLES = examples(BLOCKS)


@pytest.fixture
def doc_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    environ, files = setup_of(BLOCKS)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY"):  # what the examples' clients read
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(HOME_ENV, str(tmp_path))
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    reset_llm_backend_manager()
    yield tmp_path
    reset_llm_backend_manager()


def test_the_doc_has_its_setup_and_examples() -> None:
    environ, files = setup_of(BLOCKS)
    assert set(files) == {"llm_config.toml", "provider_metadata.toml"}
    assert HOME_ENV in environ and "OPENROUTER_API_KEY" in environ
    assert len(EXAMPLES) >= 6
    for example in EXAMPLES:
        assert example.output is not None or "assert " in example.code.text, (
            f"docs/python-api.md:{example.code.line}: the example neither prints nor asserts"
        )


@pytest.mark.parametrize("example", EXAMPLES, ids=[f"line{e.code.line}" for e in EXAMPLES])
def test_the_example_prints_what_the_doc_shows(example: Example, doc_home: Path) -> None:
    code = compile(example.code.text, f"{DOC}:{example.code.line}", "exec")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(code, {"__name__": "python_api_example"})
    if example.output is not None:
        assert printed.getvalue() == example.output
