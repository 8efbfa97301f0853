"""Virtual time for the simulator: a clock whose time moves only when the scheduler advances it."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from typing import Any


class VirtualTimer:
    __slots__ = ("args", "cancelled", "fn", "when")

    def __init__(self, when: float, fn: Callable[..., None], args: tuple[Any, ...]) -> None:
        self.when = when
        self.fn = fn
        self.args = args
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class VirtualClock:
    """Implements `runtime.clock.Clock` on virtual time.

    `now()` is epoch seconds starting at `start`; `monotonic()` counts from zero. Timers fire only
    when the owner calls `advance_to_next()` / `advance(dt)`: the simulator's scheduler does that
    when no actor is runnable, so a run jumps straight from one event to the next.
    """

    def __init__(self, start: float = 1_795_000_000.0) -> None:
        self._start = start
        self._elapsed = 0.0
        self._heap: list[tuple[float, int, VirtualTimer]] = []
        self._seq = itertools.count()
        self.jump_offset = 0.0  # wall-clock jumps (fault model: ±300 s) move now() but not monotonic()

    def now(self) -> float:
        return self._start + self._elapsed + self.jump_offset

    def monotonic(self) -> float:
        return self._elapsed

    def call_later(self, delay: float, fn: Callable[..., None], *args: Any) -> VirtualTimer:
        timer = VirtualTimer(self._elapsed + max(0.0, delay), fn, args)
        heapq.heappush(self._heap, (timer.when, next(self._seq), timer))
        return timer

    def next_deadline(self) -> float | None:
        while self._heap and self._heap[0][2].cancelled:
            heapq.heappop(self._heap)
        return self._heap[0][0] if self._heap else None

    def pending(self) -> int:
        return sum(1 for _, _, t in self._heap if not t.cancelled)

    def cancel_pending(self, keep: Callable[[VirtualTimer], bool] | None = None) -> int:
        """Cancel every pending timer except those `keep` spares; time stays where it is.

        A simulated process crash loses the process's timers but not the exchange's, which is
        another process in the world being simulated.
        """
        cancelled = 0
        for _, _, timer in self._heap:
            if not timer.cancelled and (keep is None or not keep(timer)):
                timer.cancel()
                cancelled += 1
        return cancelled

    def fire_next(self) -> bool:
        """Advance to the earliest live timer and run it. False when no timer is left."""
        deadline = self.next_deadline()
        if deadline is None:
            return False
        _, _, timer = heapq.heappop(self._heap)
        self._elapsed = max(self._elapsed, timer.when)
        timer.fn(*timer.args)
        return True

    def advance(self, seconds: float) -> int:
        """Run every timer due within `seconds`, then set time to exactly that point."""
        target = self._elapsed + seconds
        fired = 0
        while True:
            deadline = self.next_deadline()
            if deadline is None or deadline > target:
                break
            self.fire_next()
            fired += 1
        self._elapsed = max(self._elapsed, target)
        return fired

    def jump_wall_clock(self, seconds: float) -> None:
        self.jump_offset += seconds
