"""Helpers for the Kite tests: constants, a recording BrokerListener, and the `/_sim/` controls."""

from __future__ import annotations

import json
import queue
import time
import urllib.request
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

WAIT_S = 10.0  # every wait in these tests is bounded by this
HEARTBEAT_S = 0.1  # the test server's heartbeat; the watchdog must see frames well inside its period
API_KEY, ACCESS_TOKEN = "legguard_key", "legguard_token"


def admin(api_root: str, path: str, body: dict[str, Any] | None = None, method: str = "POST") -> Any:
    """Call a `/_sim/` control route (how a test outside the server's process steers it)."""
    data = json.dumps(body or {}).encode() if method != "GET" else None
    request = urllib.request.Request(
        f"{api_root}{path}", data=data, method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=WAIT_S) as response:
        return json.loads(response.read())


class Recorder:
    """A BrokerListener that queues what it hears, for tests to wait on with a timeout."""

    def __init__(self) -> None:
        self.updates: queue.Queue[Any] = queue.Queue()
        self.ticks: queue.Queue[Any] = queue.Queue()
        self.connections: queue.Queue[bool] = queue.Queue()

    def on_order_update(self, update: Any) -> None:
        self.updates.put(update)

    def on_tick(self, tick: Any) -> None:
        self.ticks.put(tick)

    def on_connection(self, connected: bool) -> None:
        self.connections.put(connected)

    def next_connection(self) -> bool:
        return self.connections.get(timeout=WAIT_S)

    def update_with(self, order_id: str, status: str) -> Any:
        """The update of `order_id` reaching `status`, skipping others; within WAIT_S in all."""
        return _first(self.updates, lambda u: u.order_id == order_id and u.status == status)

    def tick_at(self, token: int, price: float) -> Any:
        return _first(self.ticks, lambda t: t.instrument_token == token and abs(t.last_price - price) < 1e-9)


def _first(source: queue.Queue[T], wanted: Callable[[T], bool]) -> T:
    """The first queued item that is `wanted`, with one deadline for the whole search: a stream of
    unwanted items (the market ticks every 0.1 s) must not extend the wait forever."""
    deadline = time.monotonic() + WAIT_S
    while True:
        item = source.get(timeout=max(0.0, deadline - time.monotonic()))
        if wanted(item):
            return item
