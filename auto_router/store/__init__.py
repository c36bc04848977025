"""SQLite storage: one database file in the data directory, schema grown by named migrations."""

from __future__ import annotations

from .db import connect, transaction

__all__ = ["connect", "transaction"]
