"""What one attempt runs: the command line and the variables laid over the parent environment.

The overlay, later entries winning:

1. ``AUTO_ROUTER_BACKEND`` / ``AUTO_ROUTER_PROVIDER`` (so a script can tell where it runs);
2. the agent's variables, filled from the provider's ``base_url``, ``api_key`` and ``model``
   (skipped for any variable the provider exports itself);
3. the agent's fail-fast knobs (unless the backend says ``fail_fast = false``);
4. the provider's UPPERCASE variables, ``${VAR}`` expanded.

Through the proxy (``ProxyTarget``) the agent's variables point at the local proxy with the
run's token and name the current provider's model; of the current provider's own variables
only those that name no endpoint, key or model (``config.kinds.ENDPOINT_NAMES``, and the
agent's own) reach the child: timeouts and feature flags, never a credential of a provider.
On a backend with a subscription provider, an agent with a login of its own keeps it and
the run's token goes in a header (``logins``); an agent module may then also drop inherited
credential variables from the child's environment (``ChildPlan.unset``).

The parent's environment is read, never written: the child gets ``{**environ, **overlay}``.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..agents import Agent, FailFastContext, Setup, Target, agent_for, executable_name
from ..config import BackendConfig, Config, ProviderConfig, ResolvedProvider
from ..config.kinds import derived_lines
from ..errors import ConfigValidationError, MissingVariableError, NoCommandError
from ..limits.scanner import Marker, combine
from ..rotation.service import Rotator
from ..secrets import Secret, looks_secret, mask
from .logins import login_of
from .reach import check_direct


@dataclass(frozen=True)
class ProxyTarget:
    """The local proxy a run goes through: its URL, the run's token, the agent's API."""

    url: str
    token: Secret = field(repr=False)
    family: str
    model: str | None = None
    #: The agent keeps its own login; the token goes in ``RUN_TOKEN_HEADER`` (``logins``).
    keep_login: bool = False
    context_window: int | None = None

    def target(self, backend: str) -> Target:
        base = self.url.rstrip("/") + ("/v1" if self.family == "openai" else "")
        return Target(
            backend=backend,
            provider="proxy",
            protocol=self.family,
            type=self.family,
            base_url=base,
            api_key=self.token,
            model=self.model,
            keep_login=self.keep_login,
            context_window=self.context_window,
        )


@dataclass(frozen=True)
class ChildPlan:
    backend: str
    provider: str | None
    agent: Agent
    argv: tuple[str, ...]
    overlay: Mapping[str, str] = field(repr=False)
    #: Names whose values must never be shown.
    secret_names: frozenset[str]
    markers: tuple[Marker, ...]
    notes: tuple[str, ...] = ()
    explicit_command: bool = False
    #: Variables of the parent's environment the child does not inherit.
    unset: frozenset[str] = frozenset()

    @property
    def command_name(self) -> str:
        return executable_name(self.argv[0]) if self.argv else ""

    def child_env(self, environ: Mapping[str, str]) -> dict[str, str]:
        env = {k: v for k, v in environ.items() if k not in self.unset}
        env.update(self.overlay)
        return env

    def masked_overlay(self) -> dict[str, str]:
        """Variable names with masked values: secrets fully, others as they are."""
        return {
            name: _masked(name, value) if name in self.secret_names else value
            for name, value in sorted(self.overlay.items())
        }

    def describe(self) -> list[str]:
        """Lines for ``--dry-run``: the command and the variables, no secret values."""
        if "AUTO_ROUTER_PROXY" in self.overlay:
            where = f"{self.backend} (providers chosen per request by the local proxy)"
        elif self.provider:
            where = f"{self.backend}/{self.provider}"
        else:
            where = f"{self.backend} (no provider)"
        lines = [
            f"backend/provider: {where}",
            f"agent: {self.agent.name} ({self.agent.title})",
            f"command: {shlex.join(self.argv)}",
            "environment (added to yours; values masked):",
        ]
        for name, value in self.masked_overlay().items():
            lines.append(f"  {name}={value}")
        if self.unset:
            lines.append("removed from the agent's environment: " + ", ".join(sorted(self.unset)))
        lines.extend(f"note: {note}" for note in self.notes)
        return lines


def _masked(name: str, value: str) -> str:
    """A secret for --dry-run: a header list (``ANTHROPIC_CUSTOM_HEADERS``) keeps its header
    names, so the run shows which header carries its token."""
    if name.endswith("_HEADERS") and ":" in value:
        lines = (line.partition(":") for line in value.splitlines())
        return "\\n".join(f"{head}: {mask(rest.strip())}" for head, _, rest in lines)
    if "://" in value and "/r/" in value:  # a URL with the run's token in its path (Gemini)
        head, _, token = value.partition("/r/")
        return f"{head}/r/{mask(token)}"
    return mask(value) or "''"


def target_of(backend: BackendConfig, resolved: ResolvedProvider | None) -> Target:
    if resolved is None:
        return Target(backend=backend.name, provider=None, model=backend.model)
    config = resolved.config
    return Target(
        backend=backend.name,
        provider=resolved.name,
        protocol=config.protocol,
        type=config.type,
        base_url=resolved.base_url,
        api_key=resolved.api_key,
        model=resolved.model or backend.model,
        api_version=resolved.api_version,
        context_window=config.context_window,
        keep_login=config.passthrough,
    )


def base_command(
    backend: BackendConfig, resolved: ResolvedProvider | None, agent: Agent
) -> tuple[str, ...]:
    """The provider's ``command``+``args``, else the backend's, else the agent's default."""
    if resolved is not None and resolved.command:
        return (resolved.command, *resolved.args)
    if backend.command:
        return (backend.command, *backend.args)
    if agent.default_command:
        return agent.default_command
    raise NoCommandError(
        f"backend {backend.name!r} has no command to run",
        hint="name one after `--` (auto-router run -- CMD ARGS), or set `command` in "
        f"[backends.{backend.name}] or its provider tables",
    )


