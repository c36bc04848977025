"""The one exception tree of auto-router.

Every error the library raises on purpose is an ``AutoRouterError``; the CLI catches that base
class once and turns it into one line plus a hint and an exit code, so a user never sees a
traceback for bad input. Each carries a ``code`` shared by ``--json`` output, the management
API and the Python API. All of them live in this module, except the two marked with the module
that owns them (RoutingError, ApiError): those leave their HTTP layer only as an HTTP answer.

    AutoRouterError
    ├── ConfigError                 a configuration file cannot be used (exit 78)
    │   ├── ConfigSyntaxError       not valid TOML (file, line, column)
    │   ├── ConfigValidationError   valid TOML, wrong shape (file, line, key path)
    │   └── MissingVariableError    ${VAR} names a variable that is not set
    ├── InvalidIdentifierError      a backend or provider name breaks the naming rule
    ├── NotFoundError               a named thing does not exist
    │   ├── BackendNotFoundError
    │   ├── ProviderNotFoundError
    │   └── TemplateNotFoundError
    ├── AlreadyExistsError          a name to create is taken
    │   ├── BackendExistsError
    │   └── ProviderExistsError
    ├── EditConflictError           a file changed under an edit that cannot be merged
    ├── StateError                  the rotation-state database cannot be used
    ├── UnsafeBindError             the proxy would listen off loopback with no admin token
    ├── TranslationError            a request cannot be put into a provider's protocol
    ├── UsageError                  a command line that cannot be carried out as given (exit 2)
    ├── NoCommandError              ``run``/``env``: no command given nor configured, or no
    │                               backend at all (exit 64)
    ├── CommandNotFoundError        ``run``: the command is not on the child's PATH (exit 127)
    ├── ProtocolMismatchError       ``run``: the agent does not speak the provider's API (64)
    ├── ProxyStartError             ``run``: the local proxy for the agent did not start (69)
    ├── RuntimeDirError             ``run``: the runtime directory is not private to the user
    │                               (another owner, a symlink, open to others) (73)
    ├── UsageLimitError             a provider ran out (quota, rate limit, subscription window)
    ├── AllProvidersExhaustedError  every provider of every candidate backend is cooling down
    ├── RoutingError                [proxy.routing] a request names a provider that cannot
    │                               serve its endpoint; proxy.forward answers it with a 400
    └── ApiError                    [proxy.admin._base] bad input to the management API (bad
                                    JSON, a field of the wrong type); answered with its status

Internal exceptions are not ``AutoRouterError``: each lives in the module named in brackets
and is caught by the modules named beside it, so none reaches a caller (one that escaped would
be a bug, shown as a traceback). They are drawn here so that this is the whole list.

    Exception
    ├── Failure                     [proxy.classify] internal: an attempt failed before the
    │                               client got a byte; proxy.attempts fails over on it, and
    │                               proxy.relay answers with the last one
    ├── ClientError                 [proxy.exchange] internal: the request cannot be served as
    │                               sent; proxy.forward answers it with its status, no failover
    ├── UpstreamError               [proxy.upstream] internal: aiohttp's and httpx's errors,
    │   │                           translated once; proxy.attempts, relay and continuation
    │   │                           turn them into a Failure or a cut stream
    │   ├── UpstreamTimeout         (-> 504 or failover)
    │   ├── UpstreamConnectionError (-> 502 or failover)
    │   └── UpstreamRefused         (-> 502 or failover, not retried: a redirect, an answer
    │                               past a cap, JSON nested too deep)
    └── _Fallback                   [cli.fast] internal: the fast parser gives the command
                                    line to typer; caught in cli.fast.fast_path
    ValueError
    └── ExpansionError              [config.expand] internal: a bad or missing ${VAR}; config,
                                    launcher.session and redaction turn it into a ConfigError
                                    (or, redacting, skip the value)

``translate.model.StreamError`` is no exception: it is the event a decoder emits for an error
inside an upstream stream.

Foreign exceptions (tomlkit, sqlite3, OSError) are translated where they are first met, with
``raise X(...) from exc``, never further up. ``tests/core/test_errors_tree.py`` checks that the
drawing is this complete: every exception class the package defines, with its real base class
and module, and nothing else.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path


class AutoRouterError(Exception):
    """Base class of every error auto-router raises on purpose."""

    #: A short machine-readable code, used by the management API and ``--json`` output.
    code: str = "AUTO_ROUTER_ERROR"
    #: What the user can do about it, shown by the CLI under the message.
    hint: str | None = None
    #: The CLI's exit status for this error (sysexits.h values where one fits).
    exit_code: int = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if hint is not None:
            self.hint = hint

    def __str__(self) -> str:
        return self.message


class ConfigError(AutoRouterError):
    """A configuration file cannot be used. Carries where the problem is."""

    code = "CONFIG_ERROR"
    exit_code = 78  # EX_CONFIG

    def __init__(
        self,
        message: str,
        *,
        path: Path | None = None,
        line: int | None = None,
        column: int | None = None,
        key_path: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.path = path
        self.line = line
        self.column = column
        self.key_path = key_path
        self.detail = message
        #: Every problem found, when a validation collected more than one.
        self.problems: list[object] = []
        super().__init__(self._render(message), hint=hint)

    def _render(self, message: str) -> str:
        where = ""
        if self.path is not None:
            where = str(self.path)
            if self.line is not None:
                where += f":{self.line}"
                if self.column is not None:
                    where += f":{self.column}"
            where += ": "
        key = f"{self.key_path}: " if self.key_path else ""
        return f"{where}{key}{message}"


class ConfigSyntaxError(ConfigError):
    code = "CONFIG_SYNTAX_ERROR"


class ConfigValidationError(ConfigError):
    code = "VALIDATION_ERROR"


class MissingVariableError(ConfigError):
    code = "MISSING_VARIABLE"


class InvalidIdentifierError(AutoRouterError):
    code = "INVALID_IDENTIFIER"


class NotFoundError(AutoRouterError):
    code = "NOT_FOUND"


class BackendNotFoundError(NotFoundError):
    code = "BACKEND_NOT_FOUND"


class ProviderNotFoundError(NotFoundError):
    code = "PROVIDER_NOT_FOUND"


class StateError(AutoRouterError):
    code = "STATE_ERROR"


class UnsafeBindError(AutoRouterError):
    code = "UNSAFE_BIND"
    exit_code = 78  # EX_CONFIG


class UsageError(AutoRouterError):
    """The command line is wrong: a missing or unknown option, a value of the wrong form."""

    code = "USAGE_ERROR"
    exit_code = 2  # what click and argparse use for usage errors


class NoCommandError(AutoRouterError):
    """Nothing to run or export: no command given nor configured, or no backend at all."""

    code = "NO_COMMAND"
    exit_code = 64  # EX_USAGE


class CommandNotFoundError(AutoRouterError):
    """The command ``run`` would start is not on the child's PATH, or cannot be executed."""

    code = "COMMAND_NOT_FOUND"
    exit_code = 127  # what a shell answers for a command it cannot find


