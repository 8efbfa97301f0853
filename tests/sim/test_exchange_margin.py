"""The SPAN-like margin: it grows with risk, shrinks with hedges, and the RMS enforces it."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from brokers.port import OrderRequest
from domain.instruments import InstrumentKind
from domain.model import OrderType, Side
from sim.clock import VirtualClock
from sim.exchange import Exchange

MakeRequest = Callable[..., OrderRequest]


def nifty(exchange: Exchange, strike: float, kind: InstrumentKind = InstrumentKind.CE) -> str:
    inst = exchange.universe.option("NIFTY", exchange.universe.expiries("NIFTY")[0], strike, kind)
    assert inst is not None
    return inst.tradingsymbol


def market(request_for: MakeRequest, symbol: str, side: Side, quantity: int = 65) -> OrderRequest:
    return request_for(symbol, side, quantity, OrderType.MARKET, protection=-1)


def test_margin_grows_with_risk(exchange: Exchange, request_for: MakeRequest) -> None:
    exchange.set_spot("NIFTY", 24_000.0)
    one_lot, two_lots, itm, otm, long_call = exchange.order_margins(
        [
            market(request_for, nifty(exchange, 24_000.0), Side.SELL),
            market(request_for, nifty(exchange, 24_000.0), Side.SELL, 130),
            market(request_for, nifty(exchange, 23_500.0), Side.SELL),
            market(request_for, nifty(exchange, 24_500.0), Side.SELL),
            market(request_for, nifty(exchange, 24_000.0), Side.BUY),
        ]
    )
    assert two_lots.total == pytest.approx(2 * one_lot.total)
    assert itm.span > one_lot.span > otm.span > 0.0
    assert one_lot.exposure == pytest.approx(65 * 24_000.0 * 0.02)
    # A bought option needs its premium and nothing else (its loss is capped at what was paid).
    assert (long_call.span, long_call.exposure) == (0.0, 0.0)
    assert long_call.option_premium == pytest.approx(
        65 * exchange.ltp([nifty(exchange, 24_000.0)])[long_call.tradingsymbol]
    )
    assert long_call.total < one_lot.total / 5


def test_a_call_spread_needs_far_less_than_the_short_call_alone(
    exchange: Exchange, request_for: MakeRequest
) -> None:
    # KITE.md's mock: NIFTY call spread initial 96,505 vs final 34,787. Same direction, similar ratio.
    short, wing = nifty(exchange, 24_000.0), nifty(exchange, 24_200.0)
    basket = exchange.basket_margins(
        "default", [market(request_for, short, Side.SELL), market(request_for, wing, Side.BUY)]
    )
    short_alone = basket.orders[0].total
    assert basket.initial_total == pytest.approx(sum(o.total for o in basket.orders))
    assert basket.final_total < short_alone < basket.initial_total
    assert basket.final_total < 0.5 * basket.initial_total


def test_an_iron_condor_is_hedged_on_both_sides(exchange: Exchange, request_for: MakeRequest) -> None:
    legs = [
        market(request_for, nifty(exchange, 24_500.0), Side.BUY),
        market(request_for, nifty(exchange, 23_500.0, InstrumentKind.PE), Side.BUY),
        market(request_for, nifty(exchange, 24_200.0), Side.SELL),
        market(request_for, nifty(exchange, 23_800.0, InstrumentKind.PE), Side.SELL),
    ]
    condor = exchange.basket_margins("default", legs)
    call_spread = exchange.basket_margins("default", [legs[0], legs[2]])
    naked_shorts = exchange.basket_margins("default", legs[2:])
    assert condor.final_total < naked_shorts.final_total
    # Only one side can lose at a time: the condor's span is no more than one spread's.
    assert condor.final_total < 2 * call_spread.final_total


def test_positions_give_hedge_benefit_only_when_considered(
    exchange: Exchange,
    exchange_clock: VirtualClock,
    request_for: MakeRequest,
) -> None:
    short, wing = nifty(exchange, 24_000.0), nifty(exchange, 24_200.0)
    exchange.place("default", market(request_for, wing, Side.BUY))
    exchange_clock.advance(1.0)
    assert exchange.net_positions() == {wing: 65}
    with_positions = exchange.basket_margins("default", [market(request_for, short, Side.SELL)])
    without = exchange.basket_margins(
        "default", [market(request_for, short, Side.SELL)], consider_positions=False
    )
    assert without.final_total == pytest.approx(without.initial_total)
    assert with_positions.final_total < 0.5 * without.final_total


def test_protection_first_fits_an_account_that_the_short_first_does_not(
    make_exchange: Callable[..., Exchange],
    exchange_clock: VirtualClock,
    request_for: MakeRequest,
) -> None:
    exchange = make_exchange()
    short, wing = nifty(exchange, 24_000.0), nifty(exchange, 24_200.0)
    need_alone = exchange.order_margins([market(request_for, short, Side.SELL)])[0].total
    funds = 0.6 * need_alone
    exchange.set_funds("default", funds)

    short_first = exchange.place("default", market(request_for, short, Side.SELL))
    exchange_clock.advance(1.0)
    assert exchange.order(short_first).status == "REJECTED"
    assert "Margin Exceeds" in (exchange.order(short_first).status_message or "")

    hedge = exchange.place("default", market(request_for, wing, Side.BUY))
    exchange_clock.advance(1.0)
    short_second = exchange.place("default", market(request_for, short, Side.SELL))
    exchange_clock.advance(1.0)
    assert [exchange.order(o).status for o in (hedge, short_second)] == ["COMPLETE", "COMPLETE"]
    assert exchange.net_positions() == {short: -65, wing: 65}
    assert 0.0 < exchange.margins("default").available < funds


def test_buying_spends_the_premium_and_a_resting_short_blocks_margin_until_cancelled(
    exchange: Exchange,
    exchange_clock: VirtualClock,
    request_for: MakeRequest,
) -> None:
    call = nifty(exchange, 24_000.0)
    start = exchange.margins("default").available
    buy = exchange.place("default", market(request_for, call, Side.BUY))
    exchange_clock.advance(1.0)
    paid = sum(f.quantity * f.price for f in exchange.fills(buy))
    assert exchange.margins("default").available == pytest.approx(start - paid)

    far = nifty(exchange, 24_500.0)
    resting = exchange.place(
        "default", request_for(far, Side.SELL, 65, price=round(exchange.ltp([far])[far] * 1.3, 1))
    )
    exchange_clock.advance(1.0)
    assert exchange.order(resting).status == "OPEN"
    blocked = exchange.margins("default").detail["blocked"]
    assert blocked > 0.0
    assert exchange.margins("default").available == pytest.approx(start - paid - blocked)
    exchange.cancel("default", resting)
    exchange_clock.advance(1.0)
    assert exchange.margins("default").detail["blocked"] == 0.0


def test_futures_are_margined_and_marked_to_market_not_paid_for(
    exchange: Exchange,
    exchange_clock: VirtualClock,
    request_for: MakeRequest,
) -> None:
    future = exchange.universe.future("NIFTY")
    assert future is not None
    start = exchange.margins("default").available
    exchange.place(
        "default", request_for(future.tradingsymbol, Side.BUY, 65, OrderType.MARKET, protection=-1)
    )
    exchange_clock.advance(1.0)
    held = exchange.account_summary("default")
    assert held.span + held.exposure < 0.2 * 65 * 24_000.0  # a margin, not the notional
    assert held.available == pytest.approx(start - held.span - held.exposure + held.futures_pnl)
    exchange.gap("NIFTY", pct=0.01)
    moved = exchange.account_summary("default")
    assert moved.futures_pnl - held.futures_pnl == pytest.approx(
        65 * (exchange.spot("NIFTY") - 24_000.0), rel=0.05
    )
