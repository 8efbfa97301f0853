"""Fixtures for the Kite tests: a Kite-protocol server on loopback over a broker, clients pointed at it.

Test modules load this as a plugin (`pytest_plugins = ["kite_fixtures"]`) and never import it
(pytest could no longer rewrite its asserts); helpers live in `kite_support`.
Fixture names carry a `kite_` prefix: a plugin's fixtures are visible to the whole session.
The Twisted reactor can run once per process, so `kite_reactor` is session-wide and never
stopped; tickers are closed, never `stop()`ped (that would stop the reactor for everyone).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from kite_fakes import FakeBroker, nifty_chain
from kite_support import ACCESS_TOKEN, API_KEY, HEARTBEAT_S

from brokers.kite.reactor import ensure_reactor_running
from domain.instruments import Instrument
from runtime.config import KiteConfig
from sim.kite_server import KiteServerThread, build_app


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
