"""What the figures were measured on: they mean little without it."""

from __future__ import annotations

import os
import platform
import sys
import tempfile
from typing import Any

import lmdb
import psutil


def machine() -> dict[str, Any]:
    cpu = _cpu_model()
    cores = os.cpu_count() or 0
    memory_gb = round(psutil.virtual_memory().total / 2**30, 1)
    disk = _filesystem(tempfile.gettempdir())
    return {
        "summary": f"{cores} x {cpu}, {memory_gb} GB RAM, {disk}, Python {platform.python_version()}",
        "cpu": cpu,
        "cores": cores,
        "memory_gb": memory_gb,
        "tmp_filesystem": disk,
        "kernel": platform.release(),
        "python": sys.version.split()[0],
        "lmdb": ".".join(map(str, lmdb.version())),
        "load_average_at_start": load_average(),
    }


def load_average() -> list[float]:
    """1, 5 and 15 minute load averages: on a shared machine, how busy it was around the run."""
    return [round(x, 2) for x in os.getloadavg()]


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _filesystem(path: str) -> str:
    """The filesystem (and device) that holds `path`: where the bench's LMDB files live."""
    real = os.path.realpath(path)
    best = None
    for part in psutil.disk_partitions(all=True):
        if real.startswith(part.mountpoint) and (best is None or len(part.mountpoint) > len(best.mountpoint)):
            best = part
    return f"{best.fstype} on {best.device} ({path})" if best else path
