"""The redactor's fast screen never lets a key through.

``Redactor.text``/``binary`` skip the exact masking for lines the screen calls clean (one
sampled pass, ``redaction._Screen``). These tests feed what a leak looks like — the key as
written, ``${VAR}``-expanded, JSON-escaped, and every ``MIN_FRAGMENT``-long piece of each at
every offset against the screen's sampling grid, alone or glued into a longer word — and
check that nothing of a key survives. A screen with a stride one too wide, or without the
whole-value check for short credentials, fails here.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auto_router.config import load_config
from auto_router.paths import Paths
from auto_router.redaction import MASK, MIN_FRAGMENT, Redactor, redactor_for

KEYS = [
    "sk-proj-Qm3vYtP9aNxkZ2b7CSqqzR8wLd4Hf6Jg",
    'sk-abc"def\\ghi-0123456789-quoted',  # a quote and a backslash: escaped in JSON
    "AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY",
    "tok-with.dots.and/slashes+plus=ab12cd34",  # key characters only between the dots
]
SHORT = "s3cr3t!x"  # longer than MIN_SECRET, shorter than a fragment: found whole only
FILLER = "request failed, upstream said: "


def _pieces(secret: str) -> list[str]:
    """Every ``MIN_FRAGMENT``-long run of key characters in ``secret`` (what counts as
    quoting a piece of it; a piece with a dot or a quote in it is ordinary text)."""
    found = [secret[i : i + MIN_FRAGMENT] for i in range(len(secret) - MIN_FRAGMENT + 1)]
    return [p for p in found if all(c.isascii() and (c.isalnum() or c in "-_") for c in p)]


def _survivors(out: str, secrets: list[str]) -> list[str]:
    return [p for s in secrets for p in _pieces(s) if p in out] + [s for s in secrets if s in out]


@pytest.mark.parametrize("key", KEYS)
def test_every_piece_at_every_offset_is_masked(key: str) -> None:
    redactor = Redactor([key])
    escaped = key.replace("\\", "\\\\").replace('"', '\\"')
    for form in {key, escaped}:
        for piece in [form, *_pieces(form)]:
            for shift in range(2 * MIN_FRAGMENT):  # every position against the sampling grid
                for glue in ("", "Zq9"):  # alone, and inside a longer word
                    line = f"{FILLER[:shift]}{glue}{piece}{glue} (HTTP 401)"
                    out = redactor.text(line)
                    assert MASK in out, line
                    assert not _survivors(out, [key, escaped]), line
                    assert redactor.binary(line.encode()) == out.encode(), line
                    assert redactor.found(line.encode()), line


def test_a_short_credential_is_masked_whole() -> None:
    redactor = Redactor([SHORT])
    for shift in range(2 * MIN_FRAGMENT):
        line = f"{FILLER[:shift]}password {SHORT} was refused"
        assert redactor.text(line) == f"{FILLER[:shift]}password {MASK} was refused"
        assert redactor.binary(line.encode()) == redactor.text(line).encode()


def test_clean_lines_pass_untouched_and_as_the_same_object() -> None:
    redactor = Redactor([*KEYS, SHORT])
    line = "timestamp=2026-12-01T22:20:11.123456 level=info event=request status=200"
    assert redactor.text(line) is line
    data = line.encode()
    assert redactor.binary(data) is data and not redactor.found(data)


def test_expanded_variables_are_screened(tmp_path: Path) -> None:
    (tmp_path / "llm_config.toml").write_text(
        '[backends.q]\nproviders = ["a"]\n[message_backend]\ndefault = "q"\n'
    )
    (tmp_path / "provider_metadata.toml").write_text(
        '[q.a]\nbase_url = "http://127.0.0.1:9/v1"\napi_key = "${KEY_A}"\n'
    )
    expanded = "sk-expanded-7f3a9c5e2b1d44b1c9d0"
    redactor = redactor_for(load_config(Paths(tmp_path, tmp_path)), {"KEY_A": expanded})
    for piece in [expanded, "${KEY_A}", *_pieces(expanded)]:
        for shift in range(2 * MIN_FRAGMENT):
            out = redactor.text(f"{FILLER[:shift]}{piece}!")
            assert not _survivors(out, [expanded]), piece
            if piece != "${KEY_A}":  # the reference is no secret; its value is
                assert MASK in out


_TEXT = st.lists(
    st.one_of(
        st.sampled_from([p for k in KEYS for p in _pieces(k)] + KEYS + [SHORT]),
        st.text(alphabet='abcXYZ019-_ .:="\\/é', max_size=12),
    ),
    max_size=8,
).map("".join)


@settings(max_examples=400, deadline=None)
@given(_TEXT)
def test_the_screen_changes_nothing_but_the_speed(line: str) -> None:
    redactor = Redactor([*KEYS, SHORT])
    assert redactor.text(line) == redactor._mask(line)
    data = line.encode()
    exact = redactor._mask(line).encode()
    assert redactor.binary(data) == exact
    assert redactor.found(data) == (exact != data)
