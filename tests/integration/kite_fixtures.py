"""Fixtures for the Kite tests: a Kite-protocol server on loopback over a broker, clients pointed at it.

Test modules load this as a plugin (`pytest_plugins = ["kite_fixtures"]`) and import the helpers.
Fixture names carry a `kite_` prefix: a plugin's fixtures are visible to the whole session.
The Twisted reactor can run once per process, so `kite_reactor` is session-wide and never
stopped; tickers are closed, never `stop()`ped (that would stop the reactor for everyone).
"""

from __future__ import annotations

import json
import queue
import threading
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from kite_fakes import FakeBroker, nifty_chain

from brokers.kite.reactor import ensure_reactor_running
from domain.instruments import Instrument
from runtime.config import KiteConfig
from sim.kite_server import KiteServerThread, build_app

WAIT_S = 10.0  # every wait in these tests is bounded by this
HEARTBEAT_S = 0.1  # the test server's heartbeat; the watchdog must see frames well inside its period
API_KEY, ACCESS_TOKEN = "legguard_key", "legguard_token"


@pytest.fixture(scope="session")
def kite_reactor() -> None:
    ensure_reactor_running()


@pytest.fixture
def kite_instruments() -> list[Instrument]:
    return nifty_chain()


@pytest.fixture
def kite_fake_broker(kite_instruments: list[Instrument]) -> FakeBroker:
    prices = {inst.tradingsymbol: 100.0 + inst.strike / 1000 for inst in kite_instruments}
    return FakeBroker(kite_instruments, prices)


@pytest.fixture
def kite_server(
    kite_fake_broker: FakeBroker, kite_instruments: list[Instrument]
) -> Iterator[KiteServerThread]:
    app = build_app(kite_fake_broker, kite_instruments, heartbeat_s=HEARTBEAT_S)
    with KiteServerThread(app) as server:
        yield server


@pytest.fixture
def kite_config(kite_server: KiteServerThread) -> KiteConfig:
    return KiteConfig(
        api_key=API_KEY,
        access_token=ACCESS_TOKEN,
        api_root=kite_server.api_root,
        ws_root=kite_server.ws_root,
        timeout_s=2.0,
        watchdog_s=1.0,
    )


@pytest.fixture
def kite_client(kite_server: KiteServerThread) -> Iterator[Any]:
    from kiteconnect import KiteConnect

    client = KiteConnect(API_KEY, access_token=ACCESS_TOKEN, root=kite_server.api_root, timeout=5)
    yield client
    client.reqsession.close()


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
