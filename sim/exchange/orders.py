"""Order rules: input validation, RMS and exchange checks, protection limits, stop triggers.

Which check fails where follows Kite: a malformed request is refused by the API call itself
(InputException, nothing is created), RMS refusals (margin, freeze quantity, price band, stop on the
wrong side) and exchange refusals (SL-M on an option) arrive later as status REJECTED.
"""

from __future__ import annotations

import itertools
import math
import random

from brokers.port import OrderRequest
from domain.instruments import Instrument, InstrumentUniverse, is_on_tick, round_to_tick
from domain.model import OrderType, Side
from runtime.config import ExchangeRules
from sim.exchange.errors import InputRejected
from sim.exchange.market import Band

SL_M_ON_OPTIONS = (
    "16052 : SL-M orders are not allowed for index and stock options by the exchange. "
    "Place a stoploss-limit (SL) order instead."
)


def validate_request(request: OrderRequest, universe: InstrumentUniverse, rules: ExchangeRules) -> Instrument:
    """The instrument of a well-formed request; InputRejected for anything the API refuses."""
    inst = universe.get(request.tradingsymbol)
    if inst is None or inst.exchange != request.exchange:
        raise InputRejected(f"Invalid `tradingsymbol`: {request.exchange}:{request.tradingsymbol}")
    if len(request.tag) > rules.tag_max_length:
        raise InputRejected(f"Invalid `tag`: length should be at most {rules.tag_max_length} characters")
    check_quantity(request.quantity, inst)
    _check_prices(request.order_type, request.price, request.trigger_price, inst)
    _check_protection(request.order_type, request.market_protection)
    return inst


def check_quantity(quantity: int, inst: Instrument) -> None:
    if quantity <= 0 or quantity % inst.lot_size:
        raise InputRejected(f"Quantity should be a multiple of the lot size {inst.lot_size}, got {quantity}")


def _check_prices(order_type: OrderType, price: float | None, trigger: float | None, inst: Instrument) -> None:
    if order_type in (OrderType.LIMIT, OrderType.SL):
        check_price("price", price, inst)
    if order_type in (OrderType.SL, OrderType.SL_M):
        check_price("trigger_price", trigger, inst)


def check_price(name: str, value: float | None, inst: Instrument) -> None:
    if value is None or not math.isfinite(value) or value <= 0:
        raise InputRejected(f"Invalid `{name}`: a positive price is required, got {value}")
    if not is_on_tick(value, inst.tick_size):
        raise InputRejected(f"Invalid `{name}`: {value} is not a multiple of the tick size {inst.tick_size}")


def _check_protection(order_type: OrderType, protection: int | None) -> None:
    if order_type not in (OrderType.MARKET, OrderType.SL_M):
        return
    if protection is None or protection == 0:
        # Since 1 Apr 2026 API market orders without protection are refused.
        raise InputRejected("Market orders without `market_protection` are not allowed via API")
    if protection != -1 and not 1 <= protection <= 100:
        raise InputRejected(f"Invalid `market_protection`: {protection} (use -1 or 1 to 100)")


def rms_rejection(
    inst: Instrument,
    *,
    order_type: OrderType,
    side: Side,
    quantity: int,
    price: float,
    trigger: float,
    band: Band,
    ltp: float,
) -> str | None:
    """Why the broker's RMS refuses this order, or None. Margin is checked separately."""
    if quantity > inst.freeze_quantity:
        return (
            f"RMS:Rule: Quantity {quantity} exceeds the exchange freeze quantity "
            f"{inst.freeze_quantity} for {inst.tradingsymbol}"
        )
    if order_type in (OrderType.LIMIT, OrderType.SL) and not band.contains(price):
        return f"RMS:Rule: Order price {price:.2f} is outside the price band {band.low:.2f} - {band.high:.2f}"
    if order_type in (OrderType.SL, OrderType.SL_M):
        if not band.contains(trigger):
            return f"RMS:Rule: Trigger price {trigger:.2f} is outside the price band {band.low:.2f} - {band.high:.2f}"
        if side is Side.SELL and trigger > ltp:
            return "Trigger price for stoploss sell orders should be lower than the last traded price"
        if side is Side.BUY and trigger < ltp:
            return "Trigger price for stoploss buy orders should be higher than the last traded price"
        if order_type is OrderType.SL and (price > trigger if side is Side.SELL else price < trigger):
            return "Limit price of a stoploss order must not be beyond its trigger price"
    return None


def exchange_rejection(order_type: OrderType, inst: Instrument, rules: ExchangeRules) -> str | None:
    if order_type is OrderType.SL_M and inst.is_option and not rules.sl_m_allowed_on_options:
        return SL_M_ON_OPTIONS
    return None


def protection_limit(side: Side, ltp: float, protection_pct: float, band: Band, tick: float) -> float:
    """The limit a protected market order becomes: LTP ± protection, never beyond the band.

    Rounded towards the market so that the limit never exceeds the protection the client asked for.
    """
    if side is Side.BUY:
        raw = min(ltp * (1.0 + protection_pct / 100.0), band.high)
        return round_to_tick(max(tick, math.floor(raw / tick + 1e-9) * tick), tick)
    raw = max(ltp * (1.0 - protection_pct / 100.0), band.low)
    return round_to_tick(max(tick, math.ceil(raw / tick - 1e-9) * tick), tick)


def is_triggered(side: Side, trigger: float, ltp: float) -> bool:
    """A sell stop fires when the price falls to the trigger, a buy stop when it rises to it."""
    return ltp <= trigger + 1e-9 if side is Side.SELL else ltp >= trigger - 1e-9


def plan_fills(quantity: int, lot: int, pieces: tuple[int, int], rng: random.Random | None) -> list[int]:
    """Split `quantity` into between pieces[0] and pieces[1] fills of whole lots, in order."""
    lots = quantity // lot
    low, high = max(1, pieces[0]), max(1, pieces[1])
    count = min(lots, low if rng is None or high <= low else rng.randint(low, high))
    if count <= 1:
        return [quantity]
    cuts = sorted(rng.sample(range(1, lots), count - 1)) if rng is not None else []
    bounds = [0, *cuts, lots]
    return [(b - a) * lot for a, b in itertools.pairwise(bounds)]
