"""SimBroker: the Broker port over the simulated exchange, errors classified as the port documents."""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable
from typing import Any

import pytest

from brokers.port import Broker, BrokerRejected, BrokerRetryable, BrokerUnknownOutcome, OrderRequest
from domain.messages import OrderUpdate, Tick
from domain.model import OrderType, Side
from runtime.clock import SystemClock
from runtime.rng import RandomStreams
from sim.broker import SimBroker
from sim.clock import VirtualClock
from sim.exchange import Exchange, ExchangeConfig, LatencyConfig, OrderRule, match, unknown_outcome

MakeRequest = Callable[..., OrderRequest]


@pytest.fixture
def broker(exchange: Exchange) -> SimBroker:
    return SimBroker(exchange)


def test_implements_every_method_of_the_port() -> None:
    for name, member in inspect.getmembers(Broker, inspect.isfunction):
        if name.startswith("_"):
            continue
        ours = getattr(SimBroker, name)
        assert list(inspect.signature(ours).parameters) == list(inspect.signature(member).parameters), name
    port: Broker = SimBroker(Exchange(VirtualClock(), RandomStreams(1)))  # and mypy checks the structure
    assert port is not None


def test_place_returns_an_id_and_updates_reach_the_listener(
    broker: SimBroker,
    exchange: Exchange,
    exchange_clock: VirtualClock,
    scen_call: str,
    request_for: MakeRequest,
    *,
    new_listener: Callable[[], Any],
) -> None:
    listener = new_listener()
    broker.subscribe(listener)
    exchange.set_ltp(scen_call, 100.0, level_lots=(10,))
    order_id = broker.place_order(request_for(scen_call, Side.SELL, 50, price=100.0, tag="a1"))
    exchange_clock.advance(1.0)
    assert listener.statuses(order_id)[-1] == "COMPLETE"
    assert [o.order_id for o in broker.orders()] == [order_id]
    assert broker.order_history(order_id)[0].status == "PUT ORDER REQ RECEIVED"
    (trade,) = broker.order_trades(order_id)
    assert (trade.side, trade.quantity, trade.price) == (Side.SELL, 50, 100.0)
    assert broker.trades() == [trade]
    (position,) = broker.positions()
    assert (position.tradingsymbol, position.quantity, position.sell_quantity) == (scen_call, -50, 50)
    assert broker.ltp([scen_call]) == {scen_call: 100.0}


@pytest.mark.parametrize(
    ("kwargs", "kind"),
    [
        ({"tag": "x" * 21}, "InputException"),
        ({"order_type": OrderType.MARKET, "price": None}, "InputException"),
    ],
)
def test_malformed_orders_are_final_rejections(
    broker: SimBroker, scen_call: str, request_for: MakeRequest, *, kwargs: dict[str, Any], kind: str
) -> None:
    fields = {"price": 100.0, **kwargs}
    order_type = fields.pop("order_type", OrderType.LIMIT)
    with pytest.raises(BrokerRejected) as raised:
        broker.place_order(request_for(scen_call, Side.BUY, 10, order_type, **fields))
    assert raised.value.kind == kind
    assert not isinstance(raised.value, BrokerRetryable | BrokerUnknownOutcome)


def test_refused_modify_and_cancel_are_final_order_exceptions(
    broker: SimBroker,
    exchange: Exchange,
    exchange_clock: VirtualClock,
    scen_call: str,
    request_for: MakeRequest,
) -> None:
    exchange.set_ltp(scen_call, 100.0)
    order_id = broker.place_order(request_for(scen_call, Side.BUY, 10, price=100.0))
    exchange_clock.advance(1.0)
    with pytest.raises(BrokerRejected) as raised:
        broker.cancel_order(order_id)
    assert raised.value.kind == "OrderException"
    with pytest.raises(BrokerRejected):
        broker.modify_order(order_id, price=99.0)


def test_modify_and_cancel_work_through_the_port(
    broker: SimBroker,
    exchange: Exchange,
    exchange_clock: VirtualClock,
    scen_call: str,
    request_for: MakeRequest,
) -> None:
    exchange.set_ltp(scen_call, 100.0)
    order_id = broker.place_order(request_for(scen_call, Side.BUY, 20, price=90.0))
    exchange_clock.advance(1.0)
    assert broker.modify_order(order_id, price=91.0, quantity=30) == order_id
    exchange_clock.advance(1.0)
    assert (broker.orders()[0].price, broker.orders()[0].quantity) == (91.0, 30)
    broker.cancel_order(order_id)
    exchange_clock.advance(1.0)
    assert broker.orders()[0].status == "CANCELLED"


