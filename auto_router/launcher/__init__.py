"""The launcher: run a command on the current provider, catch usage limits, rotate, retry.

Modules: ``plan`` (the command and the environment overlay of one attempt), ``reach`` (direct
or through the proxy: which providers an agent can use), ``process`` (running a child on a PTY
or pipes), ``runner`` (the rotation loop), ``session`` (the managed proxy of a run), ``spawn``
(starting that proxy as a process of its own), ``shells`` (export lines for ``auto-router
env``). What a usage limit looks like in a child's output, and when it resets, is
``auto_router.limits`` (shared with the proxy). The launcher depends on ``auto_router.agents``
and never on ``auto_router.proxy``: the managed proxy is started by module name.
"""
