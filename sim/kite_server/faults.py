"""Faults the Kite face injects on its own, per route, for the failures only a wire can produce.

The exchange models its own rejections and lost sends; these are what happens between the client
and the OMS: a 429 before anything is processed, a 5xx before or *after* processing (the order exists
but the caller was told it failed), and an answer held back until the client times out.
"""

from __future__ import annotations

import threading
from collections import defaultdict, deque
from dataclasses import dataclass
from enum import StrEnum


class FaultKind(StrEnum):
    RATE_LIMIT = "rate_limit"  # 429 NetworkException; not processed
    ERROR_BEFORE = "error_before"  # 5xx GeneralException; not processed
    ERROR_AFTER = "error_after"  # processed, then 5xx: the caller cannot know it took effect
    DELAY_AFTER = "delay_after"  # processed, the answer held for delay_s: the caller times out


ROUTES = frozenset(
    {
        "place",
        "modify",
        "cancel",
        "orders",
        "order_history",
        "order_trades",
        "trades",
        "positions",
        "margins",
        "order_margins",
        "basket_margins",
        "ltp",
        "quote",
        "instruments",
    }
)


@dataclass(frozen=True, slots=True)
class Fault:
    kind: FaultKind
    status: int = 0  # 0: the kind's usual status (429, 500)
    delay_s: float = 0.0

    @property
    def before(self) -> bool:
        return self.kind in (FaultKind.RATE_LIMIT, FaultKind.ERROR_BEFORE)


class FaultPlan:
    """Queued faults per route, each consumed by one request. Thread-safe: tests arm it from outside."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queued: defaultdict[str, deque[Fault]] = defaultdict(deque)

    def arm(self, route: str, fault: Fault, *, times: int = 1) -> None:
        if route not in ROUTES:
            raise ValueError(f"unknown route {route!r}; one of {sorted(ROUTES)}")
        with self._lock:
            self._queued[route].extend([fault] * times)

    def take(self, route: str) -> Fault | None:
        with self._lock:
            queue = self._queued.get(route)
            return queue.popleft() if queue else None

    def clear(self) -> None:
        with self._lock:
            self._queued.clear()
