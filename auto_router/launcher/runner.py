"""``auto-router run``: launch, watch for usage limits, rotate, launch again.

One invocation is a *run* with an id; each child process it starts is an *attempt*, logged
to the attempts table. On a detected usage limit the provider is put in cooldown (until the
reset time the agent printed, if any), the next provider not cooling down is chosen, one
line on stderr says so, and the same command runs again. After the backend's providers come
the next backends in ``order`` (when no explicit command was given, or with
``allow_backend_switch``). A plain failure, a Ctrl-C and a timeout never rotate.

Exit status: the last child's (128+N when a signal killed it); 75 (EX_TEMPFAIL) when the run
ended on a usage limit with nothing left to try; 124 when ``timeout`` ended the child; 1 when
the child exited 0 through the proxy although the proxy answered none of its requests.

Each attempt is in the attempts table from its start (``running``), completed when it ends.
Through the managed proxy the run's record also decides (``session.judge_record``); a run
that is not interactive is ended on the proxy's cooling 429 (``session.cooling_watch``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Final, NamedTuple

from ..agents import Agent, agent_for
from ..config import BackendConfig, ProviderConfig
from ..errors import AllProvidersExhaustedError, CommandNotFoundError, ProtocolMismatchError
from ..limits.cooling import cooling_line
from ..limits.scanner import Detection, OutputScanner
from ..rotation.policy import DIRECT
from ..rotation.service import Choice, Rotator
from ..secrets import Secret
from ..store.attempts import (
    FAILED,
    INTERRUPTED,
    NOT_STARTED,
    OK,
    RUNNING,
    TIMEOUT,
    USAGE_LIMIT,
    Attempt,
    AttemptLog,
)
from .direct_notify import direct_notify
from .plan import ChildPlan, ProxyTarget, plan_child
from .process import ChildResult, Stop, run_child, stderr_line
from .reach import Mode, decide, family_of, reach
from .session import (
    NOTHING_SERVED,
    ProxySession,
    Served,
    cooling_watch,
    judge_record,
    open_session,
    served,
)

EX_TEMPFAIL: Final = 75
EXIT_TIMEOUT: Final = 124
#: The run's exit status when the agent exited 0 but the proxy answered none of its requests.
EXIT_NOTHING_SERVED: Final = 1

Notify = Callable[[str], None]
Clock = Callable[[], float]


class RunOptions(NamedTuple):
    backend: str | None = None
    provider: str | None = None
    #: The explicit command after ``--``; ``None`` runs the provider's/backend's command.
    command: tuple[str, ...] | None = None
    max_attempts: int | None = None
    rotate: bool = True
    allow_backend_switch: bool = False
    timeout: float | None = None
    #: ``None``: a PTY when stdin and stdout are terminals.
    pty: bool | None = None
    #: ``True``: through the local proxy (--via-proxy), ``False``: direct (--direct),
    #: ``None``: as configured (``via_proxy``, default "auto").
    via_proxy: bool | None = None


class RunResult(NamedTuple):
    exit_code: int
    run_id: str
    attempts: tuple[Attempt, ...]


class Launcher:
    """Runs commands on the current provider of a backend, rotating on usage limits."""

    def __init__(
        self,
        rotator: Rotator,
        log: AttemptLog | None = None,
        *,
        environ: Mapping[str, str],
        notify: Notify = stderr_line,
        tz: dt.tzinfo | None = None,
        stdin_fd: int = 0,
        stdout_fd: int = 1,
        stderr_fd: int = 2,
    ) -> None:
        self.rotator = rotator
        self.log = log or AttemptLog(rotator.paths.database)
        self.environ = dict(environ)  # a snapshot: the parent's own is never touched
        self.notify = notify
        self.tz = tz
        self.fds = (stdin_fd, stdout_fd, stderr_fd)

    @property
    def clock(self) -> Clock:
        return self.rotator.clock

    # ------------------------------------------------------------------ planning

    def first_choice(self, options: RunOptions) -> Choice:
        config = self.rotator.config
        start = options.backend or config.default_backend
        if options.provider:
            if start is None:
                start = self.rotator.choose(None).backend.name
            return Choice(config.backend(start), config.provider(start, options.provider))
        return self.rotator.choose(start, fallback=self._may_switch(options))

    def plan(
        self,
        options: RunOptions,
        choice: Choice,
        workdir: Path | None,
        session: ProxySession | None = None,
    ) -> ChildPlan:
        return plan_child(
            self.rotator.config,
            choice.backend.name,
            choice.provider,
            options.command,
            self.environ,
            workdir,
            session.target if session is not None else None,
        )

    def dry_run(self, options: RunOptions) -> list[str]:
        """What the first attempt would run, with variable names and masked values."""
        choice = self.first_choice(options)
        mode = self.mode(options, choice)
        session = None
        if mode.via_proxy:  # what the agent would get; no proxy is started for a dry run
            assert mode.family is not None
            token = Secret("arr_" + "x" * 43)
            model = self._model(choice)  # the same model the real run gives the agent
            placeholder = ProxyTarget("http://127.0.0.1:PORT", token, mode.family, model)
            session = ProxySession(placeholder)
        with tempfile.TemporaryDirectory(prefix="auto-router-") as workdir:
            plan = self.plan(options, choice, Path(workdir), session)
        limit = options.max_attempts or self.default_max_attempts(options, choice.backend.name)
        lines = plan.describe()
        lines.append(f"via: {'the local proxy, ' if mode.via_proxy else ''}{mode.reason}")
        lines.append(
            f"attempts: up to {limit}"
            + ("" if options.rotate else " (--no-rotate: only 1)")
            + (", may switch backends" if self._may_switch(options) else "")
        )
        return lines

    def default_max_attempts(self, options: RunOptions, start: str) -> int:
        """Every provider once: of this backend, and of later ones when switching is allowed."""
        config = self.rotator.config
        backends = config.backend_order(start) if self._may_switch(options) else (start,)
        return max(1, sum(len(self.rotator.rotation_names(b)) for b in backends))

    @staticmethod
    def _may_switch(options: RunOptions) -> bool:
        return options.allow_backend_switch or not options.command

    # ------------------------------------------------------------------ running

    def mode(self, options: RunOptions, choice: Choice) -> Mode:
        """Direct, or through the local proxy (see ``reach.decide``)."""
        config = self.rotator.config
        backend = choice.backend
        agent = self._agent(options, choice)
        if options.provider and choice.provider is not None:
            # A chosen provider runs direct unless --via-proxy says otherwise (the proxy
            # would pick providers itself), or unless only translation can reach it.
            explicit: bool | None = options.via_proxy is True
            found = reach(agent, choice.provider, translate=backend.translate)
            if not found.direct and found.proxy and options.via_proxy is not False:
                explicit = None
            return decide(config, backend, agent, (choice.provider,), explicit)
        providers = config.enabled_providers_of(backend.name)
        return self._decide_mixed(backend, agent, providers, options.via_proxy)

    def _decide_mixed(
        self,
        backend: BackendConfig,
        agent: Agent,
        providers: Sequence[ProviderConfig],
        explicit: bool | None,
    ) -> Mode:
        """``decide``, and for an agent that speaks several APIs (opencode) on a pool of several:
        the first of its APIs the proxy serves every provider in (through translation for the
        others), so the run rotates per request instead of going direct."""
        config = self.rotator.config
        through = agent.protocols if agent.proxy_protocols is None else agent.proxy_protocols
        if (
            len({family_of(p) for p in providers}) > 1
            and len(through) > 1
            and explicit is not False
        ):
            for family in through:
                narrowed = agent._replace(protocols=(family,), proxy_protocols=(family,))
                try:
                    found = decide(config, backend, narrowed, providers, explicit)
                except ProtocolMismatchError:
                    continue
                if found.via_proxy:
                    return found
        return decide(config, backend, agent, providers, explicit)

    def _agent(self, options: RunOptions, choice: Choice) -> Agent:
        backend = choice.backend
        provider = choice.provider
        command = options.command
        if not command and provider is not None and provider.command:
            command = (provider.command,)
        if not command and backend.command:
            command = (backend.command,)
        return agent_for(backend, command)

    def run(self, options: RunOptions) -> RunResult:
        choice = self.first_choice(options)
        run_id = os.urandom(6).hex()  # as random as uuid4().hex[:12], without uuid's imports
        mode = self.mode(options, choice)
        session = self._open(options, choice, mode, run_id) if mode.via_proxy else None
        try:
            with direct_notify(self.rotator, session is None):  # the proxy tells its own
                return self._loop(options, choice, run_id, session)
        finally:
            for line in session.close() if session is not None else ():
                self.notify(f"auto-router: {line}")

    def _open(self, options: RunOptions, choice: Choice, mode: Mode, run_id: str) -> ProxySession:
        assert mode.family is not None
        config, model = self.rotator.config, self._model(choice)
        return open_session(config, choice.backend.name, mode.family, model, run_id, self.environ)

    def _model(self, choice: Choice) -> str | None:
        model = choice.backend.model
        if choice.provider is not None:
            model = choice.provider.resolve(self.environ).model or model
        return model

    def _loop(
        self, options: RunOptions, choice: Choice, run_id: str, session: ProxySession | None
    ) -> RunResult:
        start = choice.backend.name
        limit = options.max_attempts or self.default_max_attempts(options, start)
        attempts: list[Attempt] = []
        while True:
            number = len(attempts) + 1
            attempt, result, detection = self._attempt(options, choice, run_id, number, session)
            attempts.append(attempt)
            if session is not None:
                following = self._after_proxied(options, choice, result, detection, number, limit)
            else:
                following = self._after(options, choice, start, attempt, result, detection, limit)
            if isinstance(following, int):
                return RunResult(following, run_id, tuple(attempts))
            choice = following

    def _after(
        self,
        options: RunOptions,
        choice: Choice,
        start: str,
        attempt: Attempt,
        result: ChildResult,
        detection: Detection,
        limit: int,
    ) -> int | Choice:
        """A direct attempt ended: the exit status to stop with, or the next choice."""
        backend, provider = choice.backend.name, choice.provider_name
        if result.timed_out and not choice.backend.rotate_on_timeout:
            return EXIT_TIMEOUT
        if not detection.limit:
            if result.exit_code == 0 and not result.interrupted:
                self.rotator.record_success(backend, provider)
            return result.exit_code
        state = self.rotator.record_usage_limit(
            backend, provider, reset_at=attempt.reset_at, reason=f"usage limit: {detection.marker}"
        )
        until = state.provider(provider or DIRECT).cooldown_until
        what = self._limit_phrase(choice, attempt.reset_at, until)
        if result.interrupted:
            return result.exit_code  # the user stopped it: remember the limit, do not rerun
        if not options.rotate:
            self.notify(f"auto-router: {what}; not retrying (--no-rotate)")
            return EX_TEMPFAIL
        try:
            following = self.rotator.choose(start, fallback=self._may_switch(options))
        except AllProvidersExhaustedError as exc:
            self.notify(f"auto-router: {what}; {self._exhausted_phrase(exc)}")
            return EX_TEMPFAIL
        number = attempt.attempt
        if number >= limit:
            self.notify(
                f"auto-router: {what}; giving up after {number} attempt(s) (--max-attempts {limit})"
            )
            return EX_TEMPFAIL
        self.notify(
            f"auto-router: {what}; retrying with {self._name(following, choice)} "
            f"({number + 1}/{limit})"
        )
        return following

    def _after_proxied(
        self,
        options: RunOptions,
        choice: Choice,
        result: ChildResult,
        detection: Detection,
        number: int,
        limit: int,
    ) -> int | Choice:
        """An attempt through the proxy ended. The proxy already failed over and recorded
        every limit; a limit the agent still saw means nothing was left when it asked."""
        if result.timed_out:
            return EXIT_TIMEOUT
        if detection.reason == NOTHING_SERVED:
            self.notify(f"auto-router: {detection.marker}; recorded as failed")
            return EXIT_NOTHING_SERVED
        if not detection.limit or result.interrupted:
            return result.exit_code
        backend = choice.backend.name
        try:
            self.rotator.choose(backend, fallback=False)
        except AllProvidersExhaustedError as exc:
            earliest = exc.earliest
            name = (earliest.provider or earliest.backend) if earliest is not None else None
            available = earliest.available_at if earliest is not None else None
            line = cooling_line(backend, name, available, self.clock(), self.tz)
            self.notify(f"auto-router: {line}")
            return EX_TEMPFAIL
        if not options.rotate or number >= limit:
            self.notify(
                f"auto-router: the agent stopped on a usage limit; giving up after "
                f"{number} attempt(s)"
            )
            return EX_TEMPFAIL
        self.notify(
            f"auto-router: the agent stopped on a usage limit but {backend} has a "
            f"provider again; running it again ({number + 1}/{limit})"
        )
        return choice

    def _attempt(
        self,
        options: RunOptions,
        choice: Choice,
        run_id: str,
        number: int,
        session: ProxySession | None = None,
    ) -> tuple[Attempt, ChildResult, Detection]:
        started_at = self.clock()
        seen = len(session.events()) if session is not None else 0
        with tempfile.TemporaryDirectory(prefix="auto-router-") as workdir:
            plan = self.plan(options, choice, Path(workdir), session)
            attempt = Attempt(
                run_id=run_id,
                attempt=number,
                started_at=started_at,
                backend=plan.backend,
                provider=plan.provider,
                command=plan.command_name,
                outcome=RUNNING,
            )
            # In the table while it runs, so `history` shows a live run.
            attempt = dataclasses.replace(attempt, id=self.log.add(attempt))
            scanner = OutputScanner(plan.markers)
            stop = cooling_watch(session, seen) if session is not None else None
            try:
                result = self._launch(options, plan, scanner, run_id, number, stop)
            except CommandNotFoundError:
                self.log.finish(dataclasses.replace(attempt, outcome=NOT_STARTED, exit_code=127))
                raise
        record = served(session.events()[seen:]) if session is not None else None
        detection = self._judge(scanner, result, choice, record)
        reset_at = self._reset_at(scanner) if detection.limit else None
        attempt = dataclasses.replace(
            attempt,
            outcome=_outcome(result, detection),
            duration=result.duration,
            exit_code=EXIT_TIMEOUT if result.timed_out else result.exit_code,
            limit_detected=detection.limit,
            marker=detection.marker,
            reset_at=reset_at,
        )
        self.log.finish(attempt)
        return attempt, result, detection

    def _launch(
        self,
        options: RunOptions,
        plan: ChildPlan,
        scanner: OutputScanner,
        run_id: str,
        n: int,
        stop: Stop | None = None,
    ) -> ChildResult:
        env = plan.child_env(self.environ)
        env["AUTO_ROUTER_RUN_ID"] = run_id
        env["AUTO_ROUTER_ATTEMPT"] = str(n)
        stdin_fd, stdout_fd, stderr_fd = self.fds
        return run_child(
            plan.argv,
            env,
            scanner.feed,
            pty_mode=options.pty,
            timeout=options.timeout,
            stdin_fd=stdin_fd,
            stdout_fd=stdout_fd,
            stderr_fd=stderr_fd,
            stop=stop,
        )

    def _reset_at(self, scanner: OutputScanner) -> float | None:
        """When the limit the child reported resets, if its output says."""
        # Here, not at import: the reset-phrase tables (a dozen regular expressions, ~3 ms)
        # matter only to an attempt that hit a limit.
        from ..limits.resets import parse_reset

        return parse_reset(scanner.text_tail(), self.clock(), self.tz)

    @staticmethod
    def _judge(
        scanner: OutputScanner, result: ChildResult, choice: Choice, record: Served | None = None
    ) -> Detection:
        judged = judge_record(record, result) if record is not None else None
        if judged is not None:
            return judged
        if not result.timed_out:
            return scanner.verdict(result.exit_code)
        # A timeout is not a usage limit, unless the backend says to treat it as one.
        if choice.backend.rotate_on_timeout:
            return Detection(True, "timeout", reason="rotate_on_timeout")
        return Detection(False)

    # ------------------------------------------------------------------ messages

    def _when(self, timestamp: float) -> str:
        moment = dt.datetime.fromtimestamp(timestamp, self.tz)
        today = dt.datetime.fromtimestamp(self.clock(), self.tz).date()
        if moment.date() == today:
            return moment.strftime("%H:%M")
        return moment.strftime("%Y-%m-%d %H:%M")

    def _limit_phrase(self, choice: Choice, reset_at: float | None, until: float | None) -> str:
        name = choice.provider_name or choice.backend.name
        if reset_at is not None:
            detail = f"resets {self._when(reset_at)}"
        elif until is not None:
            detail = f"no reset time given; cooling down until {self._when(until)}"
        else:
            detail = "no reset time given"
        return f"{name} hit its usage limit ({detail})"

    def _exhausted_phrase(self, exc: AllProvidersExhaustedError) -> str:
        earliest = exc.earliest
        if earliest is None or earliest.available_at is None:
            return "no provider left to try"
        name = earliest.provider or earliest.backend
        return (
            f"no provider left to try; the earliest reset is {earliest.backend}/{name} at "
            f"{self._when(earliest.available_at)}"
        )

    @staticmethod
    def _name(following: Choice, previous: Choice) -> str:
        provider = following.provider_name
        if following.backend.name != previous.backend.name:
            return f"{following.backend.name}/{provider}" if provider else following.backend.name
        return provider or following.backend.name


def _outcome(result: ChildResult, detection: Detection) -> str:
    if result.timed_out:
        return TIMEOUT
    if result.interrupted:
        return INTERRUPTED
    if detection.limit:
        return USAGE_LIMIT
    if detection.reason == NOTHING_SERVED:
        return FAILED
    return OK if result.exit_code == 0 else FAILED
