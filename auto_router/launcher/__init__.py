"""The launcher: run a command on the current provider, catch usage limits, rotate, retry.

Modules: ``markers`` (the output scanner and its false-positive guards; the marker types are
the agents'), ``resets`` (reset times in messages), ``plan`` (the command and the environment
overlay of one attempt), ``reach`` (direct or through the proxy: which providers an agent can
use), ``process`` (running a child on a PTY or pipes), ``runner`` (the rotation loop),
``session`` (the managed proxy of a run), ``shells`` (export lines for ``auto-router env``).
The launcher depends on ``auto_router.agents``, never the reverse.
"""
