from __future__ import annotations

from pathlib import Path

from auto_router.cli.reference import render_reference

ROOT = Path(__file__).resolve().parents[2]


def test_cli_reference_is_current() -> None:
    expected = render_reference()
    actual = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert actual == expected, (
        "docs/cli.md is out of date: run `python -m auto_router.cli.reference > docs/cli.md`"
    )


def test_readme_and_ci_run_the_same_test_command() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    command = next(line for line in ci.splitlines() if "pytest" in line)
    assert command in readme


def test_ci_runs_the_linters_after_the_tests_and_the_readme_says_so() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    lines = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    tests_at = next(i for i, line in enumerate(lines) if "pytest" in line)
    after = "\n".join(lines[tests_at + 1 :])
    for linter in ("ruff check .", "ruff format --check .", "mypy"):
        assert f".venv/bin/{linter}" in after, linter
        assert f"`{linter}`" in readme, linter


def test_usage_lines_and_help_text_read_as_written() -> None:
    reference = render_reference()
    usages = [line for line in reference.splitlines() if line.startswith("Usage: ")]
    assert usages and not [u for u in usages if "[[" in u or "...}" in u]
    # Help text is not rich markup: a [table] in a docstring stays in the help.
    assert "Add a [backends.NAME] table" in reference