def plan_child(
    config: Config,
    backend_name: str,
    provider: ProviderConfig | None,
    command: Sequence[str] | None,
    environ: Mapping[str, str],
    workdir: Path | None,
    proxy: ProxyTarget | None = None,
) -> ChildPlan:
    """The command and overlay for one attempt. ``workdir`` holds fail-fast settings files."""
    backend = config.backend(backend_name)
    notes = derivation_notes(config, backend, provider, proxy is not None)
    passthrough: dict[str, str] = {}
    if proxy is not None:
        proxy, passthrough = _through_proxy(backend, provider, proxy, environ)
        provider = None  # the proxy picks providers per request
    resolved = provider.resolve(environ) if provider is not None else None
    explicit = bool(command)
    agent, argv = _agent_and_argv(backend, resolved, command)
    if provider is not None:
        check_direct(agent, provider, translate=backend.translate)
    if proxy is not None:
        login = login_of(config, backend.name, agent)
        proxy = replace(proxy, keep_login=login.keep, context_window=login.context_window)
        if not login.keep:
            notes.append("authentication: the run's token as the agent's API key")

    target = proxy.target(backend.name) if proxy is not None else target_of(backend, resolved)
    if resolved is not None:
        provider_env = resolved.exported_env()
    else:  # through the proxy: what the agent sets itself points at the proxy
        provider_env = {k: v for k, v in passthrough.items() if k not in agent.variables}
    overlay, secret_names, setup = _overlay(
        backend, resolved, agent, environ, workdir, target, provider_env
    )
    if proxy is not None:
        overlay["AUTO_ROUTER_PROXY"] = proxy.url
    try:
        markers = combine(
            agent.markers, backend.usage_markers, replace=backend.usage_markers_replace
        )
    except ValueError as exc:
        raise ConfigValidationError(
            str(exc),
            path=config.paths.llm_config,
            line=backend.line,
            key_path=f"[backends.{backend.name}].usage_markers",
        ) from exc
    return ChildPlan(
        backend=backend.name,
        provider=resolved.name if resolved is not None else None,
        agent=agent,
        argv=_insert_args(argv, agent, setup.args),
        overlay=overlay,
        secret_names=secret_names,
        markers=markers,
        notes=(*notes, *setup.notes),
        explicit_command=explicit,
        unset=frozenset(setup.unset) - set(overlay),
    )


def _agent_and_argv(
    backend: BackendConfig, resolved: ResolvedProvider | None, command: Sequence[str] | None
) -> tuple[Agent, tuple[str, ...]]:
    """The agent and the command line: the one given, else the provider's or backend's."""
    if command:
        return agent_for(backend, command), tuple(command)
    provisional = (resolved.command,) if resolved is not None and resolved.command else None
    agent = agent_for(backend, provisional or ((backend.command,) if backend.command else None))
    argv = base_command(backend, resolved, agent)
    return agent_for(backend, argv), argv


def _through_proxy(
    backend: BackendConfig,
    current: ProviderConfig | None,
    proxy: ProxyTarget,
    environ: Mapping[str, str],
) -> tuple[ProxyTarget, dict[str, str]]:
    """The proxy target naming the current provider's model, and that provider's variables
    that are no endpoint (timeouts, feature flags), which the agent still gets."""
    resolved = _resolve_quietly(current, environ)
    model = (resolved.model if resolved is not None else None) or backend.model or proxy.model
    passthrough = resolved.passthrough_env() if resolved is not None else {}
    return replace(proxy, model=model), passthrough


