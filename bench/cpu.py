"""Process CPU time and resident memory (psutil)."""

from __future__ import annotations

import gc
import os

import psutil

_PROCESS = psutil.Process(os.getpid())


def cpu_seconds() -> float:
    times = _PROCESS.cpu_times()
    return float(times.user + times.system)


def rss_bytes() -> int:
    gc.collect()
    return int(_PROCESS.memory_info().rss)


def thread_count() -> int:
    return int(_PROCESS.num_threads())
