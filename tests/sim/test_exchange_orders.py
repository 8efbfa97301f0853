"""The exchange's order rules: status sequence, limits, stops, protection, bands, freeze, modify, cancel."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from brokers.port import OrderRequest
from domain.model import OrderType, Side, Validity
from sim.clock import VirtualClock
from sim.exchange import SL_M_ON_OPTIONS, Exchange, InputRejected, OrderRefused, RateLimited

MakeRequest = Callable[..., OrderRequest]

FULL_SEQUENCE = ["PUT ORDER REQ RECEIVED", "VALIDATION PENDING", "OPEN PENDING", "OPEN", "COMPLETE"]


def test_marketable_limit_walks_the_kite_status_sequence(
    exchange: Exchange,
    exchange_listener: Any,
    exchange_clock: VirtualClock,
    scen_call: str,
    request_for: MakeRequest,
) -> None:
    exchange.set_ltp(scen_call, 100.0)
    order_id = exchange.place("default", request_for(scen_call, Side.BUY, 20, price=100.5))
    assert exchange.order(order_id).status == "PUT ORDER REQ RECEIVED"  # accepted, not placed
    exchange_clock.advance(1.0)
    assert exchange_listener.statuses(order_id) == FULL_SEQUENCE
    assert [u.status for u in exchange.order_history("default", order_id)] == FULL_SEQUENCE
    fills = exchange.fills(order_id)
    assert sum(f.quantity for f in fills) == 20
    assert all(f.price <= 100.5 for f in fills)
    assert exchange.order(order_id).average_price == pytest.approx(100.0)
    assert exchange.net_positions() == {scen_call: 20}


def test_limit_away_from_the_market_rests_open_until_cancelled(
    exchange: Exchange,
    exchange_listener: Any,
    exchange_clock: VirtualClock,
    scen_call: str,
    request_for: MakeRequest,
) -> None:
    exchange.set_ltp(scen_call, 100.0)
    order_id = exchange.place("default", request_for(scen_call, Side.BUY, 30, price=90.0))
    exchange_clock.advance(5.0)
    assert exchange.order(order_id).status == "OPEN"
    assert exchange.fills(order_id) == []
    exchange.cancel("default", order_id)
    assert exchange.order(order_id).status == "CANCEL PENDING"
    exchange_clock.advance(1.0)
    final = exchange.order(order_id)
    assert (final.status, final.cancelled_quantity, final.pending_quantity) == ("CANCELLED", 30, 0)
    assert exchange_listener.statuses(order_id)[-2:] == ["CANCEL PENDING", "CANCELLED"]
    with pytest.raises(OrderRefused):
        exchange.cancel("default", order_id)


def test_sell_stop_triggers_only_when_the_price_falls_to_the_trigger(
    exchange: Exchange,
    exchange_clock: VirtualClock,
    scen_call: str,
    request_for: MakeRequest,
) -> None:
    exchange.set_ltp(scen_call, 100.0)
    stop = exchange.place(
        "default", request_for(scen_call, Side.SELL, 10, OrderType.SL, price=94.5, trigger=95.0)
    )
    exchange_clock.advance(1.0)
    assert exchange.order(stop).status == "TRIGGER PENDING"
    exchange.set_ltp(scen_call, 95.05)
    exchange_clock.advance(1.0)
    assert exchange.order(stop).status == "TRIGGER PENDING"
    exchange.set_ltp(scen_call, 95.0)
    exchange_clock.advance(1.0)
    assert exchange.order(stop).status == "COMPLETE"
    assert [f.price for f in exchange.fills(stop)] == [95.0]


def test_buy_stop_triggers_only_when_the_price_rises_to_the_trigger(
    exchange: Exchange,
    exchange_clock: VirtualClock,
    scen_call: str,
    request_for: MakeRequest,
) -> None:
    exchange.set_ltp(scen_call, 100.0)
    stop = exchange.place(
        "default", request_for(scen_call, Side.BUY, 10, OrderType.SL, price=105.5, trigger=105.0)
    )
    exchange.set_ltp(scen_call, 104.95)
    exchange_clock.advance(1.0)
    assert exchange.order(stop).status == "TRIGGER PENDING"
    exchange.set_ltp(scen_call, 105.2)
    exchange_clock.advance(1.0)
    assert exchange.order(stop).status == "COMPLETE"
    assert all(f.price <= 105.5 for f in exchange.fills(stop))


@pytest.mark.parametrize(("side", "trigger", "price"), [(Side.SELL, 101.0, 100.5), (Side.BUY, 99.0, 99.5)])
def test_stop_on_the_wrong_side_of_the_market_is_rejected(
    exchange: Exchange,
    exchange_clock: VirtualClock,
    scen_call: str,
    request_for: MakeRequest,
    *,
    side: Side,
    trigger: float,
    price: float,
) -> None:
    exchange.set_ltp(scen_call, 100.0)
    order_id = exchange.place(
        "default", request_for(scen_call, side, 10, OrderType.SL, price=price, trigger=trigger)
    )
    exchange_clock.advance(1.0)
    rejected = exchange.order(order_id)
    assert rejected.status == "REJECTED"
    assert "last traded price" in (rejected.status_message or "")


def test_sl_m_on_an_option_is_rejected_by_the_exchange(
    exchange: Exchange,
    exchange_listener: Any,
    exchange_clock: VirtualClock,
    scen_call: str,
    request_for: MakeRequest,
) -> None:
    exchange.set_ltp(scen_call, 100.0)
    order_id = exchange.place(
        "default", request_for(scen_call, Side.SELL, 10, OrderType.SL_M, trigger=95.0, protection=-1)
    )
    exchange_clock.advance(1.0)
    assert exchange_listener.statuses(order_id) == [
        "PUT ORDER REQ RECEIVED",
        "VALIDATION PENDING",
        "OPEN PENDING",
        "REJECTED",
    ]
    assert exchange.order(order_id).status_message == SL_M_ON_OPTIONS
    assert "16052" in SL_M_ON_OPTIONS


def test_market_order_without_protection_is_refused_and_creates_nothing(
    exchange: Exchange,
    scen_call: str,
    request_for: MakeRequest,
) -> None:
    with pytest.raises(InputRejected, match="market_protection"):
        exchange.place("default", request_for(scen_call, Side.BUY, 10, OrderType.MARKET))
    assert exchange.all_orders() == []


def test_protected_market_order_at_the_band_leaves_an_open_remainder(
    exchange: Exchange,
    exchange_clock: VirtualClock,
    scen_call: str,
    request_for: MakeRequest,
) -> None:
    exchange.set_band(scen_call, 80.0, 120.0)
    exchange.set_ltp(scen_call, 125.0)  # wants to trade above the band: at the upper circuit nobody sells
    assert exchange.ltp([scen_call]) == {scen_call: 120.0}
    order_id = exchange.place(
        "default", request_for(scen_call, Side.BUY, 50, OrderType.MARKET, protection=10)
    )
    exchange_clock.advance(2.0)
    assert (exchange.order(order_id).status, exchange.order(order_id).filled_quantity) == ("OPEN", 0)
    exchange.set_ltp(scen_call, 119.95, level_lots=(2,))  # a seller shows two lots for one step
    exchange.set_ltp(scen_call, 125.0)
    exchange_clock.advance(30.0)
    order = exchange.order(order_id)
    assert (order.status, order.filled_quantity, order.pending_quantity) == ("OPEN", 20, 30)
    assert all(f.price <= 120.0 for f in exchange.fills(order_id))


def test_ioc_fills_what_the_book_has_and_cancels_the_rest(
    exchange: Exchange,
    exchange_clock: VirtualClock,
    scen_call: str,
    request_for: MakeRequest,
) -> None:
    exchange.set_ltp(scen_call, 100.0, level_lots=(2, 1))
    order_id = exchange.place(
        "default", request_for(scen_call, Side.BUY, 50, price=100.05, validity=Validity.IOC)
    )
    exchange_clock.advance(1.0)
    order = exchange.order(order_id)
    assert (order.status, order.filled_quantity, order.cancelled_quantity) == ("CANCELLED", 30, 20)


def test_large_order_walks_the_book_and_fills_over_several_steps(
    exchange: Exchange,
    exchange_clock: VirtualClock,
    scen_call: str,
    request_for: MakeRequest,
) -> None:
    exchange.set_ltp(scen_call, 100.0, spread_ticks=1, level_lots=(1, 1, 1))
    order_id = exchange.place("default", request_for(scen_call, Side.BUY, 100, price=100.1))
    exchange_clock.advance(1.0)
    fills = exchange.fills(order_id)
    assert exchange.order(order_id).status == "COMPLETE"
    assert len(fills) > 2  # no step's book could fill it alone
    assert {f.price for f in fills} == {100.05, 100.1}  # the third level (100.15) is beyond the limit
    assert sum(f.quantity for f in fills) == 100


def test_freeze_quantity_rejects_larger_orders(
    exchange: Exchange,
    exchange_clock: VirtualClock,
    scen_call: str,
    request_for: MakeRequest,
) -> None:
    exchange.set_ltp(scen_call, 100.0)
    too_big = exchange.place("default", request_for(scen_call, Side.BUY, 110, price=100.0))
    at_limit = exchange.place("default", request_for(scen_call, Side.BUY, 100, price=100.0))
    exchange_clock.advance(1.0)
    assert exchange.order(too_big).status == "REJECTED"
    assert "freeze" in (exchange.order(too_big).status_message or "")
    assert exchange.order(at_limit).status == "COMPLETE"


def test_limit_outside_the_price_band_is_rejected(
    exchange: Exchange,
    exchange_clock: VirtualClock,
    scen_call: str,
    request_for: MakeRequest,
) -> None:
    exchange.set_band(scen_call, 60.0, 140.0)
    exchange.set_ltp(scen_call, 100.0)
    order_id = exchange.place("default", request_for(scen_call, Side.BUY, 10, price=140.05))
    exchange_clock.advance(1.0)
    assert exchange.order(order_id).status == "REJECTED"
    assert "band" in (exchange.order(order_id).status_message or "")


@pytest.mark.parametrize(
    ("tag", "quantity", "price", "needle"),
    [
        ("x" * 21, 10, 100.0, "tag"),
        ("t", 15, 100.0, "lot size"),
        ("t", 0, 100.0, "lot size"),
        ("t", 10, 100.03, "tick"),
        ("t", 10, None, "price"),
    ],
)
def test_malformed_requests_are_refused_by_the_call_itself(
    exchange: Exchange,
    scen_call: str,
    request_for: MakeRequest,
    *,
    tag: str,
    quantity: int,
    price: float | None,
    needle: str,
) -> None:
    with pytest.raises(InputRejected, match=needle):
        exchange.place("default", request_for(scen_call, Side.BUY, quantity, price=price, tag=tag))
    assert exchange.all_orders() == []


def test_a_twenty_character_tag_is_accepted(
    exchange: Exchange, scen_call: str, request_for: MakeRequest
) -> None:
    order_id = exchange.place("default", request_for(scen_call, Side.BUY, 10, price=1.0, tag="y" * 20))
    assert exchange.orders_by_tag("y" * 20)[0].order_id == order_id


def test_modifications_are_capped_at_twenty_five(
    exchange: Exchange,
    exchange_clock: VirtualClock,
    scen_call: str,
    request_for: MakeRequest,
) -> None:
    exchange.set_ltp(scen_call, 100.0)
    order_id = exchange.place("default", request_for(scen_call, Side.BUY, 10, price=80.0))
    exchange_clock.advance(1.0)
    for n in range(25):
        exchange.modify("default", order_id, price=80.0 + 0.05 * (n + 1))
        exchange_clock.advance(0.5)
    assert exchange.order(order_id).price == pytest.approx(81.25)
    with pytest.raises(OrderRefused, match="modifications"):
        exchange.modify("default", order_id, price=82.0)
    assert exchange.order(order_id).status == "OPEN"


def test_modify_to_a_marketable_price_fills_and_complete_orders_refuse_changes(
    exchange: Exchange,
    exchange_clock: VirtualClock,
    scen_call: str,
    request_for: MakeRequest,
) -> None:
    exchange.set_ltp(scen_call, 100.0)
    order_id = exchange.place("default", request_for(scen_call, Side.SELL, 10, price=110.0))
    exchange_clock.advance(1.0)
    exchange.modify("default", order_id, price=100.0)
    exchange_clock.advance(1.0)
    assert exchange.order(order_id).status == "COMPLETE"
    with pytest.raises(OrderRefused):
        exchange.modify("default", order_id, price=99.0)


def test_eleventh_order_in_one_virtual_second_is_rate_limited(
    exchange: Exchange,
    exchange_clock: VirtualClock,
    scen_call: str,
    request_for: MakeRequest,
) -> None:
    for n in range(10):
        exchange.place("default", request_for(scen_call, Side.BUY, 10, price=1.0, tag=f"r{n}"))
        exchange_clock.advance(0.05)
    with pytest.raises(RateLimited) as raised:
        exchange.place("default", request_for(scen_call, Side.BUY, 10, price=1.0, tag="r10"))
    assert raised.value.http_status == 429
    assert 0.0 < raised.value.retry_after_s <= 1.0
    assert len(exchange.all_orders()) == 10
    exchange.place("other", request_for(scen_call, Side.BUY, 10, price=1.0, tag="elsewhere"))  # per account
    exchange_clock.advance(raised.value.retry_after_s)
    exchange.place("default", request_for(scen_call, Side.BUY, 10, price=1.0, tag="r10"))
    assert len(exchange.all_orders("default")) == 11


def test_orders_of_another_account_are_invisible(
    exchange: Exchange,
    scen_call: str,
    request_for: MakeRequest,
) -> None:
    order_id = exchange.place("alice", request_for(scen_call, Side.BUY, 10, price=1.0))
    with pytest.raises(InputRejected):
        exchange.cancel("bob", order_id)
    assert exchange.orders("bob") == []
