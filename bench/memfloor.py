"""The memory floor of an in-flight group: the RSS of as many idle pykka ThreadingActors as a group
keeps alive, in a fresh interpreter (so no freed memory of the bench is reused).

    python -m bench.memfloor ACTORS   → prints the RSS growth in bytes
"""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from typing import Any

import psutil
import pykka


class _Idle(pykka.ThreadingActor):
    def on_receive(self, message: Any) -> None:
        return None


def _grow(actors: int) -> int:
    process = psutil.Process(os.getpid())
    _Idle.start().stop()  # pykka's own first-use allocations are not the actors'
    gc.collect()
    before = process.memory_info().rss
    refs = [_Idle.start() for _ in range(actors)]
    gc.collect()
    grown = int(process.memory_info().rss - before)
    pykka.ActorRegistry.stop_all(block=True, timeout=60.0)
    del refs
    return grown


def rss_of_idle_actors(actors: int) -> int:
    """Bytes of RSS `actors` idle ThreadingActors add to a fresh interpreter."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.memfloor", str(actors)],
        capture_output=True, text=True, timeout=600, check=True,
    )
    return int(done.stdout.strip())


if __name__ == "__main__":
    print(_grow(int(sys.argv[1])))
