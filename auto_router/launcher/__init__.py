"""The launcher: run a command on the current provider, catch usage limits, rotate, retry.

Modules: ``markers`` (what a usage limit looks like, the false-positive guards), ``resets``
(reset times in messages), ``plan`` (the command and the environment overlay of one attempt),
``process`` (running a child on a PTY or pipes), ``runner`` (the rotation loop), ``shells``
(export lines for ``auto-router env``). Import from those modules; this package imports
nothing so that ``auto_router.agents`` can use ``markers`` without a cycle.
"""
