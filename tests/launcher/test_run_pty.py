"""The launcher on a real terminal: a pseudo-terminal made by the test plays the user's."""

from __future__ import annotations

import signal
import termios

import pytest

from .conftest import Home
from .terminal import terminal

pytestmark = pytest.mark.integration

LLM = """
[backends.claude]
providers = ["first", "second"]
via_proxy = false  # direct: the fake agent makes no requests, the launcher rotates
[message_backend]
default = "claude"
"""
PROVIDERS = """
[claude.first]
type = "anthropic"
api_key = "first-key-0123456789abcdef"
FAKE_BEHAVIOUR = "interactive"
[claude.second]
type = "anthropic"
api_key = "second-key-0123456789abcdef"
FAKE_BEHAVIOUR = "interactive"
"""


def test_input_output_window_size_and_terminal_mode_pass_through(home: Home) -> None:
    home.write(LLM, PROVIDERS)
    with terminal(home, "run", "--", "claude") as term:
        before = termios.tcgetattr(term.slave)
        term.expect("isatty stdin=True stdout=True")
        term.expect("size=30x100")
        term.expect("prompt> ")
        term.send(b"hello there\r")
        term.expect("got: hello there")
        term.resize(40, 120)  # the kernel sends SIGWINCH to the launcher; it tells the child
        term.expect("resized=40x120")
        term.send(b"exit 3\r")
        assert term.wait() == 3
        assert termios.tcgetattr(term.slave) == before  # cooked mode is back
    assert before[3] & termios.ECHO  # the terminal was cooked to begin with
    attempts = home.history()
    assert [(a["provider"], a["exit_code"], a["outcome"]) for a in attempts] == [
        ("first", 3, "failed")
    ]


def test_usage_limit_on_a_terminal_rotates_and_relaunches(home: Home) -> None:
    home.write(LLM, PROVIDERS)
    with terminal(home, "run", "--", "claude") as term:
        term.expect("prompt> ")
        term.send(b"limit\r")
        screen = term.expect("retrying with second (2/2)")
        assert "first hit its usage limit" in screen
        term.expect("isatty stdin=True stdout=True")
        term.expect("prompt> ", timeout=30)
        term.send(b"quit\r")
        assert term.wait() == 0
    assert [a["provider"] for a in home.history()] == ["first", "second"]


def test_ctrl_c_after_a_limit_stops_and_does_not_relaunch(home: Home) -> None:
    home.write(LLM, PROVIDERS)
    with terminal(home, "run", "--", "claude") as term:
        term.expect("prompt> ")
        term.send(b"show-limit\r")  # the error shows, the agent keeps running, like a TUI
        term.expect("API Error: Request rejected (429)")
        term.send(b"\x03")  # Ctrl-C: the child's terminal turns it into SIGINT
        code = term.wait()
        screen = term.drain()
    assert code == 128 + signal.SIGINT
    assert "retrying with" not in screen
    attempts = home.history()
    assert [(a["outcome"], a["limit_detected"]) for a in attempts] == [("interrupted", True)]
    # the limit is remembered: the next run starts on the other provider
    status = home.run("status").stdout
    assert "* second" in status
