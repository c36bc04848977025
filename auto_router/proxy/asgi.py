"""The ASGI types the proxy's modules share, declared once.

Plain aliases (no Starlette types) because the data path is plain ASGI: no Request or
Response objects per request. ``ENDPOINT`` is the scope key under which the gate leaves the
request's resolved endpoint (``endpoints.Resolved`` or ``None``) for the app to use, and
``PATH_TOKEN`` the one where it leaves a token it took off a ``/r/<token>/`` path.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Final

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Scope key: the endpoint resolved once per request (see ``endpoints.resolve``).
ENDPOINT: Final = "auto_router.endpoint"
#: Scope key: the proxy token of a ``/r/<token>/...`` path, which the gate strips (issue 20).
PATH_TOKEN: Final = "auto_router.path_token"
