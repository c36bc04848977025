"""The managed proxy of ``auto-router run --via-proxy``: one per user and configuration.

Modules: ``runtime`` (the runtime directory, its lock and the run registry; standard library
only), ``spawn`` (what a launcher does: register its run, reuse or start the proxy),
``serve`` (the proxy process: a free loopback port, run tokens, exit when no run is left),
``messages`` (the "all providers are cooling down" line both sides print).
"""
