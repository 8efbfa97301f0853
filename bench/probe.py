"""What the gateway tells the bench: when an order update arrived, when an order left.

The gateway calls these two methods on its own thread (see actors/gateway.py); each only appends a
tuple to a list (atomic under the GIL), so the probe costs the measured path nothing worth counting.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class GatewayProbe:
    # (tag, status, filled_quantity, perf_counter_ns) of every order update the gateway received
    arrivals: list[tuple[str, str, int, int]] = field(default_factory=list)
    # (tag, perf_counter_ns) of every order right after the broker accepted it
    departures: list[tuple[str, int]] = field(default_factory=list)

    def update_arrived(self, update: Any, _monotonic: float) -> None:
        # perf_counter_ns, not the injected clock's float seconds: nanosecond resolution.
        now = time.perf_counter_ns()
        self.arrivals.append((update.tag or "", update.status, update.filled_quantity, now))

    def order_left(self, tag: str, _monotonic: float) -> None:
        self.departures.append((tag, time.perf_counter_ns()))

    def clear(self) -> None:
        self.arrivals.clear()
        self.departures.clear()
