"""``/ui``: the dashboard's static files (``proxy/ui/``), served same-origin with the API.

The files are package data, read once on first use; only the names in ``FILES`` are
served, so no path from a request ever reaches the file system. The page itself needs no
token: it holds no data, and takes the management token from its URL fragment (which no
browser sends) to call the management API with. Every answer carries a strict policy: scripts
and styles from this origin only (no inline script, no ``eval``), no framing, no referrer,
no MIME sniffing. The gate's Host allowlist and origin checks apply as to every route.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from typing import Final

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

#: File name -> content type. Nothing else under /ui/ is served.
FILES: Final = {
    "index.html": "text/html; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "format.js": "text/javascript; charset=utf-8",
    "render.js": "text/javascript; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}

POLICY: Final = (
    "default-src 'self'; img-src 'self'; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
HEADERS: Final = {
    "content-security-policy": POLICY,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    # The files change with the package: a browser must not run yesterday's script.
    "cache-control": "no-cache",
}


@cache
def asset(name: str) -> bytes:
    """A file of ``proxy/ui/`` as installed (read once)."""
    return files(__package__).joinpath("ui", name).read_bytes()


def ui_routes() -> list[BaseRoute]:
    return [
        Route("/ui", page, methods=["GET", "HEAD"]),
        Route("/ui/", page, methods=["GET", "HEAD"]),
        Route("/ui/{name}", static, methods=["GET", "HEAD"]),
        Route("/favicon.ico", favicon, methods=["GET", "HEAD"]),
    ]


async def page(request: Request) -> Response:
    return _file("index.html")


async def static(request: Request) -> Response:
    name: str = request.path_params["name"]
    if name not in FILES:
        return JSONResponse(
            {"error": {"message": f"no such file: /ui/{name}", "code": "not_found"}},
            status_code=404,
            headers=HEADERS,
        )
    return _file(name)


async def favicon(request: Request) -> Response:
    return RedirectResponse("/ui/favicon.svg", status_code=308, headers=HEADERS)


def _file(name: str) -> Response:
    return Response(asset(name), media_type=FILES[name], headers=HEADERS)
