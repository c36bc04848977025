"""structlog setup, called once from the ``auto-router proxy`` entry point (never at import)."""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO


def configure_logging(
    *, json: bool = False, level: int = logging.INFO, stream: TextIO | None = None
) -> None:
    """Human-readable lines on a terminal, one JSON object per line with ``json``."""
    import structlog

    out = stream or sys.stderr
    renderer: Any
    if json:
        renderer = structlog.processors.JSONRenderer()
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=out.isatty())
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=False),
            structlog.processors.format_exc_info if json else structlog.dev.set_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=out),
        cache_logger_on_first_use=True,
    )
