from __future__ import annotations

import json

import pytest

from auto_router.agents import AGENTS
from auto_router.limits.scanner import (
    FINAL_LINES,
    Marker,
    OutputScanner,
    combine,
    parse_marker,
    strip_ansi,
)


def verdict(agent: str, text: str, exit_code: int, stream: str = "stdout") -> tuple[bool, str]:
    scanner = OutputScanner(AGENTS[agent].markers)
    for chunk in (text[i : i + 7] for i in range(0, len(text), 7)):  # arrives in pieces
        scanner.feed(chunk.encode(), stream)
    found = scanner.verdict(exit_code)
    return found.limit, found.reason or ""


# Each pattern the issue observed with the real CLIs, verbatim.
REAL_MESSAGES = [
    ("claude", "API Error: Request rejected (429) · rate limited\n", 1),
    ("claude", json.dumps({"type": "result", "api_error_status": 429}) + "\n", 1),
    ("claude", "5-hour limit reached ∙ resets 3pm\n", 1),
    ("codex", "ERROR: exceeded retry limit, last status: 429 Too Many Requests\n", 1),
    ("codex", "ERROR: Quota exceeded. Check your plan and billing details.\n", 1),
    ("codex", "■ You’ve hit your usage limit. Upgrade to Pro.\n", 1),
    ("gemini", "Attempt 1 failed with status 429. Retrying with backoff...\n", 1),
    ("gemini", "  status: 429\n", 1),
    ("gemini", "RESOURCE_EXHAUSTED\n", 173),
    ("gemini", "Your quota will reset after 2h13m20s.\n", 1),
    ("qwen", "[API Error: 429 Provider returned error]\n", 1),
    ("qwen", "Possible quota limitations in place or slow response times detected.\n", 1),
    ("aider", "litellm.RateLimitError: OpenAIException - rate limited\n", 1),
]


@pytest.mark.parametrize(("agent", "text", "code"), REAL_MESSAGES)
def test_each_agents_real_message_is_a_usage_limit(agent: str, text: str, code: int) -> None:
    assert verdict(agent, "some work\n" * 20 + text, code)[0]


def test_qwen_json_mode_exits_0_and_is_still_a_limit() -> None:
    events = [
        {"type": "system", "subtype": "init"},
        {"type": "assistant", "text": "[API Error: 429 Free allocated quota exceeded.]"},
        {"type": "result", "subtype": "success"},
    ]
    text = json.dumps(events, indent=2) + "\n" + "trailing\n" * 10
    assert verdict("qwen", text, 0) == (True, "shape")


def test_ansi_colours_and_carriage_returns_do_not_hide_a_marker() -> None:
    text = "\x1b[31m\x1b[1mAPI Error: Request rejected (429)\x1b[0m · x\r\n" + "ok\n" * 10
    assert verdict("claude", text, 0) == (True, "shape")
    assert strip_ansi("\x1b]0;title\x07a\x1b[2Kb") == "ab"


def test_a_spinner_redrawn_with_bare_carriage_returns_ends_lines() -> None:
    """A TUI spinner rewrites its line with a bare ``\\r`` (no newline). The error that
    replaces it must count as the start of a line, or the agent's error shape (anchored at
    the start of a line) would be missed, and its final lines would be wrong."""
    spinner = "".join(f"{frame} Thinking...\r" for frame in "⠋⠙⠹⠸⠼⠴")
    text = spinner + "API Error: Request rejected (429) · rate limited\r" + "⠋ Thinking...\r"
    assert verdict("claude", text + "done\n" * 10, 0) == (True, "shape")
    # the same bytes with the spinner's \r glued to the error: no line starts with it
    glued = "⠋ Thinking... API Error: Request rejected (429) x\n" + "done\n" * 10
    scanner = OutputScanner((AGENTS["claude"].markers[0],))
    scanner.feed(glued.encode())
    assert not scanner.verdict(0).limit
    # each spinner frame is its own line: the final-lines guard sees the last ones only
    final = OutputScanner((Marker("rate limited"),))
    final.feed(("rate limited\r" + "⠋ working\r" * FINAL_LINES).encode())
    assert not final.verdict(0).limit
    final_edge = OutputScanner((Marker("rate limited"),))
    final_edge.feed(("rate limited\r" + "⠋ working\r" * (FINAL_LINES - 1)).encode())
    assert final_edge.verdict(0).reason == "final-lines"


def test_case_does_not_matter() -> None:
    assert verdict("codex", "error: QUOTA EXCEEDED. CHECK YOUR PLAN\n", 1)[0]


# ------------------------------------------------------------- false-positive guards


def test_echoed_file_mentioning_rate_limits_does_not_count_on_success() -> None:
    text = (
        "cat docs/limits.md\n"
        "We back off when the server says: rate limit exceeded, quota exceeded.\n"
        "failed with status 429 is what Gemini prints.\n"
        + "".join(f"step {i}\n" for i in range(FINAL_LINES + 3))
    )
    scanner = OutputScanner(combine(AGENTS["gemini"].markers, ["quota exceeded"]))
    scanner.feed(text.encode())
    assert scanner.hits  # the markers are there...
    assert not scanner.verdict(0).limit  # ...but neither shape, failure nor final lines