class ProtocolMismatchError(AutoRouterError):
    """The agent would be pointed at a provider whose API it does not speak."""

    code = "PROTOCOL_MISMATCH"
    exit_code = 64  # EX_USAGE: the configuration cannot work as asked


class ProxyStartError(AutoRouterError):
    """The local proxy ``run`` starts for an agent exited or did not get ready in time."""

    code = "PROXY_START_FAILED"
    exit_code = 69  # EX_UNAVAILABLE


class RuntimeDirError(AutoRouterError):
    """The managed proxy's runtime directory is not the user's own private directory."""

    code = "RUNTIME_DIR_UNSAFE"
    exit_code = 73  # EX_CANTCREAT
    hint = "set XDG_RUNTIME_DIR to a directory of yours with mode 0700 (or use --config-dir)"


class UsageLimitError(AutoRouterError):
    """A provider hit a usage limit. Raise it from a client to make the manager rotate.

    ``reset_at`` (aware datetime or epoch seconds) is when the provider is expected to work
    again, if the provider said so; otherwise the backend's default cooldown applies.
    """

    code = "USAGE_LIMIT"

    def __init__(
        self,
        message: str = "usage limit reached",
        *,
        reset_at: dt.datetime | float | None = None,
        marker: str | None = None,
    ) -> None:
        super().__init__(message)
        self.reset_at = reset_at
        self.marker = marker

    @property
    def reset_timestamp(self) -> float | None:
        if self.reset_at is None:
            return None
        if isinstance(self.reset_at, dt.datetime):
            return self.reset_at.timestamp()
        return float(self.reset_at)


@dataclass(frozen=True)
class ExhaustedProvider:
    backend: str
    provider: str
    available_at: float | None


class AllProvidersExhaustedError(AutoRouterError):
    """Nothing is left to try. Says when the earliest provider is available again."""

    code = "ALL_PROVIDERS_EXHAUSTED"
    exit_code = 75  # EX_TEMPFAIL

    def __init__(
        self,
        backends: tuple[str, ...],
        earliest: ExhaustedProvider | None,
        *,
        detail: str | None = None,
    ) -> None:
        self.backends = backends
        self.earliest = earliest
        names = ", ".join(backends) or "(none)"
        message = f"every provider of {names} is cooling down"
        if earliest is not None and earliest.available_at is not None:
            when = dt.datetime.fromtimestamp(earliest.available_at).astimezone()
            message += (
                f"; the earliest, {earliest.backend}/{earliest.provider}, is available again at "
                f"{when.isoformat(timespec='seconds')}"
            )
        if detail:
            message += f" ({detail})"
        super().__init__(message, hint="wait, or clear the cooldowns with `auto-router reset`")

    @property
    def earliest_available_at(self) -> float | None:
        return None if self.earliest is None else self.earliest.available_at


class TemplateNotFoundError(NotFoundError):
    code = "TEMPLATE_NOT_FOUND"


class AlreadyExistsError(AutoRouterError):
    code = "ALREADY_EXISTS"


class BackendExistsError(AlreadyExistsError):
    code = "BACKEND_EXISTS"


class ProviderExistsError(AlreadyExistsError):
    code = "PROVIDER_EXISTS"


class EditConflictError(AutoRouterError):
    """The file changed on disk while it was being edited (``config edit``)."""

    code = "EDIT_CONFLICT"


class TranslationError(AutoRouterError):
    """A request or response cannot be put into the other protocol (the proxy answers 400)."""

    code = "TRANSLATION_ERROR"
