"""``[notify]`` for a run in direct mode: its rotations and exhaustions run the command too.

Through the proxy, the proxy's own ``Notifier`` tells the events of the state writes it
makes. In direct mode the launcher itself writes the usage limits (and the successes that end
a cooldown), on its ``Rotator``; this starts a ``Notifier`` on that ``Rotator``'s bus for the
run, so those events reach the same command. At the end of the run the events still queued
are run (a run often ends right after its last rotation), for ``FINISH_WAIT`` seconds at
most, so a hanging command cannot hold the run's exit.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Final

from ..errors import AutoRouterError
from ..rotation.service import Rotator

#: Seconds the end of a run waits for the notify commands of its last events.
FINISH_WAIT: Final = 5.0


@contextlib.contextmanager
def direct_notify(rotator: Rotator, direct: bool) -> Iterator[None]:
    """Notify while the block runs, when ``direct`` and ``[notify] command`` is set."""
    try:
        configured = direct and bool(rotator.config.notify.command)
    except AutoRouterError:  # the run reports an unreadable configuration itself
        configured = False
    if not configured:
        yield
        return
    # Here, not at import: the notifier logs through structlog, which a run without a
    # command never loads (tests/cli/test_startup.py).
    from ..rotation.notify import Notifier

    notifier = Notifier(rotator.events, lambda: rotator.config.notify, rotator.redact).start()
    try:
        yield
    finally:
        notifier.close(FINISH_WAIT, finish=True)
