"""Helpers for the Kite tests: constants, a recording BrokerListener, and the `/_sim/` controls."""

from __future__ import annotations

import json
import queue
import threading
import urllib.request
from typing import Any

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
        self.connected = threading.Event()

    def on_order_update(self, update: Any) -> None:
        self.updates.put(update)

    def on_tick(self, tick: Any) -> None:
        self.ticks.put(tick)

    def on_connection(self, connected: bool) -> None:
        self.connections.put(connected)

    def next_connection(self) -> bool:
        return self.connections.get(timeout=WAIT_S)

    def update_with(self, order_id: str, status: str) -> Any:
        """Wait until the update of `order_id` reaching `status` arrives; return it."""
        while True:
            update = self.updates.get(timeout=WAIT_S)
            if update.order_id == order_id and update.status == status:
                return update

    def tick_at(self, token: int, price: float) -> Any:
        while True:
            tick = self.ticks.get(timeout=WAIT_S)
            if tick.instrument_token == token and abs(tick.last_price - price) < 1e-9:
                return tick
