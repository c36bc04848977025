from __future__ import annotations

import io
import json

import structlog

from auto_router.proxy.logs import configure_logging, render_logfmt


def test_logfmt_puts_time_level_event_first_and_quotes_only_when_needed() -> None:
    line = render_logfmt(
        None,
        "info",
        {
            "method": "POST",
            "event": "request",
            "level": "info",
            "timestamp": "2026-11-21T10:00:00",
            "ok": True,
            "stream": False,
            "ms": 0.42,
            "error": 'HTTP 429: say "slow down"\nnow',
            "empty": "",
            "key=value": "a=b",
        },
    )
    assert line.startswith("timestamp=2026-11-21T10:00:00 level=info event=request method=POST ")
    assert " ok=true stream=false ms=0.42 " in line
    assert ' error="HTTP 429: say \\"slow down\\"\\nnow" ' in line
    assert ' empty="" ' in line
    assert line.endswith(' key=value="a=b"')
    assert "\n" not in line


def test_each_value_reads_back_as_written() -> None:
    for value in ("plain", "two words", 'quote"inside', "back\\slash", "tab\there", ""):
        rendered = render_logfmt(None, "info", {"v": value})[2:]
        assert (json.loads(rendered) if rendered.startswith('"') else rendered) == value


def test_configured_off_a_terminal_one_line_per_event() -> None:
    out = io.StringIO()
    configure_logging(stream=out)
    try:
        structlog.get_logger("test-logfmt").info("request", status=200, error=None)
    finally:
        structlog.reset_defaults()
    lines = out.getvalue().splitlines()
    assert len(lines) == 1
    assert " level=info event=request status=200" in lines[0]
    assert "error" not in lines[0]  # None fields are dropped
