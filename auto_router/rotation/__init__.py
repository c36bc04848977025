"""Rotation: which provider answers next, and the persisted state that decides it.

``policy`` is pure (immutable state in, new state out, the time passed in); ``state`` persists
that state behind the ``StateStore`` interface; ``service`` joins configuration, state and
policy for the CLI, the launcher, the proxy and the Python API.
"""
