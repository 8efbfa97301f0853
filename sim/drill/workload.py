"""Request bodies of the drill's workload: iron condors, vertical spreads, short straddles, and bad input.

Symbols and limit prices are read off the market when a request is sent (the `MarketView` of the
simulated exchange in-process, or of `legguard sim-exchange` over HTTP), so a plan drawn at the start
still trades around the money after the market has moved.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from domain.instruments import Instrument, InstrumentKind, InstrumentUniverse, round_to_tick
from sim.drill.params import BadRequest, GroupPlan

MAX_OFFSET = 9  # the furthest strike from the money a plan uses (wing 3 + 5 + 1)


@dataclass
class MarketView:
    """What building a request needs to know: the chain, where the money is, and last prices."""

    universe: InstrumentUniverse
    spot: Callable[[str], float]
    ltp: Callable[[str], float]

    def option(self, underlying: str, offset: int, kind: str) -> Instrument:
        """The option `offset` strikes from the money (clamped to the chain) on the second expiry."""
        chain = self._chain(underlying, kind)
        strikes = sorted(chain)
        spot = self.spot(underlying)
        money = min(range(len(strikes)), key=lambda i: abs(strikes[i] - spot))
        # Far from the listed money (after a gap) the chain runs out: keep every offset on the chain
        # so that the legs of one group stay on distinct strikes.
        money = max(MAX_OFFSET, min(len(strikes) - 1 - MAX_OFFSET, money))
        index = money + offset
        return chain[strikes[index]]

    def _chain(self, underlying: str, kind: str) -> dict[float, Instrument]:
        cache = self.__dict__.setdefault("_chains", {})
        found = cache.get((underlying, kind))
        if found is None:
            expiries = self.universe.expiries(underlying)
            expiry: dt.date = expiries[min(1, len(expiries) - 1)]
            found = {
                inst.strike: inst
                for inst in self.universe.values()
                if inst.underlying == underlying and inst.expiry == expiry and inst.kind is InstrumentKind(kind)
            }
            cache[(underlying, kind)] = found
        return found

    def marketable_limit(self, inst: Instrument, side: str, slack: float) -> float:
        price = self.ltp(inst.tradingsymbol)
        price = price * (1 + slack) if side == "BUY" else price * (1 - slack)
        return max(inst.tick_size, round_to_tick(price, inst.tick_size))


def _leg(view: MarketView, plan: GroupPlan, inst: Instrument, side: str, role: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "tradingsymbol": inst.tradingsymbol,
        "side": side,
        "quantity": plan.lots * inst.lot_size,
        "role": role,
        "order_type": plan.order_type,
    }
    if plan.order_type == "MARKET":
        body["market_protection"] = plan.market_protection
    else:
        body["price"] = view.marketable_limit(inst, side, plan.slack)
    return body


def group_legs(view: MarketView, plan: GroupPlan) -> list[dict[str, Any]]:
    u = plan.underlying
    if plan.strategy == "iron_condor":
        return [
            _leg(view, plan, view.option(u, -plan.wing_offset, "PE"), "BUY", "protection"),
            _leg(view, plan, view.option(u, plan.wing_offset, "CE"), "BUY", "protection"),
            _leg(view, plan, view.option(u, -plan.short_offset, "PE"), "SELL", "risk"),
            _leg(view, plan, view.option(u, plan.short_offset, "CE"), "SELL", "risk"),
        ]
    if plan.strategy == "vertical_spread":
        sign = 1 if plan.kind == "CE" else -1
        return [
            _leg(view, plan, view.option(u, sign * plan.wing_offset, plan.kind), "BUY", "protection"),
            _leg(view, plan, view.option(u, sign * plan.short_offset, plan.kind), "SELL", "risk"),
        ]
    if plan.strategy == "short_straddle":
        return [
            _leg(view, plan, view.option(u, 0, "CE"), "SELL", "risk"),
            _leg(view, plan, view.option(u, 0, "PE"), "SELL", "risk"),
        ]
    raise ValueError(f"unknown strategy {plan.strategy!r}")


def group_payload(view: MarketView, plan: GroupPlan) -> dict[str, Any]:
    return {
        "strategy": plan.strategy,
        "idempotency_key": plan.key,
        "underlying": plan.underlying,
        "legs": group_legs(view, plan),
    }


_SPREAD = GroupPlan(
    key="",
    strategy="vertical_spread",
    underlying="NIFTY",
    lots=1,
    order_type="LIMIT",
    market_protection=-1,
    short_offset=2,
    wing_offset=5,
    kind="CE",
    slack=0.1,
    submit_at=0.0,
)


def bad_payload(view: MarketView, bad: BadRequest, conflict_with: GroupPlan | None) -> dict[str, Any]:
    """A request that must be denied with `bad.expected_code`; built from a valid spread."""
    if bad.kind == "idempotency_conflict" and conflict_with is not None:
        body = group_payload(view, conflict_with)
        body["strategy"] = conflict_with.strategy + "-changed"
        return body
    body = group_payload(view, _SPREAD)
    body["idempotency_key"] = bad.key
    legs: list[dict[str, Any]] = body["legs"]
    _CORRUPT[bad.kind](view, body, legs)
    return body


def _set(field: str, value: Any, leg: int = 1) -> Callable[[MarketView, dict[str, Any], list[dict[str, Any]]], None]:
    def corrupt(_view: MarketView, _body: dict[str, Any], legs: list[dict[str, Any]]) -> None:
        legs[leg][field] = value

    return corrupt


def _body(field: str, value: Any) -> Callable[[MarketView, dict[str, Any], list[dict[str, Any]]], None]:
    def corrupt(_view: MarketView, body: dict[str, Any], _legs: list[dict[str, Any]]) -> None:
        if value is _DELETE:
            body.pop(field)
        else:
            body[field] = value

    return corrupt


_DELETE = object()


def _too_many(view: MarketView, body: dict[str, Any], legs: list[dict[str, Any]]) -> None:
    body["legs"] = [{**legs[0], "tradingsymbol": view.option("NIFTY", 5 + i, "CE").tradingsymbol} for i in range(9)]


def _duplicate(_view: MarketView, _body: dict[str, Any], legs: list[dict[str, Any]]) -> None:
    legs.append(dict(legs[0]))


def _mixed(view: MarketView, _body: dict[str, Any], legs: list[dict[str, Any]]) -> None:
    inst = view.option("BANKNIFTY", 3, "CE")
    legs[1] = {
        **legs[1],
        "tradingsymbol": inst.tradingsymbol,
        "quantity": inst.lot_size,
        "price": view.marketable_limit(inst, "SELL", 0.1),
    }


def _sold_protection(_view: MarketView, _body: dict[str, Any], legs: list[dict[str, Any]]) -> None:
    legs[0]["side"] = "SELL"


def _off_tick(_view: MarketView, _body: dict[str, Any], legs: list[dict[str, Any]]) -> None:
    legs[1]["price"] = round(float(legs[1]["price"]) + 0.02, 2)


def _market_without_protection(_view: MarketView, _body: dict[str, Any], legs: list[dict[str, Any]]) -> None:
    legs[1].pop("price")
    legs[1]["order_type"] = "MARKET"


def _sl_m(_view: MarketView, _body: dict[str, Any], legs: list[dict[str, Any]]) -> None:
    legs[1].pop("price")
    legs[1].update(order_type="SL-M", trigger_price=1.0, market_protection=-1)


_CORRUPT: dict[str, Callable[[MarketView, dict[str, Any], list[dict[str, Any]]], None]] = {
    "unknown_field": _body("stop_loss_pct", 5),
    "missing_legs": _body("legs", _DELETE),
    "quantity_string": _set("quantity", "65"),
    "no_legs": _body("legs", []),
    "too_many_legs": _too_many,
    "duplicate_legs": _duplicate,
    "mixed_underlyings": _mixed,
    "sold_protection": _sold_protection,
    "unknown_instrument": _set("tradingsymbol", "NIFTY99JAN99999CE"),
    "zero_quantity": _set("quantity", 0),
    "odd_lot": _set("quantity", 64),
    "fractional_quantity": _set("quantity", 65.0),
    "above_lot_cap": _set("quantity", 65 * 201),
    "negative_price": _set("price", -5.0),
    "nan_price": _set("price", float("nan")),
    "off_tick_price": _off_tick,
    "market_without_protection": _market_without_protection,
    "sl_m_on_option": _sl_m,
}
