#!/usr/bin/env python3
"""Load time of the configuration against its size (issue 10: it used to be quadratic).

Writes configurations with N providers in one backend (a ``providers`` list, the layout the
CLI writes) and times ``load_config`` (what ``status``, ``run`` and the proxy's start-up do),
best of ``--repeat`` runs.

    python benchmarks/bench_load.py [--sizes 1000,2000,5000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from auto_router.config import load_config  # noqa: E402
from auto_router.paths import Paths  # noqa: E402


def write(home: Path, n: int) -> None:
    names = [f"p{i:05d}" for i in range(n)]
    listed = ",\n".join(f'    "{name}"' for name in names)
    (home / "llm_config.toml").write_text(
        f'[message_backend]\ndefault = "qwen"\n\n[backends.qwen]\nproviders = [\n{listed},\n]\n'
        '\n[proxy]\nport = 3001\n\n[proxy.models]\n"m" = "qwen/p00000"\n'
    )
    tables = "".join(
        f'[qwen.{name}]\n# provider {name}\ntype = "openai"\n'
        f'base_url = "https://example.invalid/{name}/v1"\napi_key = "${{KEY_{i}}}"\n'
        f'model = "m-{i}"\ntimeout = 30\nEXPORTED_{i} = "x"\n\n'
        for i, name in enumerate(names)
    )
    (home / "provider_metadata.toml").write_text(tables)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,2000,5000")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    print(f"| providers | load_config (best of {args.repeat}) | per provider |")
    print("|---:|---:|---:|")
    for n in (int(s) for s in args.sizes.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            home = Path(tmp)
            write(home, n)
            best = float("inf")
            for _ in range(args.repeat):
                started = time.perf_counter()
                config = load_config(Paths(home, home))
                best = min(best, time.perf_counter() - started)
            assert len(config.providers_of("qwen")) == n
            print(f"| {n:,} | {best * 1000:.0f} ms | {best / n * 1e6:.0f} µs |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
