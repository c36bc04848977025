#!/usr/bin/env python3
"""``bench_hotpath.py`` for two source trees, alternating, on a noisy machine.

    python benchmarks/ab_hotpath.py OLD_TREE NEW_TREE [rounds] [requests]
    python benchmarks/ab_hotpath.py OLD_TREE NEW_TREE --calls

Each round runs ``bench_hotpath.py chat`` and ``stream`` once per tree (the order flips every
round), each in its own process with that tree's ``auto_router`` first on ``sys.path``. An
editable install's import hook would win over ``PYTHONPATH``, so the child drops it first.
Prints each run, then per scenario the median of each tree and of the paired differences
(new minus old, same round): on a shared machine only those medians mean anything.

``--calls`` counts instead the function calls (cProfile) per request of each tree: not a
time, but the same on every run, so it resolves differences that the noise hides.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent / "bench_hotpath.py"
_CHILD = """
import runpy, sys
sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in repr(f).lower()]
sys.path.insert(0, sys.argv[1])
import auto_router
assert auto_router.__file__.startswith(sys.argv[1]), auto_router.__file__
sys.argv = sys.argv[2:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


_CALLS = """
import asyncio, cProfile, pstats, runpy, sys
sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in repr(f).lower()]
sys.path.insert(0, sys.argv[1])
measure = runpy.run_path(sys.argv[2], run_name="bench")["measure"]

def calls(requests):
    profile = cProfile.Profile()
    profile.enable()
    asyncio.run(measure(requests, sys.argv[3] == "stream"))
    profile.disable()
    return pstats.Stats(profile).total_calls

# The set-up and warm-up cost the same in both runs: the difference is 1000 requests'.
print((calls(1100) - calls(100)) / 1000, file=sys.stderr)
"""


def calls(tree: str, kind: str) -> float:
    """Function calls per request (set-up and warm-up subtracted)."""
    argv = [sys.executable, "-c", _CALLS, tree, str(BENCH), kind]
    done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=True)
    return float(done.stderr.decode().split()[-1])


def run(tree: str, kind: str, requests: int) -> float:
    """Microseconds of CPU per request, as ``bench_hotpath.py`` prints them on stderr."""
    argv = [sys.executable, "-c", _CHILD, tree, str(BENCH), kind, str(requests)]
    done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=True)
    return float(done.stderr.decode().split()[-1])


def main(old: str, new: str, rounds: int, requests: int) -> None:
    times: dict[tuple[str, str], list[float]] = {}
    diffs: dict[str, list[float]] = {}
    for number in range(rounds):
        for kind in ("chat", "stream"):
            order = (old, new) if number % 2 == 0 else (new, old)
            got = {tree: run(tree, kind, requests) for tree in order}
            for tree, value in got.items():
                times.setdefault((kind, tree), []).append(value)
            diffs.setdefault(kind, []).append(got[new] - got[old])
            print(f"{number + 1} {kind} old {got[old]:.1f} new {got[new]:.1f}", flush=True)
    for kind, paired in diffs.items():
        before = statistics.median(times[(kind, old)])
        after = statistics.median(times[(kind, new)])
        faster = sum(d < 0 for d in paired)
        print(
            f"{kind}: old {before:.1f} us, new {after:.1f} us, paired median "
            f"{statistics.median(paired):+.1f} us (new faster in {faster} of {len(paired)})"
        )


if __name__ == "__main__":
    args = sys.argv[1:]
    if len(args) < 2:
        sys.exit(__doc__)
    if "--calls" in args:
        for scenario in ("chat", "stream"):
            counted = [calls(str(Path(tree).resolve()), scenario) for tree in args[:2]]
            print(f"{scenario}: old {counted[0]:.1f} calls per request, new {counted[1]:.1f}")
        sys.exit(0)
    main(
        str(Path(args[0]).resolve()),
        str(Path(args[1]).resolve()),
        int(args[2]) if len(args) > 2 else 9,
        int(args[3]) if len(args) > 3 else 3000,
    )
