"""The real Redis and PostgreSQL servers of the shared-store tests (issue 22).

``.ci/servers start`` runs both on loopback and exports their URLs; locally a test skips
with the reason when none answers, and under ``CI=true`` it fails (a skip there would hide a
server that did not start), like ``helpers.require_program``.
"""

from __future__ import annotations

import os
import uuid

import pytest

REDIS_ENV = "AUTO_ROUTER_TEST_REDIS_URL"
POSTGRES_ENV = "AUTO_ROUTER_TEST_POSTGRES_URL"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
DEFAULT_POSTGRES = "postgresql://auto_router:auto_router@127.0.0.1:5432/auto_router_test"
START = 'eval "$(.ci/servers start)" starts one'


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}: .ci/run should have started it")
    pytest.skip(reason)


def redis_url() -> str:
    """The test Redis's URL, once it answers a PING."""
    redis = pytest.importorskip("redis")
    url = os.environ.get(REDIS_ENV, DEFAULT_REDIS)
    client = redis.Redis.from_url(url, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError as exc:
        _unavailable(f"no Redis answers at {url} ({type(exc).__name__}; {START})")
    finally:
        client.close()
    return url


def unique_prefix() -> str:
    """Keys of their own for each test: other runs may share the same Redis."""
    return f"ar-test-{uuid.uuid4().hex[:12]}"


def drop_prefix(url: str, prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    try:
        for key in client.scan_iter(match=f"{prefix}:*", count=500):
            client.delete(key)
    finally:
        client.close()


def postgres_url() -> str:
    """The test PostgreSQL's URL, once it accepts a connection."""
    psycopg = pytest.importorskip("psycopg")
    url = os.environ.get(POSTGRES_ENV, DEFAULT_POSTGRES)
    try:
        psycopg.connect(url, connect_timeout=2).close()
    except psycopg.Error as exc:
        _unavailable(f"no PostgreSQL answers at {POSTGRES_ENV} ({type(exc).__name__}; {START})")
    return url
