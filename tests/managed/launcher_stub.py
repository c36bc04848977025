"""A stand-in for ``auto-router run`` in the lifecycle tests: joins the managed proxy of a
configuration, prints what it got as one JSON line, holds on until its stdin closes, leaves."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from auto_router.launcher.spawn import join, leave
from auto_router.paths import Paths
from auto_router.runs import RunEntry, new_token


def main() -> int:
    home = Path(sys.argv[1])
    token = new_token()
    entry = RunEntry(
        run_id=f"stub-{os.getpid()}", backend="qwen", pid=os.getpid(), started_at=time.time()
    )
    joined = join(Paths(home, home), token, entry)
    if joined.ready is not None:
        joined.ready.wait()
    print(json.dumps({"url": joined.url, "token": token, "started": joined.started}), flush=True)
    sys.stdin.read()
    leave(joined)
    return 0


if __name__ == "__main__":
    sys.exit(main())
