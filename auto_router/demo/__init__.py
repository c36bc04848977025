"""A self-contained demonstration: fake providers on localhost, a fake agent, real rotation.

It ships the project's one fake upstream (``fake_upstream``: the server and its faults,
``provider``: every endpoint in its real wire format, ``wire``: the bodies), because
``auto-router demo`` runs from an installed package; the tests and ``scripts/`` use the same.
"""
