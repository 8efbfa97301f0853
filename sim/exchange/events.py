"""The exchange's event log: every order status, fill, delivery and tick, hashed in order.

Same seed and same script → same digest. The events are also forwarded to the run's trace (the
deterministic runtime hashes its whole run); the service passes no trace.
"""

from __future__ import annotations

import hashlib
import threading

from runtime.actors import NullTrace, Trace


class EventLog:
    def __init__(self, trace: Trace | None = None) -> None:
        self._trace: Trace = trace or NullTrace()
        self._hash = hashlib.sha256()
        self._lock = threading.Lock()  # deliveries are recorded outside the exchange's lock
        self.count = 0
        self.counts: dict[str, int] = {}

    def record(self, kind: str, *fields: object) -> None:
        with self._lock:
            self._hash.update(repr((kind, fields)).encode())
            self.count += 1
            self.counts[kind] = self.counts.get(kind, 0) + 1
        self._trace.record(f"exchange.{kind}", *fields)

    def digest(self) -> str:
        with self._lock:
            return self._hash.hexdigest()
