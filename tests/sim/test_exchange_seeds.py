"""The design documents' worked numbers (../shared/seeds/002), reproduced on the exchange's ledger.

Quantities that are not NIFTY lot multiples under 2026 rules use the scenario underlying SCEN
(lot 10): SELL 50 calls, SELL 100 with a freeze of 20.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from brokers.port import OrderRequest
from domain.instruments import InstrumentKind, UnderlyingSpec
from domain.model import OrderType, Side
from runtime.rng import RandomStreams
from sim.clock import VirtualClock
from sim.exchange import Exchange, Listing, OrderRule, build_universe, default_listings, match, reject

MakeRequest = Callable[..., OrderRequest]


@pytest.mark.parametrize(("reversal_price", "locked_pnl"), [(99.0, 50.0), (102.0, -100.0)])
def test_sell_50_then_a_rejected_buy_leaves_short_50_until_reversed(
    exchange: Exchange,
    exchange_clock: VirtualClock,
    scen_call: str,
    request_for: MakeRequest,
    *,
    reversal_price: float,
    locked_pnl: float,
) -> None:
    exchange.add_rule(OrderRule(match(tag_prefix="leg2"), reject("RMS:Rule: hedge order rejected")))
    exchange.set_ltp(scen_call, 100.0, level_lots=(10,))
    leg1 = exchange.place("default", request_for(scen_call, Side.SELL, 50, price=100.0, tag="leg1"))
    exchange_clock.advance(1.0)
    assert exchange.order(leg1).status == "COMPLETE"
    assert [(f.quantity, f.price) for f in exchange.fills(leg1)] == [(50, 100.0)]

    leg2 = exchange.place("default", request_for(scen_call, Side.BUY, 50, price=101.0, tag="leg2"))
    exchange_clock.advance(1.0)
    assert exchange.order(leg2).status == "REJECTED"
    exchange_clock.advance(60.0)
    assert exchange.net_positions() == {scen_call: -50}  # SHORT 50, naked: cancelling leg1 is impossible
    with pytest.raises(Exception, match="cancelled"):
        exchange.cancel("default", leg1)

    exchange.set_ltp(scen_call, reversal_price, level_lots=(10,))
    reversal = exchange.place(
        "default", request_for(scen_call, Side.BUY, 50, OrderType.MARKET, protection=-1, tag="rv-leg1")
    )
    exchange_clock.advance(1.0)
    assert exchange.order(reversal).status == "COMPLETE"
    assert exchange.net_positions() == {scen_call: 0}
    (position,) = exchange.positions("default")
    assert position.pnl == pytest.approx(locked_pnl)  # 50 x (100 - reversal price)


def test_stop_gapped_from_98_to_90_triggers_but_stays_unfilled(
    exchange: Exchange,
    exchange_clock: VirtualClock,
    scen_call: str,
    request_for: MakeRequest,
) -> None:
    exchange.set_ltp(scen_call, 100.0, level_lots=(10,))
    entry = exchange.place("default", request_for(scen_call, Side.BUY, 50, price=100.0, tag="entry"))
    exchange_clock.advance(1.0)
    assert exchange.net_positions() == {scen_call: 50}
    stop = exchange.place(
        "default", request_for(scen_call, Side.SELL, 50, OrderType.SL, price=94.5, trigger=95.0, tag="stop")
    )
    exchange_clock.advance(1.0)
    assert exchange.order(entry).status == "COMPLETE"
    assert exchange.order(stop).status == "TRIGGER PENDING"

    for price in (100.5, 98.0, 95.5):  # the document's path, 100 ms apart: no trigger yet
        exchange.set_ltp(scen_call, price, level_lots=(10,))
        exchange_clock.advance(0.1)
    assert exchange.order(stop).status == "TRIGGER PENDING"
    exchange.set_ltp(scen_call, 90.0, level_lots=(10,))  # the gap: no price between 95.5 and 90 ever trades
    exchange_clock.advance(60.0)

    stopped = exchange.order(stop)
    assert [u.status for u in exchange.order_history("default", stop)][-2:] == ["TRIGGER PENDING", "OPEN"]
    assert (stopped.status, stopped.filled_quantity) == ("OPEN", 0)  # a sell limit at 94.5 with bids at 90
    assert exchange.quote(scen_call).best_bid == 90.0
    assert exchange.net_positions() == {scen_call: 50}  # still long: this is why the fallback exists

    exchange.cancel("default", stop)
    fallback = exchange.place(
        "default", request_for(scen_call, Side.SELL, 50, OrderType.MARKET, protection=-1, tag="stop-fb")
    )
    exchange_clock.advance(1.0)
    assert exchange.order(fallback).status == "COMPLETE"
    assert exchange.net_positions() == {scen_call: 0}
    assert exchange.positions("default")[0].pnl == pytest.approx(50 * (90.0 - 100.0))


def test_a_300_point_move_on_a_naked_short_call_turns_margin_into_a_rejection(
    exchange: Exchange,
    exchange_clock: VirtualClock,
    request_for: MakeRequest,
) -> None:
    expiry = exchange.universe.expiries("NIFTY")[0]
    call = exchange.universe.option("NIFTY", expiry, 24_000.0, InstrumentKind.CE)
    assert call is not None
    exchange.set_funds("default", 200_000.0)
    exchange.set_spot("NIFTY", 24_000.0)
    sell = request_for(call.tradingsymbol, Side.SELL, 65, OrderType.MARKET, protection=-1)
    first = exchange.place("default", sell)
    exchange_clock.advance(1.0)
    assert exchange.order(first).status == "COMPLETE"
    before = exchange.account_summary("default")

    exchange.gap("NIFTY", to_price=24_300.0)
    after = exchange.account_summary("default")
    assert after.span > before.span
    assert after.short_mtm < before.short_mtm  # the call's value rose against the short
    assert after.available < before.available - 10_000.0
    second = exchange.place("default", sell)
    exchange_clock.advance(1.0)
    assert exchange.order(second).status == "REJECTED"
    assert (exchange.order(second).status_message or "").startswith("RMS:Margin Exceeds")


def test_sell_100_with_a_freeze_of_20_needs_five_tracked_children(
    exchange_clock: VirtualClock,
    request_for: MakeRequest,
    scen_symbol: Callable[..., str],
) -> None:
    listings = [listing for listing in default_listings() if listing.spec.name != "SCEN"]
    listings.append(
        Listing(UnderlyingSpec("SCEN", lot_size=10, freeze_quantity=20, strike_step=100), 10_000.0)
    )
    universe = build_universe(listings, exchange_clock.now())
    exchange = Exchange(exchange_clock, RandomStreams(7), universe=universe)
    call = scen_symbol(exchange)
    exchange.set_ltp(call, 100.0, level_lots=(10,))
    whole = exchange.place("default", request_for(call, Side.SELL, 100, price=100.0, tag="whole"))
    exchange.add_rule(OrderRule(match(tag_prefix="child", nth=5), reject("RMS:Rule: Check circuit limit")))
    children = [
        exchange.place("default", request_for(call, Side.SELL, 20, price=100.0, tag=f"child{n}"))
        for n in range(1, 6)
    ]
    exchange_clock.advance(1.0)
    assert exchange.order(whole).status == "REJECTED"
    assert "freeze" in (exchange.order(whole).status_message or "")
    assert [exchange.order(c).status for c in children] == ["COMPLETE"] * 4 + ["REJECTED"]
    assert exchange.net_positions() == {call: -80}  # 80 filled; the rejected 20 never traded
