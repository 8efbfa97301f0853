"""`KiteBroker` over the real client and the Kite-protocol server: results, refusals, classification."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
import requests
from kite_fakes import FakeBroker
from kite_support import admin
from kiteconnect import exceptions as kite

from brokers.kite import LOCAL_REJECT, KiteBroker, classify_error
from brokers.port import BrokerRejected, BrokerRetryable, BrokerUnknownOutcome, OrderRequest
from domain.model import OrderType, Side
from runtime.clock import SystemClock
from runtime.config import ExchangeRules, KiteConfig
from sim.kite_server import Fault, FaultKind, KiteServerThread

pytest_plugins = ["kite_fixtures"]

CE = "NIFTY26JAN24000CE"
HEDGE = "NIFTY26JAN24100CE"


@pytest.fixture
def broker(kite_config: KiteConfig) -> Iterator[KiteBroker]:
    clock = SystemClock()
    broker = KiteBroker(kite_config, rules=ExchangeRules(), clock=clock)
    yield broker
    broker.close()
    clock.close()


def order(
    tag: str,
    *,
    symbol: str = CE,
    side: Side = Side.BUY,
    order_type: OrderType = OrderType.LIMIT,
    price: float | None = 50.0,
    trigger: float | None = None,
    protection: int | None = None,
) -> OrderRequest:
    return OrderRequest(
        tag=tag,
        tradingsymbol=symbol,
        side=side,
        quantity=65,
        order_type=order_type,
        price=price,
        trigger_price=trigger,
        market_protection=protection,
    )


# --------------------------------------------------------------------------- classification (pure)


@pytest.mark.parametrize(
    ("exc", "write", "expected", "kind"),
    [
        (kite.InputException("bad", code=400), True, BrokerRejected, "InputException"),
        (kite.OrderException("bad", code=400), True, BrokerRejected, "OrderException"),
        (kite.TokenException("expired", code=403), False, BrokerRejected, "TokenException"),
        (kite.PermissionException("no", code=403), True, BrokerRejected, "PermissionException"),
        # Kite's MarginException arrives as a GeneralException carrying the HTTP 400
        (
            kite.GeneralException("Insufficient funds. Required margin is 1", code=400),
            True,
            BrokerRejected,
            "GeneralException",
        ),
        (
            kite.GeneralException("Insufficient funds. Required margin is 1", code=500),
            True,
            BrokerRejected,
            "GeneralException",
        ),
        (kite.NetworkException("Too many requests", code=429), True, BrokerRetryable, "NetworkException"),
        (kite.NetworkException("upstream down", code=503), True, BrokerUnknownOutcome, "NetworkException"),
        (kite.NetworkException("upstream down", code=503), False, BrokerRetryable, "NetworkException"),
        (kite.GeneralException("oops", code=500), True, BrokerUnknownOutcome, "GeneralException"),
        (kite.DataException("bad gateway", code=502), True, BrokerUnknownOutcome, "DataException"),
        (requests.ReadTimeout("slow"), True, BrokerUnknownOutcome, "ReadTimeout"),
        (requests.ConnectionError("refused"), True, BrokerUnknownOutcome, "ConnectionError"),
        (requests.ReadTimeout("slow"), False, BrokerRetryable, "ReadTimeout"),
        (KeyError("content-type"), True, BrokerUnknownOutcome, "KeyError"),
    ],
)
def test_classify_error(exc: Exception, write: bool, expected: type, kind: str) -> None:
    error = classify_error(exc, write=write)
    assert type(error) is expected
    assert error.kind == kind


# --------------------------------------------------------------------------- against the server


def test_market_order_carries_default_protection_and_reads_back(
    broker: KiteBroker, kite_fake_broker: FakeBroker
) -> None:
    order_id = broker.place_order(order("mkt-1", order_type=OrderType.MARKET, price=None))
    (placed,) = broker.order_by_tag("mkt-1")
    assert (placed.order_id, placed.status, placed.market_protection) == (order_id, "COMPLETE", -1.0)
    assert [o.status for o in broker.order_history(order_id)] == [
        "PUT ORDER REQ RECEIVED",
        "OPEN",
        "COMPLETE",
    ]
    (trade,) = broker.order_trades(order_id)
    assert (trade.quantity, trade.price) == (65, kite_fake_broker.prices[CE])
    assert [t.trade_id for t in broker.trades()] == [trade.trade_id]
    (position,) = broker.positions()
    assert (position.tradingsymbol, position.quantity) == (CE, 65)
    assert broker.margins().utilised == 6500.0
    assert broker.ltp([CE, HEDGE]) == {CE: kite_fake_broker.prices[CE], HEDGE: kite_fake_broker.prices[HEDGE]}
    assert len(broker.instruments({"NIFTY": 1800})) == len(kite_fake_broker.instruments)


def test_modify_and_cancel(broker: KiteBroker) -> None:
    order_id = broker.place_order(order("lim-1", price=50.0))
    assert broker.modify_order(order_id, price=51.0) == order_id
    assert broker.cancel_order(order_id) == order_id
    (final,) = broker.order_by_tag("lim-1")
    assert (final.status, final.price) == ("CANCELLED", 51.0)
    with pytest.raises(BrokerRejected) as info:
        broker.cancel_order(order_id)
    assert info.value.kind == "OrderException"


def test_basket_margins_with_hedge_benefit(broker: KiteBroker) -> None:
    basket = broker.basket_margins([order("m1", symbol=HEDGE), order("m2", side=Side.SELL, price=120.0)])
    assert basket.final_total < basket.initial_total
    assert [m.tradingsymbol for m in basket.orders] == [HEDGE, CE]


def test_local_refusals_send_nothing(broker: KiteBroker, kite_fake_broker: FakeBroker) -> None:
    refusals = [
        order("stop-1", order_type=OrderType.SL_M, price=None, trigger=40.0),  # SL-M on an option
        order("x" * 21),  # tag over 20 characters
        order("mkt-bad", order_type=OrderType.MARKET, price=None, protection=150),
        order("lim-noprice", price=None),
    ]
    for request in refusals:
        with pytest.raises(BrokerRejected) as info:
            broker.place_order(request)
        assert info.value.kind == LOCAL_REJECT
    assert broker.orders() == []
    # An SL stop (trigger + limit) is the way to stop an option.
    broker.place_order(order("stop-2", order_type=OrderType.SL, price=39.5, trigger=40.0))
    assert broker.order_by_tag("stop-2")[0].status == "OPEN"


def test_rejected_place_is_final(broker: KiteBroker, kite_fake_broker: FakeBroker) -> None:
    with pytest.raises(BrokerRejected) as info:
        broker.place_order(order("unknown-sym", symbol="NIFTY26JAN99999CE"))
    assert (info.value.kind, info.value.code) == ("InputException", 400)
    # An exchange rejection is not an exception: the order exists, REJECTED.
    kite_fake_broker.reject_symbols.add(CE)
    order_id = broker.place_order(order("rms-no"))
    assert broker.order_by_tag("rms-no")[0].status == "REJECTED"
    assert broker.order_history(order_id)[-1].status_message == "RMS: rejected by the fake exchange"


def test_rate_limited_place_is_retryable_and_not_placed(
    broker: KiteBroker, kite_server: KiteServerThread
) -> None:
    admin(kite_server.api_root, "/_sim/faults", {"route": "place", "kind": "rate_limit"})
    with pytest.raises(BrokerRetryable) as info:
        broker.place_order(order("rl-1"))
    assert (info.value.code, info.value.kind, info.value.retry_after_s) == (429, "NetworkException", 1.0)
    assert broker.order_by_tag("rl-1") == []
    broker.place_order(order("rl-1"))  # the retry goes through
    assert len(broker.order_by_tag("rl-1")) == 1


def test_500_after_processing_is_unknown_then_found_by_tag(
    broker: KiteBroker, kite_server: KiteServerThread
) -> None:
    kite_server.app.state.kite.faults.arm("place", Fault(FaultKind.ERROR_AFTER))
    with pytest.raises(BrokerUnknownOutcome) as info:
        broker.place_order(order("u-500"))
    assert info.value.code == 500
    (found,) = broker.order_by_tag("u-500")  # it was placed: never send a fresh order for this intent
    assert found.status == "OPEN"


def test_timeout_on_place_is_unknown_then_found_by_tag(
    kite_fake_broker: FakeBroker, kite_server: KiteServerThread, kite_config: KiteConfig
) -> None:
    clock = SystemClock()
    impatient = KiteBroker(
        dataclasses.replace(kite_config, timeout_s=0.3), rules=ExchangeRules(), clock=clock
    )
    try:
        kite_server.app.state.kite.faults.arm("place", Fault(FaultKind.DELAY_AFTER, delay_s=1.0))
        with pytest.raises(BrokerUnknownOutcome) as info:
            impatient.place_order(order("u-slow"))
        assert info.value.kind == "ReadTimeout"
        (found,) = impatient.order_by_tag("u-slow")
        assert found.tag == "u-slow"
    finally:
        impatient.close()
        clock.close()


def test_5xx_on_a_read_is_retryable(broker: KiteBroker, kite_server: KiteServerThread) -> None:
    kite_server.app.state.kite.faults.arm("orders", Fault(FaultKind.ERROR_BEFORE, status=503))
    with pytest.raises(BrokerRetryable):
        broker.orders()
    assert broker.orders() == []


def test_server_gone_write_unknown_read_retryable(
    kite_fake_broker: FakeBroker, kite_instruments: list
) -> None:
    from sim.kite_server import build_app

    server = KiteServerThread(build_app(kite_fake_broker, kite_instruments)).start()
    config = KiteConfig(
        api_key="k", access_token="t", api_root=server.api_root, ws_root=server.ws_root, timeout_s=2.0
    )
    server.stop()
    clock = SystemClock()
    broker = KiteBroker(config, rules=ExchangeRules(), clock=clock)
    try:
        with pytest.raises(BrokerUnknownOutcome):
            broker.place_order(order("gone"))
        with pytest.raises(BrokerRetryable):
            broker.positions()
    finally:
        broker.close()
        clock.close()