def _resolve_quietly(
    provider: ProviderConfig | None, environ: Mapping[str, str]
) -> ResolvedProvider | None:
    """The provider expanded, or ``None`` when a variable is missing: through the proxy that
    only makes this one provider unusable, which the proxy reports per request."""
    if provider is None:
        return None
    try:
        return provider.resolve(environ)
    except MissingVariableError:
        return None


def derivation_notes(
    config: Config, backend: BackendConfig, provider: ProviderConfig | None, via_proxy: bool
) -> list[str]:
    """What was read from agent variables, per provider (names of variables, never values):
    every enabled provider through the proxy, the chosen one directly."""
    if via_proxy:
        providers: Sequence[ProviderConfig] = config.enabled_providers_of(backend.name)
    else:
        providers = (provider,) if provider is not None else ()
    return [
        f"{p.key}: {p.type} endpoint from agent variables ({', '.join(derived_lines(p.derived))})"
        for p in providers
        if p.derived
    ]


@dataclass(frozen=True)
class ShellExport:
    """What ``auto-router env`` prints: the overlay without fail-fast knobs or temp files."""

    backend: str
    provider: str | None
    agent: Agent
    variables: Mapping[str, str] = field(repr=False)
    secret_names: frozenset[str]
    #: Arguments the agent needs that no variable can carry (Codex's ``-c``).
    args: tuple[str, ...]
    #: Variables the shell should drop (a key that would replace a subscription's login).
    unset: frozenset[str] = frozenset()


def plan_export(
    config: Config,
    backend_name: str,
    provider: ProviderConfig | None,
    environ: Mapping[str, str],
) -> ShellExport:
    backend = config.backend(backend_name)
    resolved = provider.resolve(environ) if provider is not None else None
    command = (resolved.command,) if resolved is not None and resolved.command else None
    agent = agent_for(backend, command or ((backend.command,) if backend.command else None))
    target = target_of(backend, resolved)
    provider_env = resolved.exported_env() if resolved is not None else {}
    overlay, secret_names, setup = _overlay(
        backend, resolved, agent, environ, None, target, provider_env
    )
    return ShellExport(
        backend=backend.name,
        provider=resolved.name if resolved is not None else None,
        agent=agent,
        variables=overlay,
        secret_names=secret_names,
        args=tuple(setup.args),
        unset=frozenset(setup.unset) - set(overlay),
    )


def export_for(
    rotator: Rotator,
    backend: str | None,
    provider: str | None,
    environ: Mapping[str, str],
) -> ShellExport:
    """The variables of ``provider`` (default: the backend's current one) for a shell."""
    config = rotator.config
    name = backend or config.default_backend
    if name is None:
        raise NoCommandError("no backend is configured", hint="see `auto-router config init`")
    config.backend(name)
    chosen = provider or rotator.current_slot(name)  # a pool: its current key
    found = config.provider(name, chosen) if chosen else None
    return plan_export(config, name, found, environ)


def _overlay(
    backend: BackendConfig,
    resolved: ResolvedProvider | None,
    agent: Agent,
    environ: Mapping[str, str],
    workdir: Path | None,
    target: Target,
    provider_env: Mapping[str, str],
) -> tuple[dict[str, str], frozenset[str], Setup]:
    """``provider_env``: the provider's variables for the child (through the proxy, only
    those that are no endpoint)."""
    setup = agent.configure(target, frozenset(provider_env))
    if backend.fail_fast and workdir is not None:
        setup = setup.merge(agent.fail_fast(FailFastContext(workdir, environ), setup))
    elif not backend.fail_fast:
        setup = setup.merge(Setup(notes=["fail-fast off (fail_fast = false)"]))
    if agent.prepare is not None and workdir is not None:
        context = FailFastContext(workdir, environ)
        setup = setup.merge(agent.prepare(context, setup, backend.fail_fast))
    overlay: dict[str, str] = {"AUTO_ROUTER_BACKEND": backend.name}
    if resolved is not None:
        overlay["AUTO_ROUTER_PROVIDER"] = resolved.name
    overlay.update(setup.env)
    overlay.update({k: v for k, v in setup.defaults.items() if k not in environ})
    overlay.update(provider_env)
    secret_names = set(setup.secret_names) | set(provider_env)
    secret_names |= {name for name in overlay if looks_secret(name)}
    return overlay, frozenset(secret_names), setup


def _insert_args(argv: tuple[str, ...], agent: Agent, args: Sequence[str]) -> tuple[str, ...]:
    """Agent arguments go right after the agent's executable (``npx @openai/codex`` too)."""
    if not args:
        return argv
    at = 0
    for i, part in enumerate(argv):
        if executable_name(part) in agent.executables:
            at = i
            break
    return (*argv[: at + 1], *args, *argv[at + 1 :])
