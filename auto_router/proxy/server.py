"""Running the app on uvicorn (uvloop + httptools), as ``auto-router proxy`` does."""

from __future__ import annotations

import structlog
import uvicorn

from .app import ProxyApp
from .auth import check_bind

log = structlog.get_logger("auto_router.proxy")


def serve(app: ProxyApp, host: str, port: int) -> None:
    """Serve until interrupted. Refuses a non-loopback address without an admin token."""
    check_bind(host, app.services.settings)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        loop="uvloop",
        http="httptools",
        ws="none",  # Codex's WebSocket probe then gets a plain 426 over HTTP
        lifespan="on",
        access_log=False,  # one structlog line per request instead
        log_config=None,
        log_level="warning",
        server_header=False,
        proxy_headers=False,  # X-Forwarded-* are not trusted nor needed
        backlog=4096,
        timeout_keep_alive=75,
    )
    services = app.services
    config_dir = None if services.adhoc or services.paths is None else services.paths.config_dir
    log.info(
        "proxy starting",
        url=f"http://{host}:{port}",
        mode="upstream" if services.adhoc else "config",
        config_dir=str(config_dir) if config_dir else None,
        request_log=services.request_log is not None,
    )
    uvicorn.Server(config).run()
