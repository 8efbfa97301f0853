"""Clock protocol and the real-time implementation used by the service."""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol


class Timer(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    """Time as actors see it. `now` is wall time (epoch seconds), `monotonic` never goes back."""

    def now(self) -> float: ...

    def monotonic(self) -> float: ...

    def call_later(self, delay: float, fn: Callable[..., None], *args: Any) -> Timer: ...


class _Handle:
    __slots__ = ("args", "cancelled", "fn", "when")

    def __init__(self, when: float, fn: Callable[..., None], args: tuple[Any, ...]) -> None:
        self.when = when
        self.fn = fn
        self.args = args
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class SystemClock:
    """Wall clock with one timer thread for every `call_later` in the process.

    One thread and a heap instead of a `threading.Timer` per call: the service arms thousands of
    short timers (fill timeouts, stop timeouts, exposure re-checks) and a thread each would cost
    more than the work they guard.
    """

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, _Handle]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False

    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def call_later(self, delay: float, fn: Callable[..., None], *args: Any) -> Timer:
        handle = _Handle(time.monotonic() + max(0.0, delay), fn, args)
        with self._cond:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="legguard-timers", daemon=True)
                self._thread.start()
            heapq.heappush(self._heap, (handle.when, next(self._seq), handle))
            self._cond.notify()
        return handle

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()

    def _run(self) -> None:
        import structlog

        log = structlog.get_logger("clock")
        while True:
            with self._cond:
                while not self._closed:
                    if self._heap and self._heap[0][0] <= time.monotonic():
                        break
                    timeout = self._heap[0][0] - time.monotonic() if self._heap else None
                    self._cond.wait(timeout)
                if self._closed:
                    return
                _, _, handle = heapq.heappop(self._heap)
            if handle.cancelled:
                continue
            try:
                handle.fn(*handle.args)
            except Exception:  # a failing callback must not stop every other timer
                log.exception("timer_callback_failed", callback=getattr(handle.fn, "__qualname__", "?"))
