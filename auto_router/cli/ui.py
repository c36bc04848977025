"""``auto-router ui``: open the dashboard, starting the proxy first if none runs.

The page needs the management token. It goes in the URL's fragment (``/ui#token=...``),
which browsers never send to a server, and the page takes it off the address bar at once.
A browser is not handed that URL on its command line (other users of the machine can read
any process's arguments): it gets a small 0600 file in the private runtime directory, beside
the token file that already holds the same token, which sends it on to the page. With no
display (Linux without ``$DISPLAY`` or ``$WAYLAND_DISPLAY``) the URL is printed to the
user's own terminal instead, since they need it to open the page elsewhere; it is never
logged.

Which proxy: the managed one of ``auto-router run --via-proxy`` if it is up, else
``auto-router proxy`` on the configured (or ``--port``) port; else one is started here, in
the foreground, as ``auto-router proxy`` starts it (Ctrl-C stops it).
"""

from __future__ import annotations

import functools
import html
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NamedTuple

import typer

from ._common import globals_of

if TYPE_CHECKING:
    from ..paths import Paths
    from ..runs import RuntimeDir

#: How long a new proxy may take to listen and write its token file (seconds).
START_TIMEOUT = 20.0


class Found(NamedTuple):
    url: str
    token: str


def ui(
    ctx: typer.Context,
    port: Annotated[
        int | None, typer.Option("--port", help="The proxy's port (default: [proxy] port).")
    ] = None,
    no_open: Annotated[
        bool, typer.Option("--no-open", help="Print the page's address; open no browser.")
    ] = False,
) -> None:
    """Open the dashboard in a browser (the proxy is started if none runs)."""
    from ..paths import resolve_paths

    open_dashboard(resolve_paths(globals_of(ctx).config_dir), port=port, no_open=no_open)


def open_dashboard(
    paths: Paths,
    *,
    port: int | None = None,
    no_open: bool = False,
    environ: Mapping[str, str] | None = None,
) -> None:
    """Show the page of the running proxy, or start one and show its page once it listens."""
    from ..config import load_config, parse_proxy_settings
    from ..runs import RuntimeDir

    env = os.environ if environ is None else environ
    settings = parse_proxy_settings(load_config(paths))
    configured = settings.admin_token.reveal() if settings.admin_token is not None else None
    configured = env.get("AUTO_ROUTER_ADMIN_TOKEN") or configured
    runtime = RuntimeDir(paths)
    port = port or settings.port
    found = running_proxy(runtime, settings.host, port, configured)
    show = functools.partial(present, runtime=runtime, no_open=no_open, environ=env)
    if found is not None:
        show(found)
        return
    typer.echo(f"starting the proxy on {settings.host}:{port} (Ctrl-C stops it)", err=True)
    waiter = threading.Thread(
        target=_when_listening,
        args=(runtime, settings.host, port, configured, show),
        daemon=True,
    )
    waiter.start()
    from .proxy_cmds import run_proxy

    run_proxy(
        paths.config_dir,
        host=None,
        port=port,
        backend=None,
        upstream=None,
        api_key_env=None,
        log_json=False,
        request_log=None,
    )


def running_proxy(
    runtime: RuntimeDir, host: str, port: int, configured: str | None
) -> Found | None:
    """The managed proxy if it is up, else a proxy listening on ``host:port`` whose token
    this user can read (configured, or its 0600 token file)."""
    from ..runs import pid_alive, port_open

    record = runtime.read_proxy()
    managed = record is not None and record.admin_token and pid_alive(record.pid)
    if record is not None and managed and port_open(record.port):
        return Found(record.url, record.admin_token)
    if not port_open(port, _connect_host(host)):
        return None
    token = configured or runtime.admin_token(port)
    if token is None:
        return None
    return Found(f"http://{_url_host(host)}:{port}", token)


def _when_listening(
    runtime: RuntimeDir,
    host: str,
    port: int,
    configured: str | None,
    show: Callable[[Found], None],
    clock: Callable[[], float] = time.monotonic,
) -> None:
    deadline = clock() + START_TIMEOUT
    while clock() < deadline:
        found = running_proxy(runtime, host, port, configured)
        if found is not None:
            show(found)
            return
        time.sleep(0.1)
    typer.echo("the proxy did not start listening; see its messages above", err=True)


def has_display(environ: Mapping[str, str], platform: str = sys.platform) -> bool:
    """Whether a browser can open here: always off Linux; on Linux, with an X or Wayland
    display."""
    if not platform.startswith("linux"):
        return True
    return bool(environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY"))


def page_url(found: Found, *, with_token: bool = True) -> str:
    token = found.token if with_token else "****" + found.token[-4:]
    return f"{found.url}/ui#token={token}"


def present(
    found: Found, runtime: RuntimeDir, *, no_open: bool, environ: Mapping[str, str]
) -> None:
    """Open the page in a browser, or print its address when that cannot or should not be."""
    if no_open or not has_display(environ):
        typer.echo("dashboard (the address holds the management token: keep it to yourself):")
        typer.echo(f"  {page_url(found)}")
        return
    import webbrowser

    opener = opener_file(runtime, page_url(found))
    if webbrowser.open(opener.as_uri()):
        typer.echo(f"opened {page_url(found, with_token=False)} in your browser")
    else:
        typer.echo(f"no browser could be started; open this address:\n  {page_url(found)}")


def opener_file(runtime: RuntimeDir, url: str) -> Path:
    """A 0600 page in the 0700 runtime directory that goes on to ``url`` (its fragment
    holds the token: not a browser's argument, which any local user could read)."""
    runtime.ensure()
    path = runtime.path / "ui-open.html"
    quoted = html.escape(url, quote=True)
    text = (
        '<!doctype html><meta charset="utf-8"><meta name="referrer" content="no-referrer">'
        f'<meta http-equiv="refresh" content="0;url={quoted}">'
        f'<title>auto-router</title><a href="{quoted}">open the dashboard</a>\n'
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, text.encode())
    finally:
        os.close(fd)
    return path


def _connect_host(host: str) -> str:
    """Where to knock: a proxy bound to every address answers on loopback."""
    return "127.0.0.1" if host in ("0.0.0.0", "", "::") else host.strip("[]")


def _url_host(host: str) -> str:
    name = _connect_host(host)
    return f"[{name}]" if ":" in name else name