def test_the_same_mention_counts_with_a_non_zero_exit() -> None:
    text = "rate limit exceeded\n" + "".join(f"step {i}\n" for i in range(20))
    scanner = OutputScanner(combine(AGENTS["generic"].markers, []))
    scanner.feed(text.encode())
    found = scanner.verdict(1)
    assert found.limit and found.reason == "exit-status"


def test_the_same_mention_counts_in_the_final_lines() -> None:
    text = "".join(f"step {i}\n" for i in range(20)) + "rate limit exceeded\n"
    scanner = OutputScanner(AGENTS["generic"].markers)
    scanner.feed(text.encode())
    found = scanner.verdict(0)
    assert found.limit and found.reason == "final-lines"


def test_a_mention_just_before_the_final_lines_does_not_count() -> None:
    text = "rate limit exceeded\n" + "".join(f"step {i}\n" for i in range(FINAL_LINES))
    scanner = OutputScanner(AGENTS["generic"].markers)
    scanner.feed(text.encode())
    assert not scanner.verdict(0).limit


def test_an_error_phrase_inside_a_sentence_is_not_the_agents_error_line() -> None:
    text = (
        "The docs say Codex may print You’ve hit your usage limit when the plan runs out.\n"
        + "".join(f"step {i}\n" for i in range(10))
    )
    assert verdict("codex", text, 0) == (False, "")
    # while the agent's own line, anywhere in the output, counts even on success
    own = "■ You’ve hit your usage limit.\n" + "".join(f"step {i}\n" for i in range(10))
    assert verdict("codex", own, 0) == (True, "shape")


def test_a_plain_failure_is_not_a_usage_limit() -> None:
    for agent in AGENTS:
        text = "FAILED tests/test_x.py::test_y - AssertionError: assert 1 == 2\n"
        assert verdict(agent, text, 1) == (False, ""), agent


def test_gemini_retry_that_then_succeeds_is_not_a_limit() -> None:
    text = "Attempt 1 failed with status 429. Retrying with backoff...\n" + "work\n" * 10
    assert verdict("gemini", text, 0) == (False, "")


# ------------------------------------------------------------- marker syntax


def test_plain_regex_and_json_markers() -> None:
    plain = parse_marker("Quota Exceeded")
    regex = parse_marker("re:rate.?limit")
    subset = parse_marker('json:{"error": {"code": 429, "status": "re:exhaust"}}')
    assert plain.kind == "text" and plain.search_line("quota exceeded!")
    assert regex.kind == "regex" and regex.search_line("RATE-LIMIT hit")
    assert subset.kind == "json" and subset.shape
    line = json.dumps({"wrapper": [{"error": {"code": 429, "status": "RESOURCE_EXHAUSTED"}}]})
    assert subset.search_line(line)
    assert not subset.search_line(json.dumps({"error": {"code": 500, "status": "exhausted"}}))
    assert parse_marker('{"api_error_status": 429}').kind == "json"


def test_pretty_printed_json_document_is_matched_as_a_whole() -> None:
    scanner = OutputScanner((parse_marker('{"api_error_status": 429}'),))
    scanner.feed(json.dumps({"type": "result", "api_error_status": 429}, indent=2).encode())
    assert scanner.verdict(0).limit


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("re:(unclosed", "invalid regular expression"),
        ("json:{nope", "invalid JSON"),
        (" ", "empty"),
    ],
)
def test_bad_markers_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_marker(text)


def test_backend_markers_extend_or_replace_the_agents() -> None:
    agent = AGENTS["qwen"].markers
    extended = combine(agent, ["my custom limit"])
    replaced = combine(agent, ["my custom limit"], replace=True)
    assert len(extended) == len(agent) + 1
    assert [m.text for m in replaced] == ["my custom limit"]
    scanner = OutputScanner(replaced)
    scanner.feed(b"[API Error: 429 Provider returned error]\n")
    assert not scanner.verdict(1).limit


def test_utf8_split_across_chunks_is_decoded() -> None:
    data = "■ You’ve hit your usage limit.\n".encode()
    scanner = OutputScanner(AGENTS["codex"].markers)
    for i in range(len(data)):
        scanner.feed(data[i : i + 1], "stderr")
    assert scanner.verdict(0).limit


def test_marker_object_is_hashable_and_labelled() -> None:
    marker = Marker("re:abc", name="abc")
    assert marker.label == "abc" and hash(marker)


@pytest.mark.parametrize(
    ("agent", "message"),
    [("qwen", "[API Error: 429 quota]"), ("claude", "API Error: Request rejected (429)")],
)
def test_error_text_markers_allow_a_border_or_quote_before_the_message(
    agent: str, message: str
) -> None:
    marker = next(m for m in AGENTS[agent].markers if m.label.endswith("(error text)"))
    for prefix in ("", "│ ", "│", "  ", '"', "'", ">"):
        assert marker.search_line(prefix + message), prefix
    for prefix in ("x", "┃", "-"):
        assert not marker.search_line(prefix + message), prefix
