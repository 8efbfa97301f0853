"""Exchange fixtures for the simulator tests (runtime fixtures may join them later).

Every exchange here runs on a VirtualClock: tests move time with `advance` / `fire_next`, never sleep.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from brokers.port import OrderRequest
from domain.instruments import InstrumentKind
from domain.messages import OrderUpdate, Tick
from domain.model import OrderType, Side, Validity
from runtime.rng import RandomStreams
from sim.clock import VirtualClock
from sim.exchange import Exchange, ExchangeConfig, FaultConfig, LatencyConfig


class RecordingListener:
    """A BrokerListener that keeps everything it is told, in arrival order."""

    def __init__(self) -> None:
        self.updates: list[OrderUpdate] = []
        self.ticks: list[Tick] = []
        self.connection: list[bool] = []

    def on_order_update(self, update: OrderUpdate) -> None:
        self.updates.append(update)

    def on_tick(self, tick: Tick) -> None:
        self.ticks.append(tick)

    def on_connection(self, connected: bool) -> None:
        self.connection.append(connected)

    def statuses(self, order_id: str) -> list[str]:
        return [u.status for u in self.updates if u.order_id == order_id]


@pytest.fixture
def exchange_clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def make_exchange(exchange_clock: VirtualClock) -> Callable[..., Exchange]:
    """make_exchange(seed=1, faults=FaultConfig(...), latency=LatencyConfig(...), **ExchangeConfig fields)."""

    def build(
        seed: int = 1,
        *,
        faults: FaultConfig | None = None,
        latency: LatencyConfig | None = None,
        clock: VirtualClock | None = None,
        **fields: Any,
    ) -> Exchange:
        config = ExchangeConfig(**fields)
        if faults is not None:
            config = replace(config, faults=faults)
        if latency is not None:
            config = replace(config, latency=latency)
        return Exchange(clock or exchange_clock, RandomStreams(seed), config=config)

    return build


@pytest.fixture
def exchange(make_exchange: Callable[..., Exchange]) -> Exchange:
    return make_exchange()


@pytest.fixture
def new_listener() -> Callable[[], RecordingListener]:
    """A factory of fresh, unsubscribed RecordingListeners (updates, ticks, connection changes)."""
    return RecordingListener


@pytest.fixture
def exchange_listener(exchange: Exchange) -> RecordingListener:
    listener = RecordingListener()
    exchange.subscribe("default", listener)
    return listener


def scen_option(
    exchange: Exchange, strike: float = 10_000.0, kind: InstrumentKind = InstrumentKind.CE
) -> str:
    """A SCEN option of the nearest expiry (the scenario underlying: lot 10, freeze 100, spot 10,000)."""
    expiry = exchange.universe.expiries("SCEN")[0]
    inst = exchange.universe.option("SCEN", expiry, strike, kind)
    assert inst is not None
    return inst.tradingsymbol


@pytest.fixture
def scen_call(exchange: Exchange) -> str:
    return scen_option(exchange)


def order_request(
    symbol: str,
    side: Side = Side.BUY,
    quantity: int = 10,
    order_type: OrderType = OrderType.LIMIT,
    *,
    price: float | None = None,
    trigger: float | None = None,
    protection: int | None = None,
    tag: str = "t",
    validity: Validity = Validity.DAY,
) -> OrderRequest:
    return OrderRequest(
        tag=tag,
        tradingsymbol=symbol,
        side=side,
        quantity=quantity,
        order_type=order_type,
        price=price,
        trigger_price=trigger,
        market_protection=protection,
        validity=validity,
    )


@pytest.fixture
def request_for() -> Callable[..., OrderRequest]:
    """order_request(symbol, side, quantity, order_type, *, price, trigger, protection, tag, validity)."""
    return order_request


@pytest.fixture
def scen_symbol() -> Callable[..., str]:
    """scen_option(exchange, strike=10_000.0, kind=CE) → tradingsymbol."""
    return scen_option