def test_rate_limit_is_retryable_with_code_429(
    broker: SimBroker,
    exchange_clock: VirtualClock,
    scen_call: str,
    request_for: MakeRequest,
) -> None:
    for n in range(10):
        broker.place_order(request_for(scen_call, Side.BUY, 10, price=1.0, tag=f"r{n}"))
    with pytest.raises(BrokerRetryable) as raised:
        broker.place_order(request_for(scen_call, Side.BUY, 10, price=1.0, tag="r10"))
    assert (raised.value.code, raised.value.kind) == (429, "NetworkException")
    assert 0.0 < raised.value.retry_after_s <= 1.0
    exchange_clock.advance(raised.value.retry_after_s)
    broker.place_order(request_for(scen_call, Side.BUY, 10, price=1.0, tag="r10"))


def test_unknown_outcome_then_lookup_by_tag_finds_the_order(
    broker: SimBroker,
    exchange: Exchange,
    exchange_clock: VirtualClock,
    scen_call: str,
    request_for: MakeRequest,
) -> None:
    exchange.add_rule(OrderRule(match(tag_prefix="u"), unknown_outcome()))
    with pytest.raises(BrokerUnknownOutcome):
        broker.place_order(request_for(scen_call, Side.BUY, 10, price=1.0, tag="u1"))
    exchange_clock.advance(1.0)
    assert [o.tag for o in broker.orders()] == ["u1"]


def test_margins_and_basket_margins(
    broker: SimBroker,
    exchange: Exchange,
    exchange_clock: VirtualClock,
    request_for: MakeRequest,
) -> None:
    expiry = exchange.universe.expiries("NIFTY")[0]
    short = exchange.universe.option("NIFTY", expiry, 24_000.0, exchange.universe["NIFTY26NOV24000CE"].kind)
    wing = exchange.universe.option("NIFTY", expiry, 24_200.0, exchange.universe["NIFTY26NOV24000CE"].kind)
    assert short is not None and wing is not None
    legs = [
        request_for(short.tradingsymbol, Side.SELL, 65, OrderType.MARKET, protection=-1),
        request_for(wing.tradingsymbol, Side.BUY, 65, OrderType.MARKET, protection=-1),
    ]
    basket = broker.basket_margins(legs)
    assert basket.final_total < basket.initial_total
    assert [o.tradingsymbol for o in basket.orders] == [short.tradingsymbol, wing.tradingsymbol]
    before = broker.margins()
    assert before.available == pytest.approx(5_000_000.0)
    broker.place_order(legs[1])
    broker.place_order(legs[0])
    exchange_clock.advance(1.0)
    after = broker.margins()
    assert after.available < before.available
    assert after.utilised > 0.0
    assert set(after.detail) >= {"span", "exposure", "m2m_realised", "m2m_unrealised"}


def test_ticks_flow_for_subscribed_tokens_and_stop_on_close(
    broker: SimBroker,
    exchange: Exchange,
    exchange_clock: VirtualClock,
    exchange_listener: Any,
) -> None:
    listener = type(exchange_listener)()
    option = exchange.universe["NIFTY26NOV24000CE"]
    broker.subscribe(listener, [256265])
    broker.subscribe_ticks([option.instrument_token])
    exchange_clock.advance(2.0)
    tokens = {t.instrument_token for t in listener.ticks}
    assert tokens == {256265, option.instrument_token}
    assert all(t.last_price > 0 for t in listener.ticks)
    broker.close()
    seen = len(listener.ticks)
    exchange_clock.advance(2.0)
    assert len(listener.ticks) == seen


def test_accounts_do_not_see_each_other(exchange: Exchange, scen_call: str, request_for: MakeRequest) -> None:
    alice, bob = SimBroker(exchange, "alice"), SimBroker(exchange, "bob")
    order_id = alice.place_order(request_for(scen_call, Side.BUY, 10, price=1.0))
    assert bob.orders() == []
    with pytest.raises(BrokerRejected):
        bob.cancel_order(order_id)


class _Waiter:
    """A listener for the threaded test: sets an event when an order completes."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.updates: list[OrderUpdate] = []
        self.threads: set[str] = set()

    def on_order_update(self, update: OrderUpdate) -> None:
        self.updates.append(update)
        self.threads.add(threading.current_thread().name)
        if update.status == "COMPLETE":
            self.done.set()

    def on_tick(self, tick: Tick) -> None:
        return None

    def on_connection(self, connected: bool) -> None:
        return None


def test_in_real_time_on_the_system_clock(request_for: MakeRequest) -> None:
    clock = SystemClock()
    exchange = Exchange(clock, RandomStreams(1), config=ExchangeConfig(latency=LatencyConfig.zero()))
    broker = SimBroker(exchange)
    waiter = _Waiter()
    broker.subscribe(waiter)
    symbol = next(s for s in exchange.universe if s.startswith("SCEN") and s.endswith("10000CE"))
    exchange.set_ltp(symbol, 100.0, level_lots=(10,))
    try:
        order_id = broker.place_order(request_for(symbol, Side.BUY, 50, price=100.0))
        assert waiter.done.wait(timeout=10.0)
        assert [u.status for u in waiter.updates if u.order_id == order_id][-1] == "COMPLETE"
        assert waiter.threads == {"legguard-timers"}  # delivered from the clock's thread, not the caller's
    finally:
        broker.close()
        exchange.close()
        clock.close()
