"""What a price shock needs from the market: the underlying's spot and each option's volatility,
read off option prices alone (so no index quote is needed)."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping

from domain.greeks import implied_vol, years_to_expiry
from domain.instruments import Instrument, InstrumentKind, InstrumentUniverse

DEFAULT_VOL = 0.2


def parity_spot(
    universe: InstrumentUniverse, ltps: Mapping[str, float], underlying: str, expiry: dt.date
) -> float | None:
    """Spot from put-call parity at the strike where call and put are closest (r = 0): S = K + C - P."""
    best: tuple[float, float] | None = None
    for inst in universe.values():
        if inst.underlying != underlying or inst.expiry != expiry or inst.kind is not InstrumentKind.CE:
            continue
        put = universe.option(underlying, expiry, inst.strike, InstrumentKind.PE)
        if put is None:
            continue
        call_px, put_px = ltps.get(inst.tradingsymbol), ltps.get(put.tradingsymbol)
        if not _usable(call_px) or not _usable(put_px):
            continue
        gap = abs(call_px - put_px)  # type: ignore[operator]
        if best is None or gap < best[0]:
            best = (gap, inst.strike + call_px - put_px)  # type: ignore[operator]
    return best[1] if best is not None else None


def parity_symbols(
    universe: InstrumentUniverse, underlying: str, expiry: dt.date, near: float, count: int = 3
) -> list[str]:
    """The calls and puts of the `count` strikes nearest `near`: what `parity_spot` needs quoted."""
    strikes = sorted(
        {i.strike for i in universe.values() if i.underlying == underlying and i.expiry == expiry and i.is_option},
        key=lambda k: abs(k - near),
    )[:count]
    out = []
    for strike in strikes:
        for kind in (InstrumentKind.CE, InstrumentKind.PE):
            inst = universe.option(underlying, expiry, strike, kind)
            if inst is not None:
                out.append(inst.tradingsymbol)
    return out


def option_vol(inst: Instrument, price: float | None, spot: float, now_epoch: float) -> float:
    """Implied volatility of an option from its last price; a default when it cannot be solved."""
    if inst.kind is InstrumentKind.FUT or not _usable(price):
        return DEFAULT_VOL
    t = years_to_expiry(now_epoch, inst.expiry)
    try:
        vol = implied_vol(inst.kind, float(price), spot, inst.strike, t)  # type: ignore[arg-type]
    except (ValueError, ArithmeticError):
        return DEFAULT_VOL
    return vol if vol is not None and math.isfinite(vol) and vol > 0 else DEFAULT_VOL


def _usable(price: float | None) -> bool:
    return price is not None and math.isfinite(price) and price > 0
