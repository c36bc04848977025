"""``auto-router run``: launch, watch for usage limits, rotate, launch again.

One invocation is a *run* with an id; each child process it starts is an *attempt*, logged
to the attempts table. On a detected usage limit the provider is put in cooldown (until the
reset time the agent printed, if any), the next provider not cooling down is chosen, one
line on stderr says so, and the same command runs again. After the backend's providers come
the next backends in ``order`` (when no explicit command was given, or with
``allow_backend_switch``). A plain failure, a Ctrl-C and a timeout never rotate.

Exit status: the last child's (128+N when a signal killed it); 75 (EX_TEMPFAIL) when the run
ended on a usage limit with nothing left to try; 124 when ``timeout`` ended the child.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from ..errors import AllProvidersExhaustedError
from ..rotation import DIRECT
from ..rotator import Choice, Rotator
from ..store.attempts import (
    FAILED,
    INTERRUPTED,
    NOT_STARTED,
    OK,
    TIMEOUT,
    USAGE_LIMIT,
    Attempt,
    AttemptLog,
)
from .markers import Detection, OutputScanner
from .plan import ChildPlan, plan_child
from .process import ChildResult, CommandNotFoundError, run_child, stderr_line
from .resets import parse_reset

EX_TEMPFAIL: Final = 75
EXIT_TIMEOUT: Final = 124

Notify = Callable[[str], None]
Clock = Callable[[], float]


@dataclass(frozen=True)
class RunOptions:
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


@dataclass(frozen=True)
class RunResult:
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

    def plan(self, options: RunOptions, choice: Choice, workdir: Path | None) -> ChildPlan:
        return plan_child(
            self.rotator.config,
            choice.backend.name,
            choice.provider,
            options.command,
            self.environ,
            workdir,
        )

    def dry_run(self, options: RunOptions) -> list[str]:
        """What the first attempt would run, with variable names and masked values."""
        choice = self.first_choice(options)
        with tempfile.TemporaryDirectory(prefix="auto-router-") as workdir:
            plan = self.plan(options, choice, Path(workdir))
        limit = options.max_attempts or self.default_max_attempts(options, choice.backend.name)
        lines = plan.describe()
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

    def run(self, options: RunOptions) -> RunResult:
        choice = self.first_choice(options)
        start = choice.backend.name
        limit = options.max_attempts or self.default_max_attempts(options, start)
        run_id = uuid.uuid4().hex[:12]
        attempts: list[Attempt] = []
        number = 0
        while True:
            number += 1
            attempt, result, detection = self._attempt(options, choice, run_id, number)
            attempts.append(attempt)
            backend, provider = choice.backend.name, choice.provider_name
            if result.timed_out and not choice.backend.rotate_on_timeout:
                return RunResult(EXIT_TIMEOUT, run_id, tuple(attempts))
            if not detection.limit:
                if result.exit_code == 0 and not result.interrupted:
                    self.rotator.record_success(backend, provider)
                return RunResult(result.exit_code, run_id, tuple(attempts))

            state = self.rotator.record_usage_limit(
                backend,
                provider,
                reset_at=attempt.reset_at,
                reason=f"usage limit: {detection.marker}",
            )
            until = state.provider(provider or DIRECT).cooldown_until
            what = self._limit_phrase(choice, attempt.reset_at, until)
            if result.interrupted:
                # The user stopped it: remember the limit for next time, do not run again.
                return RunResult(result.exit_code, run_id, tuple(attempts))
            if not options.rotate:
                self.notify(f"auto-router: {what}; not retrying (--no-rotate)")
                return RunResult(EX_TEMPFAIL, run_id, tuple(attempts))
            try:
                following = self.rotator.choose(start, fallback=self._may_switch(options))
            except AllProvidersExhaustedError as exc:
                self.notify(f"auto-router: {what}; {self._exhausted_phrase(exc)}")
                return RunResult(EX_TEMPFAIL, run_id, tuple(attempts))
            if number >= limit:
                self.notify(
                    f"auto-router: {what}; giving up after {number} attempt(s) "
                    f"(--max-attempts {limit})"
                )
                return RunResult(EX_TEMPFAIL, run_id, tuple(attempts))
            self.notify(
                f"auto-router: {what}; retrying with {self._name(following, choice)} "
                f"({number + 1}/{limit})"
            )
            choice = following

    def _attempt(
        self, options: RunOptions, choice: Choice, run_id: str, number: int
    ) -> tuple[Attempt, ChildResult, Detection]:
        started_at = self.clock()
        with tempfile.TemporaryDirectory(prefix="auto-router-") as workdir:
            plan = self.plan(options, choice, Path(workdir))
            env = plan.child_env(self.environ)
            env["AUTO_ROUTER_RUN_ID"] = run_id
            env["AUTO_ROUTER_ATTEMPT"] = str(number)
            scanner = OutputScanner(plan.markers)
            stdin_fd, stdout_fd, stderr_fd = self.fds
            try:
                result = run_child(
                    plan.argv,
                    env,
                    scanner.feed,
                    pty_mode=options.pty,
                    timeout=options.timeout,
                    stdin_fd=stdin_fd,
                    stdout_fd=stdout_fd,
                    stderr_fd=stderr_fd,
                )
            except CommandNotFoundError:
                self.log.add(
                    Attempt(
                        run_id=run_id,
                        attempt=number,
                        started_at=started_at,
                        backend=plan.backend,
                        provider=plan.provider,
                        command=plan.command_name,
                        outcome=NOT_STARTED,
                        exit_code=127,
                    )
                )
                raise
        detection = scanner.verdict(result.exit_code)
        if result.timed_out:
            # A timeout is not a usage limit, unless the backend says to treat it as one.
            detection = (
                Detection(True, "timeout", reason="rotate_on_timeout")
                if choice.backend.rotate_on_timeout
                else Detection(False)
            )
        reset_at = (
            parse_reset(scanner.text_tail(), self.clock(), self.tz) if detection.limit else None
        )
        attempt = Attempt(
            run_id=run_id,
            attempt=number,
            started_at=started_at,
            backend=plan.backend,
            provider=plan.provider,
            command=plan.command_name,
            outcome=_outcome(result, detection),
            duration=result.duration,
            exit_code=EXIT_TIMEOUT if result.timed_out else result.exit_code,
            limit_detected=detection.limit,
            marker=detection.marker,
            reset_at=reset_at,
        )
        attempt = Attempt(**{**attempt.as_dict(), "id": self.log.add(attempt)})
        return attempt, result, detection

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
    return OK if result.exit_code == 0 else FAILED
