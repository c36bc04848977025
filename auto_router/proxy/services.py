"""What request handlers (the data path, ``/health``, the management API) share.

``create_app`` builds one ``Services`` and hangs it on the Starlette app's state; handlers
reach it through ``services_of(request)`` and nothing else, so the management API depends on
this module, never on the app factory.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.requests import Request

from ..config import Config
from ..config.proxy import ProxySettings
from ..paths import Paths
from ..redaction import Redactor, RedactorCache
from ..rotation.service import Rotator
from ..secrets import Secret
from .forward import Proxy
from .reqlog import RequestLog
from .routing import Router


@dataclass
class Services:
    """The proxy's long-lived parts; ``request.app.state.services``."""

    paths: Paths | None
    rotator: Rotator
    router: Router
    proxy: Proxy
    request_log: RequestLog | None
    started_at: float
    adhoc: bool
    redactors: RedactorCache = field(default_factory=RedactorCache)
    #: The token the proxy was started with (``ProxyOptions.admin_token``).
    admin_token: Secret | None = field(default=None, repr=False)

    @property
    def settings(self) -> ProxySettings:
        return self.router.snapshot().settings

    @property
    def admin_tokens(self) -> tuple[Secret | None, Secret | None]:
        """What opens the management API: the configured token and the start-up one."""
        return self.settings.admin_token, self.admin_token

    @property
    def config(self) -> Config:
        return self.router.snapshot().config

    @property
    def redactor(self) -> Redactor:
        """The redactor of the configuration in force (rebuilt when the files change)."""
        return self.redactors.get(self.router.snapshot().config)


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services
