"""Every SDK client a test makes is closed: in a ``with`` block or by ``closed_after_test``.

A client left to the garbage collector may have its pooled socket finalized first; the
``ResourceWarning`` (an error under ``filterwarnings = error``) then fails whichever later
test the collector runs in: a flake with no link to its cause.
"""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).parent
CLIENTS = {"OpenAI", "Anthropic", "AsyncOpenAI", "AsyncAnthropic"}


def _client_calls(tree: ast.AST) -> list[ast.Call]:
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in CLIENTS
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id in ("openai", "anthropic")
    ]


def _closed(tree: ast.AST) -> set[int]:
    """The ids of client calls that are ``with`` items or wrapped in ``closed_after_test``."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.With | ast.AsyncWith):
            found.update(id(item.context_expr) for item in node.items)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "closed_after_test"
        ):
            found.update(id(arg) for arg in node.args)
    return found


def _closed_by_hand(tree: ast.AST) -> bool:
    """An async test that awaits ``client.close()`` itself (there is no sync teardown)."""
    return any(
        isinstance(node, ast.Await)
        and isinstance(node.value, ast.Call)
        and isinstance(node.value.func, ast.Attribute)
        and node.value.func.attr == "close"
        for node in ast.walk(tree)
    )


def unclosed_clients(source: str) -> list[int]:
    tree = ast.parse(source)
    closed = _closed(tree)
    return [
        call.lineno
        for call in _client_calls(tree)
        if id(call) not in closed
        and not (call.func.attr.startswith("Async") and _closed_by_hand(tree))  # type: ignore[attr-defined]
    ]


def test_every_sdk_client_in_the_tests_is_closed() -> None:
    found = {
        str(path.relative_to(TESTS)): lines
        for path in sorted(TESTS.rglob("*.py"))
        if "fake_agents" not in path.parts  # agents run as their own processes
        and (lines := unclosed_clients(path.read_text()))
    }
    assert found == {}


def test_the_check_sees_a_client_left_open() -> None:
    assert unclosed_clients("import openai\nc = openai.OpenAI(api_key='k')\n") == [2]
    assert unclosed_clients("import openai\nwith openai.OpenAI() as c:\n    pass\n") == []
    wrapped = "import anthropic\nc = closed_after_test(anthropic.Anthropic())\n"
    assert unclosed_clients(wrapped) == []
