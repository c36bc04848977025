"""The run registry's hashing and tokens, spelled out to keep hashlib and secrets off ``run``'s
start-up (``auto_router/runs.py``): they must stay what those modules would give."""

from __future__ import annotations

import hashlib
import re

from auto_router.runs import TOKEN_PREFIX, new_token, token_digest


def test_the_digest_is_hashlib_sha256() -> None:
    for text in ("", "arr_x", "ü" * 1000):
        assert token_digest(text) == hashlib.sha256(text.encode()).hexdigest()


def test_a_token_is_the_prefix_and_32_random_bytes_url_safe() -> None:
    tokens = {new_token() for _ in range(100)}
    assert len(tokens) == 100
    for token in tokens:
        # secrets.token_urlsafe(32): 43 characters of the URL-safe alphabet, no padding
        assert re.fullmatch(re.escape(TOKEN_PREFIX) + r"[A-Za-z0-9_-]{43}", token)
