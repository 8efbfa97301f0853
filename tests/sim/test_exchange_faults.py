"""Faults and scenario rules: duplicated, dropped and reordered updates, unknown outcomes, partial
fills, unsolicited cancels, random rejections, holds, delays, disconnects, halts and bad ticks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from brokers.port import OrderRequest
from domain.lifecycle import child_state_for
from domain.model import Side
from sim.clock import VirtualClock
from sim.exchange import (
    Exchange,
    FaultConfig,
    OrderRule,
    OutcomeUnknown,
    delay,
    fill_after,
    hold,
    match,
    partial,
    unknown_outcome,
)

MakeRequest = Callable[..., OrderRequest]
RANK = {
    "ACCEPTED": 0,
    "TRIGGER_PENDING": 1,
    "OPEN": 2,
    "CANCEL_REQUESTED": 3,
    "FILLED": 4,
    "CANCELLED": 4,
    "REJECTED": 4,
}


def run_orders(
    exchange: Exchange,
    clock: VirtualClock,
    request_for: MakeRequest,
    symbol: str,
    count: int,
    *,
    quantity: int = 50,
) -> list[str]:
    """`count` marketable buys, one every 0.2 s, then time for everything to settle."""
    exchange.set_ltp(symbol, 100.0, level_lots=(20,))
    ids = []
    for n in range(count):
        ids.append(
            exchange.place("default", request_for(symbol, Side.BUY, quantity, price=100.0, tag=f"o{n}"))
        )
        clock.advance(0.2)
    clock.advance(30.0)
    return ids


def subscribed(exchange: Exchange, factory: Callable[[], Any]) -> Any:
    listener = factory()
    exchange.subscribe("default", listener)
    return listener


def test_no_faults_means_every_update_once_and_in_order(
    exchange: Exchange,
    exchange_listener: Any,
    exchange_clock: VirtualClock,
    scen_call: str,
    request_for: MakeRequest,
) -> None:
    ids = run_orders(exchange, exchange_clock, request_for, scen_call, 20)
    for order_id in ids:
        assert exchange_listener.statuses(order_id) == [
            u.status for u in exchange.order_history("default", order_id)
        ]


def test_duplicates_are_produced_when_configured(
    make_exchange: Callable[..., Exchange],
    exchange_clock: VirtualClock,
    scen_symbol: Callable[..., str],
    request_for: MakeRequest,
    new_listener: Callable[[], Any],
) -> None:
    exchange = make_exchange(faults=FaultConfig(duplicate_rate=0.3))
    listener = subscribed(exchange, new_listener)
    ids = run_orders(exchange, exchange_clock, request_for, scen_symbol(exchange), 20)
    recorded = sum(len(exchange.order_history("default", o)) for o in ids)
    assert len(listener.updates) > recorded
    assert exchange.log.counts["duplicated"] == len(listener.updates) - recorded
    seen = [(u.order_id, u.status, u.filled_quantity) for u in listener.updates]
    assert len(set(seen)) == recorded  # every copy is an exact repeat of a recorded state


def test_reordered_updates_overtake_each_other(
    make_exchange: Callable[..., Exchange],
    exchange_clock: VirtualClock,
    scen_symbol: Callable[..., str],
    request_for: MakeRequest,
    new_listener: Callable[[], Any],
) -> None:
    exchange = make_exchange(faults=FaultConfig(reorder_rate=0.5, reorder_window_s=0.5))
    listener = subscribed(exchange, new_listener)
    ids = run_orders(exchange, exchange_clock, request_for, scen_symbol(exchange), 20)
    out_of_order = 0
    for order_id in ids:
        ranks = [RANK[child_state_for(s).value] for s in listener.statuses(order_id)]
        out_of_order += ranks != sorted(ranks)
        assert sorted(listener.statuses(order_id)) == sorted(
            u.status for u in exchange.order_history("default", order_id)
        )
    assert out_of_order > 0


@pytest.mark.parametrize("drop_terminal", [False, True])
def test_dropped_updates_stay_in_the_order_book(
    make_exchange: Callable[..., Exchange],
    exchange_clock: VirtualClock,
    scen_symbol: Callable[..., str],
    request_for: MakeRequest,
    new_listener: Callable[[], Any],
    *,
    drop_terminal: bool,
) -> None:
    exchange = make_exchange(faults=FaultConfig(drop_rate=0.4, drop_terminal=drop_terminal))
    listener = subscribed(exchange, new_listener)
    ids = run_orders(exchange, exchange_clock, request_for, scen_symbol(exchange), 30)
    recorded = sum(len(exchange.order_history("default", o)) for o in ids)
    assert 0 < len(listener.updates) < recorded
    assert all(o.status == "COMPLETE" for o in exchange.orders("default"))
    terminal_seen = sum("COMPLETE" in listener.statuses(o) for o in ids)
    assert (terminal_seen == len(ids)) is not drop_terminal


def test_unknown_outcome_raises_but_the_order_exists_and_fills(
    exchange: Exchange,
    exchange_clock: VirtualClock,
    scen_call: str,
    request_for: MakeRequest,
) -> None:
    exchange.add_rule(OrderRule(match(tag_prefix="rv"), unknown_outcome()))
    exchange.set_ltp(scen_call, 100.0, level_lots=(10,))
    with pytest.raises(OutcomeUnknown):
        exchange.place("default", request_for(scen_call, Side.BUY, 50, price=100.0, tag="rv1"))
    exchange_clock.advance(1.0)
    (found,) = exchange.orders_by_tag("rv1")
    assert found.status == "COMPLETE"
    assert exchange.net_positions() == {scen_call: 50}


def test_a_lost_send_raises_the_same_way_but_no_order_exists(
    exchange: Exchange,
    exchange_clock: VirtualClock,
    scen_call: str,
    request_for: MakeRequest,
) -> None:
    exchange.add_rule(OrderRule(match(tag_prefix="rv"), unknown_outcome(accepted=False)))
    with pytest.raises(OutcomeUnknown):
        exchange.place("default", request_for(scen_call, Side.BUY, 50, price=100.0, tag="rv1"))
    exchange_clock.advance(1.0)
    assert exchange.orders_by_tag("rv1") == []


def test_unknown_outcome_rate_hits_about_its_share(
    make_exchange: Callable[..., Exchange],
    exchange_clock: VirtualClock,
    scen_symbol: Callable[..., str],
    request_for: MakeRequest,
) -> None:
    exchange = make_exchange(faults=FaultConfig(unknown_outcome_rate=0.5))
    symbol = scen_symbol(exchange)
    raised = 0
    for n in range(40):
        try:
            exchange.place("default", request_for(symbol, Side.BUY, 10, price=1.0, tag=f"u{n}"))
        except OutcomeUnknown:
            raised += 1
        exchange_clock.advance(0.2)
    assert 5 < raised < 35
    assert len(exchange.all_orders()) == 40


def test_partial_fills_come_in_one_to_ten_pieces_and_never_overfill(
    make_exchange: Callable[..., Exchange],
    exchange_clock: VirtualClock,
    scen_symbol: Callable[..., str],
    request_for: MakeRequest,
) -> None:
    exchange = make_exchange(faults=FaultConfig(partial_fills=(1, 10)))
    ids = run_orders(exchange, exchange_clock, request_for, scen_symbol(exchange), 30, quantity=100)
    pieces = [len(exchange.fills(o)) for o in ids]
    assert all(exchange.order(o).status == "COMPLETE" for o in ids)
    assert all(sum(f.quantity for f in exchange.fills(o)) == 100 for o in ids)
    assert min(pieces) >= 1
    assert max(pieces) <= 10
    assert len(set(pieces)) > 3


def test_unsolicited_cancel_of_a_partly_filled_remainder(
    make_exchange: Callable[..., Exchange],
    exchange_clock: VirtualClock,
    scen_symbol: Callable[..., str],
    request_for: MakeRequest,
) -> None:
    exchange = make_exchange(faults=FaultConfig(partial_fills=(3, 5), remainder_cancel_rate=1.0))
    ids = run_orders(exchange, exchange_clock, request_for, scen_symbol(exchange), 10, quantity=100)
    for order_id in ids:
        order = exchange.order(order_id)
        assert order.status == "CANCELLED"
        assert 0 < order.filled_quantity < 100
        assert order.filled_quantity + order.cancelled_quantity == 100


def test_random_rejections_at_the_configured_rate(
    make_exchange: Callable[..., Exchange],
    exchange_clock: VirtualClock,
    scen_symbol: Callable[..., str],
    request_for: MakeRequest,
) -> None:
    exchange = make_exchange(faults=FaultConfig(reject_rate=1.0))
    ids = run_orders(exchange, exchange_clock, request_for, scen_symbol(exchange), 5)
    assert {exchange.order(o).status for o in ids} == {"REJECTED"}
    assert exchange.net_positions() == {}


def test_hold_keeps_an_order_open_until_released(
    exchange: Exchange,
    exchange_clock: VirtualClock,
    scen_call: str,
    request_for: MakeRequest,
) -> None:
    exchange.add_rule(OrderRule(match(tradingsymbol=scen_call, side=Side.BUY), hold()))
    exchange.set_ltp(scen_call, 100.0, level_lots=(10,))
    held = exchange.place("default", request_for(scen_call, Side.BUY, 50, price=100.0))
    other = exchange.place(
        "default", request_for(scen_call, Side.BUY, 50, price=100.0)
    )  # the rule was one-shot
    exchange_clock.advance(30.0)
    assert (exchange.order(held).status, exchange.order(held).filled_quantity) == ("OPEN", 0)
    assert exchange.order(other).status == "COMPLETE"
    exchange.release(held)
    exchange_clock.advance(1.0)
    assert exchange.order(held).status == "COMPLETE"


def test_partial_then_hold_then_cancel_leaves_a_cancelled_order_with_fills(
    exchange: Exchange,
    exchange_clock: VirtualClock,
    scen_call: str,
    request_for: MakeRequest,
) -> None:
    exchange.add_rule(OrderRule(match(tag_prefix="hedge"), partial(20)))
    exchange.set_ltp(scen_call, 100.0)
    order_id = exchange.place("default", request_for(scen_call, Side.BUY, 50, price=100.0, tag="hedge-1"))
    exchange_clock.advance(10.0)
    assert (exchange.order(order_id).status, exchange.order(order_id).filled_quantity) == ("OPEN", 20)
    exchange.cancel("default", order_id)
    exchange_clock.advance(1.0)
    final = exchange.order(order_id)
    assert (final.status, final.filled_quantity, final.cancelled_quantity) == ("CANCELLED", 20, 30)
    assert exchange.net_positions() == {scen_call: 20}


def test_fill_after_and_delay_move_the_timeline(
    exchange: Exchange,
    exchange_clock: VirtualClock,
    scen_call: str,
    request_for: MakeRequest,
) -> None:
    exchange.add_rule(OrderRule(match(tag_prefix="late"), fill_after(5.0)))
    exchange.add_rule(OrderRule(match(tag_prefix="slow"), delay(3.0)))
    exchange.set_ltp(scen_call, 100.0, level_lots=(10,))
    late = exchange.place("default", request_for(scen_call, Side.BUY, 50, price=100.0, tag="late"))
    slow = exchange.place("default", request_for(scen_call, Side.BUY, 50, price=100.0, tag="slow"))
    exchange_clock.advance(4.5)
    assert exchange.order(late).status == "OPEN"
    assert exchange.order(slow).status == "VALIDATION PENDING"  # each hop takes 3 s longer
    exchange_clock.advance(6.0)
    assert exchange.order(late).status == "COMPLETE"
    assert exchange.order(slow).status == "COMPLETE"


def test_nth_and_repeating_rules(
    exchange: Exchange,
    exchange_clock: VirtualClock,
    scen_call: str,
    request_for: MakeRequest,
) -> None:
    exchange.add_rule(OrderRule(match(side=Side.SELL, nth=2), hold()))
    rule = exchange.add_rule(OrderRule(match(tag_prefix="x"), hold(), once=False))
    exchange.set_ltp(scen_call, 100.0, level_lots=(100,))
    sells = [
        exchange.place("default", request_for(scen_call, Side.SELL, 10, price=100.0, tag=f"s{n}"))
        for n in range(3)
    ]
    xs = [
        exchange.place("default", request_for(scen_call, Side.BUY, 10, price=100.0, tag=f"x{n}"))
        for n in range(3)
    ]
    exchange_clock.advance(5.0)
    assert [exchange.order(o).status for o in sells] == ["COMPLETE", "OPEN", "COMPLETE"]
    assert [exchange.order(o).status for o in xs] == ["OPEN"] * 3
    exchange.remove_rule(rule)
    after = exchange.place("default", request_for(scen_call, Side.BUY, 10, price=100.0, tag="x9"))
    exchange_clock.advance(5.0)
    assert exchange.order(after).status == "COMPLETE"


def test_updates_sent_while_disconnected_are_lost_but_booked(
    exchange: Exchange,
    exchange_listener: Any,
    exchange_clock: VirtualClock,
    scen_call: str,
    request_for: MakeRequest,
) -> None:
    exchange.set_ltp(scen_call, 100.0, level_lots=(10,))
    exchange.disconnect("default", 5.0)
    order_id = exchange.place("default", request_for(scen_call, Side.BUY, 50, price=100.0))
    exchange_clock.advance(10.0)
    assert exchange_listener.connection == [False, True]
    assert exchange_listener.statuses(order_id) == []
    assert exchange.order(order_id).status == "COMPLETE"


def test_a_halt_stops_fills_until_it_ends(
    exchange: Exchange,
    exchange_clock: VirtualClock,
    scen_call: str,
    request_for: MakeRequest,
) -> None:
    exchange.set_ltp(scen_call, 100.0, level_lots=(10,))
    exchange.halt("SCEN", 60.0)
    order_id = exchange.place("default", request_for(scen_call, Side.BUY, 50, price=100.0))
    exchange_clock.advance(59.0)
    assert (exchange.order(order_id).status, exchange.order(order_id).filled_quantity) == ("OPEN", 0)
    exchange_clock.advance(2.0)
    assert exchange.order(order_id).status == "COMPLETE"


def test_a_ten_per_cent_index_gap_trips_the_circuit_breaker(
    exchange: Exchange, exchange_clock: VirtualClock
) -> None:
    start = exchange.spot("NIFTY")
    exchange.gap("NIFTY", pct=-0.10)
    exchange_clock.advance(600.0)
    assert exchange.market.is_halted("NIFTY")
    assert exchange.spot("NIFTY") == pytest.approx(start * 0.9)  # frozen while halted
    exchange_clock.advance(400.0)
    assert not exchange.market.is_halted("NIFTY")


def test_bad_ticks_are_zero_or_nan_when_configured(
    make_exchange: Callable[..., Exchange],
    exchange_clock: VirtualClock,
    new_listener: Callable[[], Any],
) -> None:
    exchange = make_exchange(faults=FaultConfig(bad_tick_rate=1.0))
    listener = new_listener()
    exchange.subscribe("default", listener, [256265])
    exchange_clock.advance(2.0)
    assert listener.ticks
    assert all(t.last_price == 0.0 or t.last_price != t.last_price for t in listener.ticks)
