"""Turning a strategy's intent into a sized group payload (the risk actor's sizing step).

An intent is a group payload whose legs carry `ratio` (lots per set) instead of `quantity`, plus a
`confidence`. One set (every leg at its ratio) is priced by the worst-case margin check without
reserving anything; the number of sets comes from domain/sizing.py.
"""

from __future__ import annotations

import copy
import math
from typing import Any

from actors.reads import read_broker
from domain.errors import DenialCode, Denied
from domain.greeks import delta as bs_delta
from domain.greeks import years_to_expiry
from domain.instruments import InstrumentKind
from domain.pricing import option_vol, parity_spot, parity_symbols
from domain.sizing import SizingDecision, SizingInputs
from supervision.context import ActorContext

INTENT_ONLY = ("confidence",)


def payload_for_sets(intent: dict[str, Any], sets: int, lot_size_of: Any) -> dict[str, Any]:
    """The group payload with each leg's quantity = ratio x sets x lot size."""
    if not isinstance(intent, dict) or not isinstance(intent.get("legs"), list):
        raise Denied(DenialCode.SCHEMA_ERROR, "legs", "an intent needs a list of legs")
    payload = {k: copy.deepcopy(v) for k, v in intent.items() if k not in INTENT_ONLY}
    legs = []
    for index, leg in enumerate(intent["legs"]):
        if not isinstance(leg, dict):
            raise Denied(DenialCode.SCHEMA_ERROR, f"legs[{index}]", "a leg is an object")
        ratio = leg.get("ratio")
        if isinstance(ratio, bool) or not isinstance(ratio, int) or ratio <= 0:
            raise Denied(DenialCode.INVALID_QTY, f"legs[{index}].ratio", "a whole number of lots above zero")
        if "quantity" in leg:
            raise Denied(
                DenialCode.SCHEMA_ERROR, f"legs[{index}].quantity", "an intent says ratios; risk sets quantities"
            )
        symbol = leg.get("tradingsymbol")
        lot = lot_size_of(symbol)
        if lot is None:
            raise Denied(
                DenialCode.UNKNOWN_INSTRUMENT, f"legs[{index}].tradingsymbol", f"unknown instrument {symbol!r}"
            )
        sized = {k: v for k, v in leg.items() if k != "ratio"}
        sized["quantity"] = ratio * sets * lot
        legs.append(sized)
    payload["legs"] = legs
    return payload


def confidence_of(intent: dict[str, Any]) -> float:
    value = intent.get("confidence", 1.0)
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or not 0 <= value <= 1
    ):
        raise Denied(DenialCode.SCHEMA_ERROR, "confidence", "a number between 0 and 1")
    return float(value)


def sizing_inputs(
    ctx: ActorContext, spec_one_set: Any, margin_per_set: float, available: float, confidence: float
) -> SizingInputs:
    universe = ctx.universe
    risk = ctx.settings.risk
    now = ctx.clock.now()
    legs = [(universe[leg.tradingsymbol], leg.signed_quantity) for leg in spec_one_set.legs]
    options = [inst for inst, _ in legs if inst.is_option]
    symbols = [inst.tradingsymbol for inst, _ in legs]
    positions = read_broker(ctx, "positions")
    held = {p.tradingsymbol: p.quantity for p in positions if p.quantity and p.tradingsymbol in universe}
    realised = sum(p.pnl for p in positions if not p.quantity)
    expiry = min((i.expiry for i in options), default=None)
    atm: list[str] = []
    if expiry is not None:
        atm = parity_symbols(universe, spec_one_set.underlying, expiry, sum(i.strike for i in options) / len(options))
        symbols += atm
    ltps = read_broker(ctx, "ltp", sorted(set(symbols) | set(held)))
    spot = parity_spot(universe, ltps, spec_one_set.underlying, expiry) if expiry is not None else None
    spot = spot or (sum(i.strike for i in options) / len(options) if options else 0.0)

    def unit_delta(inst: Any) -> float:
        if inst.kind is InstrumentKind.FUT:
            return 1.0
        vol = option_vol(inst, ltps.get(inst.tradingsymbol), spot, now)
        return bs_delta(inst.kind, spot, inst.strike, years_to_expiry(now, inst.expiry), vol)

    delta_per_set = sum(units * unit_delta(inst) for inst, units in legs)
    portfolio_delta = sum(
        units * unit_delta(universe[symbol])
        for symbol, units in held.items()
        if universe[symbol].underlying == spec_one_set.underlying
    )
    # The regime is read at the money: the wings' smile would always look like high volatility.
    at_the_money = sorted((universe[s] for s in atm), key=lambda i: abs(i.strike - spot))[:2]
    vols = [option_vol(i, ltps.get(i.tradingsymbol), spot, now) for i in at_the_money]
    return SizingInputs(
        available_margin=available,
        margin_per_set=margin_per_set,
        portfolio_delta=portfolio_delta,
        delta_per_set=delta_per_set,
        delta_limit=risk.portfolio_delta_limit,
        realised_pnl_today=realised,
        daily_loss_limit=risk.daily_loss_limit,
        current_vol=sum(vols) / len(vols) if vols else risk.baseline_vol,
        baseline_vol=risk.baseline_vol,
        confidence=confidence,
        max_sets=risk.max_sets,
    )


def refuse_zero(decision: SizingDecision) -> None:
    if decision.sets > 0:
        return
    code = DenialCode.MARGIN if decision.binding == "margin" else DenialCode.EXPOSURE_LIMIT
    raise Denied(code, "legs", f"risk sizes this intent to zero sets ({decision.binding} binds)", **decision.as_dict())
