"""Validation of an order-group request: the body of `POST /v1/groups` becomes a `GroupSpec` or a denial.

The request body (JSON)::

    {
      "strategy":        string, 1..64 characters                      required
      "idempotency_key": string, 1..64 characters of [A-Za-z0-9_.:-]   required
      "underlying":      string, e.g. "NIFTY"                          required
      "product":         "NRML" | "MIS"                                optional, default "NRML"
      "legs": [                                                        required, 1..risk.max_legs
        {
          "tradingsymbol":     string, the NFO symbol                  required
          "side":              "BUY" | "SELL"                          required
          "quantity":          integer, in units (lots x lot size)     required
          "role":              "protection" | "risk"                   required
          "order_type":        "LIMIT" | "MARKET" | "SL" | "SL-M"      required
          "price":             number | null    limit price: LIMIT and SL need it, MARKET and SL-M refuse it
          "trigger_price":     number | null    entry trigger: SL and SL-M need it, LIMIT and MARKET refuse it
          "market_protection": integer | null   MARKET and SL-M need it (-1 automatic, or 1..100 %),
                                                LIMIT and SL refuse it
          "stop":              {"trigger_price": number, "limit_price": number} | null
                               the exit stop placed once the leg has filled
        }
      ]
    }

Every denial carries a code (`DenialCode`) and the path of the offending field (`legs[1].price`,
`legs`, `idempotency_key`; `$` is the body itself). Checks run in layers and the first problem found
is reported: the shape of the body, the number of legs, the shape of each leg, duplicate legs, the
group's underlying, then each leg in request order (contract, quantity, order type, prices, trigger,
stop).

Decisions worth knowing:
- Unknown fields are refused at every level, and enum values are case-sensitive: a misspelt field
  silently ignored could be the stop the caller believed they had.
- `quantity` and `market_protection` must be JSON integers. A float, even `65.0`, is a value problem
  (INVALID_QTY / INVALID_ORDER_TYPE): the caller computed a size in floating point. A string or a
  boolean is a type problem (SCHEMA_ERROR).
- A field that the order type does not use is refused with the code that owns the field (price:
  INVALID_PRICE, trigger: INVALID_STOP, market_protection: INVALID_ORDER_TYPE), never dropped: a
  MARKET order with a price is not the trade the caller meant.
- Any non-empty mix of roles is a group: risk legs only (a short straddle), protection legs only (a
  long strangle), or both. An option protection leg must BUY: protection legs are sent first and
  alone, so a sold option labelled protection would be exactly the naked leg legguard exists to
  prevent. A future may protect on either side (a delta hedge).
- `ctx.quotes` is keyed by tradingsymbol. With a quote, a limit price must lie inside the exchange
  band and within `risk.price_band_pct` of the last price (a fat-finger collar; 0 turns it off). With
  no quote the band is not checked: the exchange enforces its own bands, and a group is not refused
  because market data is late. A stop must sit on the right side of the last price, or, with no
  quote, of the leg's own limit price (the worst price it can fill at).
- A contract expiring today is still tradable; one that expired before today is UNKNOWN_INSTRUMENT,
  as is a strike that is not in the chain (its symbol is not in the universe).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeVar

from domain.errors import DenialCode, Denied
from domain.instruments import Instrument, InstrumentUniverse, is_on_tick
from domain.model import GroupSpec, LegRole, LegSpec, OrderType, Product, Side, StopSpec

if TYPE_CHECKING:
    # Only the settings' shape is needed; importing the runtime package would pull services into domain/.
    from runtime.config import ExchangeRules, RiskConfig

__all__ = ["Quote", "ValidationContext", "validate_group_request"]

Code = DenialCode
Number = int | float
ROOT = "$"

_GROUP_FIELDS = frozenset({"strategy", "idempotency_key", "underlying", "product", "legs"})
_LEG_FIELDS = frozenset(
    {
        "tradingsymbol",
        "side",
        "quantity",
        "role",
        "order_type",
        "price",
        "trigger_price",
        "market_protection",
        "stop",
    }
)
_STOP_FIELDS = frozenset({"trigger_price", "limit_price"})
_IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
_STRATEGY_MAX_CHARS = 64

_NEEDS_PRICE = frozenset({OrderType.LIMIT, OrderType.SL})
_NEEDS_TRIGGER = frozenset({OrderType.SL, OrderType.SL_M})
_NEEDS_MARKET_PROTECTION = frozenset({OrderType.MARKET, OrderType.SL_M})


@dataclass(frozen=True, slots=True)
class Quote:
    """One instrument's market as market data last saw it: last price and the exchange's price band."""

    ltp: float
    lower_band: float
    upper_band: float

    def __post_init__(self) -> None:
        # A bad tick (zero, NaN) must never become the yardstick a request is judged by.
        if not all(math.isfinite(p) and p > 0 for p in (self.ltp, self.lower_band, self.upper_band)):
            raise ValueError(f"quote prices must be finite and above zero: {self}")
        if self.lower_band > self.upper_band:
            raise ValueError(f"quote band is inverted: {self}")


@dataclass(frozen=True, slots=True)
class ValidationContext:
    group_id: str
    today: dt.date
    universe: InstrumentUniverse
    risk: RiskConfig
    rules: ExchangeRules
    quotes: Mapping[str, Quote] = field(default_factory=dict)


def validate_group_request(payload: Mapping[str, Any], ctx: ValidationContext) -> GroupSpec:
    """The request as a `GroupSpec` with leg ids `L0, L1, ...` in request order; raises `Denied`."""
    body = _object(payload, ROOT, _GROUP_FIELDS)
    strategy = _strategy(body)
    idempotency_key = _idempotency_key(body)
    underlying = _string(_required(body, ROOT, "underlying"), "underlying")
    product = _choice(body.get("product", Product.NRML.value), "product", Product)
    items = _leg_items(body, ctx.risk.max_legs)
    requests = [_read_leg(item, f"legs[{index}]") for index, item in enumerate(items)]
    _check_distinct(requests)
    _check_underlying_known(underlying, ctx.universe)
    legs = tuple(_check_leg(f"L{index}", req, underlying, ctx) for index, req in enumerate(requests))
    return GroupSpec(
        group_id=ctx.group_id,
        strategy=strategy,
        idempotency_key=idempotency_key,
        underlying=underlying,
        legs=legs,
        product=product,
    )


# --------------------------------------------------------------------------- shape (JSON types)


@dataclass(frozen=True, slots=True)
class _StopRequest:
    trigger_price: Number
    limit_price: Number


@dataclass(frozen=True, slots=True)
class _LegRequest:
    """One leg as the caller wrote it: JSON types checked, values not yet."""

    path: str
    tradingsymbol: str
    side: Side
    quantity: Number
    role: LegRole
    order_type: OrderType
    price: Number | None
    trigger_price: Number | None
    market_protection: Number | None
    stop: _StopRequest | None


def _schema_error(path: str, message: str, **details: Any) -> Denied:
    return Denied(Code.SCHEMA_ERROR, path, message, **details)


def _join(path: str, key: str) -> str:
    return key if path == ROOT else f"{path}.{key}"


def _object(value: Any, path: str, allowed: frozenset[str]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _schema_error(path, "must be a JSON object")
    unknown = sorted(str(key) for key in value if key not in allowed)
    if unknown:
        raise _schema_error(_join(path, unknown[0]), "unknown field", allowed=sorted(allowed))
    return value


def _required(obj: Mapping[str, Any], path: str, key: str) -> Any:
    if key not in obj:
        raise _schema_error(_join(path, key), "required field is missing")
    return obj[key]


def _string(value: Any, path: str) -> str:
    if not isinstance(value, str) or not value:
        raise _schema_error(path, "must be a non-empty string")
    return value


E = TypeVar("E", bound=StrEnum)


def _choice(value: Any, path: str, choices: type[E]) -> E:
    allowed = [member.value for member in choices]
    if not isinstance(value, str) or value not in allowed:
        raise _schema_error(path, f"must be one of {', '.join(allowed)}", allowed=allowed)
    return choices(value)


def _number(value: Any, path: str) -> Number:
    # bool is an int subclass in Python, but `true` is not a number in JSON.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _schema_error(path, "must be a number")
    return value


def _optional_number(value: Any, path: str) -> Number | None:
    return None if value is None else _number(value, path)


def _strategy(body: Mapping[str, Any]) -> str:
    strategy = _string(_required(body, ROOT, "strategy"), "strategy")
    if len(strategy) > _STRATEGY_MAX_CHARS:
        raise _schema_error("strategy", f"must be at most {_STRATEGY_MAX_CHARS} characters")
    return strategy


def _idempotency_key(body: Mapping[str, Any]) -> str:
    key = _required(body, ROOT, "idempotency_key")
    if not isinstance(key, str) or not _IDEMPOTENCY_KEY.fullmatch(key):
        raise _schema_error("idempotency_key", "must be 1..64 characters of A-Z a-z 0-9 _ . : -")
    return key


def _leg_items(body: Mapping[str, Any], max_legs: int) -> Sequence[Any]:
    # Counted before any leg is read, so an oversized body costs nothing to refuse.
    items = _required(body, ROOT, "legs")
    if not isinstance(items, list | tuple):
        raise _schema_error("legs", "must be a JSON array")
    if not items:
        raise Denied(Code.INVALID_LEGS, "legs", "a group needs at least one leg")
    if len(items) > max_legs:
        raise Denied(Code.INVALID_LEGS, "legs", f"at most {max_legs} legs", max_legs=max_legs, legs=len(items))
    return items


def _read_leg(item: Any, path: str) -> _LegRequest:
    leg = _object(item, path, _LEG_FIELDS)
    return _LegRequest(
        path=path,
        tradingsymbol=_string(_required(leg, path, "tradingsymbol"), f"{path}.tradingsymbol"),
        side=_choice(_required(leg, path, "side"), f"{path}.side", Side),
        quantity=_number(_required(leg, path, "quantity"), f"{path}.quantity"),
        role=_choice(_required(leg, path, "role"), f"{path}.role", LegRole),
        order_type=_choice(_required(leg, path, "order_type"), f"{path}.order_type", OrderType),
        price=_optional_number(leg.get("price"), f"{path}.price"),
        trigger_price=_optional_number(leg.get("trigger_price"), f"{path}.trigger_price"),
        market_protection=_optional_number(leg.get("market_protection"), f"{path}.market_protection"),
        stop=_read_stop(leg.get("stop"), f"{path}.stop"),
    )


def _read_stop(value: Any, path: str) -> _StopRequest | None:
    if value is None:
        return None
    stop = _object(value, path, _STOP_FIELDS)
    return _StopRequest(
        trigger_price=_number(_required(stop, path, "trigger_price"), f"{path}.trigger_price"),
        limit_price=_number(_required(stop, path, "limit_price"), f"{path}.limit_price"),
    )


# --------------------------------------------------------------------------- the leg set


def _check_distinct(requests: Sequence[_LegRequest]) -> None:
    # Two legs on one contract would net against each other and share one position: one leg per contract.
    first_seen: dict[str, str] = {}
    for req in requests:
        if req.tradingsymbol in first_seen:
            raise Denied(
                Code.INVALID_LEGS,
                f"{req.path}.tradingsymbol",
                f"{req.tradingsymbol} is already traded by {first_seen[req.tradingsymbol]}",
                duplicate_of=first_seen[req.tradingsymbol],
            )
        first_seen[req.tradingsymbol] = req.path


def _check_underlying_known(underlying: str, universe: InstrumentUniverse) -> None:
    if not any(inst.underlying == underlying for inst in universe.values()):
        raise Denied(Code.UNKNOWN_INSTRUMENT, "underlying", f"no contracts on {underlying}")


# --------------------------------------------------------------------------- one leg's values


def _check_leg(leg_id: str, req: _LegRequest, underlying: str, ctx: ValidationContext) -> LegSpec:
    instrument = _instrument(req, ctx.universe, ctx.today)
    _check_leg_underlying(req, instrument, underlying, ctx.risk.allow_mixed_underlyings)
    _check_role(req, instrument)
    quantity = _check_quantity(req, instrument, ctx.risk.max_lots_per_leg)
    _check_order_type(req, instrument, ctx.rules)
    market_protection = _check_market_protection(req)
    quote = ctx.quotes.get(req.tradingsymbol)
    limit_price = _check_limit_price(req, instrument, quote, ctx.risk.price_band_pct)
    trigger_price = _check_entry_trigger(req, instrument, quote, limit_price)
    stop = _check_exit_stop(req, instrument, quote, limit_price)
    return LegSpec(
        leg_id=leg_id,
        tradingsymbol=instrument.tradingsymbol,
        side=req.side,
        quantity=quantity,
        role=req.role,
        order_type=req.order_type,
        limit_price=limit_price,
        market_protection=market_protection,
        stop=stop,
        exchange=instrument.exchange,
        trigger_price=trigger_price,
    )


def _instrument(req: _LegRequest, universe: InstrumentUniverse, today: dt.date) -> Instrument:
    path = f"{req.path}.tradingsymbol"
    instrument = universe.get(req.tradingsymbol)
    if instrument is None:
        message = f"{req.tradingsymbol} is not a listed contract (or its strike is not in the chain)"
        raise Denied(Code.UNKNOWN_INSTRUMENT, path, message)
    if instrument.expiry < today:
        raise Denied(
            Code.UNKNOWN_INSTRUMENT,
            path,
            f"{req.tradingsymbol} expired on {instrument.expiry.isoformat()}",
            expiry=instrument.expiry.isoformat(),
        )
    return instrument


def _check_leg_underlying(req: _LegRequest, instrument: Instrument, underlying: str, allow_mixed: bool) -> None:
    if instrument.underlying != underlying and not allow_mixed:
        raise Denied(
            Code.INVALID_LEGS,
            f"{req.path}.tradingsymbol",
            f"{req.tradingsymbol} is on {instrument.underlying}, not on the group's underlying {underlying}",
        )


def _check_role(req: _LegRequest, instrument: Instrument) -> None:
    if req.role is LegRole.PROTECTION and instrument.is_option and req.side is Side.SELL:
        message = "an option protection leg must BUY: a sold option protects nothing"
        raise Denied(Code.INVALID_LEGS, f"{req.path}.role", message)


def _check_quantity(req: _LegRequest, instrument: Instrument, max_lots: int) -> int:
    path, quantity, lot = f"{req.path}.quantity", req.quantity, instrument.lot_size
    if not isinstance(quantity, int):
        raise Denied(Code.INVALID_QTY, path, "must be a whole number of units, written as an integer")
    if quantity <= 0:
        raise Denied(Code.INVALID_QTY, path, "must be above zero")
    if quantity % lot:
        raise Denied(Code.INVALID_QTY, path, f"must be a multiple of the lot size {lot}", lot_size=lot)
    cap = max_lots * lot
    if quantity > cap:
        raise Denied(Code.QTY_LIMIT, path, f"above the cap of {max_lots} lots ({cap} units)", max_units=cap)
    return quantity


def _check_order_type(req: _LegRequest, instrument: Instrument, rules: ExchangeRules) -> None:
    # NSE refuses SL-M on index and stock options (exchange error 16052): a stop on an option is an SL.
    if req.order_type is OrderType.SL_M and instrument.is_option and not rules.sl_m_allowed_on_options:
        raise Denied(Code.INVALID_ORDER_TYPE, f"{req.path}.order_type", "SL-M is not allowed on options; use SL")


def _check_market_protection(req: _LegRequest) -> int | None:
    path = f"{req.path}.market_protection"
    value = req.market_protection
    _check_present_as_needed(req, value, path, Code.INVALID_ORDER_TYPE, _NEEDS_MARKET_PROTECTION)
    if value is None:
        return None
    # Kite rejects MARKET and SL-M API orders without it: -1 lets Kite choose, 1..100 caps the slippage in %.
    if not isinstance(value, int) or not (value == -1 or 1 <= value <= 100):
        raise Denied(Code.INVALID_ORDER_TYPE, path, "must be -1 (automatic) or a percentage from 1 to 100")
    return value


def _check_present_as_needed(
    req: _LegRequest, value: Number | None, path: str, code: DenialCode, needed_by: frozenset[OrderType]
) -> None:
    name = path.rsplit(".", 1)[-1]
    if req.order_type in needed_by and value is None:
        raise Denied(code, path, f"a {req.order_type.value} order needs {name}")
    if req.order_type not in needed_by and value is not None:
        raise Denied(code, path, f"a {req.order_type.value} order takes no {name}")


def _check_limit_price(
    req: _LegRequest, instrument: Instrument, quote: Quote | None, collar_pct: float
) -> float | None:
    path = f"{req.path}.price"
    _check_present_as_needed(req, req.price, path, Code.INVALID_PRICE, _NEEDS_PRICE)
    if req.price is None:
        return None
    price = _tick_price(req.price, instrument.tick_size, Code.INVALID_PRICE, path)
    if quote is not None:
        _check_band(price, quote, collar_pct, path)
    return price


def _tick_price(value: Number, tick: float, code: DenialCode, path: str) -> float:
    price = _as_float(value)
    # The last test catches prices so large that counting them in ticks overflows: no price at all.
    if not math.isfinite(price) or price <= 0 or not math.isfinite(price / tick):
        raise Denied(code, path, "must be a finite price above zero")
    if not is_on_tick(price, tick):
        raise Denied(code, path, f"{price} is not a multiple of the tick size {tick}", tick_size=tick)
    return price


def _as_float(value: Number) -> float:
    try:
        return float(value)
    except OverflowError:  # an integer beyond float range is no price either
        return math.inf


def _check_band(price: float, quote: Quote, collar_pct: float, path: str) -> None:
    if not quote.lower_band <= price <= quote.upper_band:
        raise Denied(
            Code.PRICE_BAND,
            path,
            f"{price} is outside the exchange band [{quote.lower_band}, {quote.upper_band}]",
            lower_band=quote.lower_band,
            upper_band=quote.upper_band,
        )
    # The tolerance keeps a price exactly on the collar from failing on float rounding.
    if collar_pct > 0 and abs(price - quote.ltp) > quote.ltp * collar_pct + 1e-9:
        raise Denied(
            Code.PRICE_BAND,
            path,
            f"{price} is more than {collar_pct:.0%} away from the last price {quote.ltp}",
            ltp=quote.ltp,
            collar_pct=collar_pct,
        )


# --------------------------------------------------------------------------- triggers and stops


def _check_entry_trigger(
    req: _LegRequest, instrument: Instrument, quote: Quote | None, limit_price: float | None
) -> float | None:
    path = f"{req.path}.trigger_price"
    _check_present_as_needed(req, req.trigger_price, path, Code.INVALID_STOP, _NEEDS_TRIGGER)
    if req.trigger_price is None:
        return None
    trigger = _tick_price(req.trigger_price, instrument.tick_size, Code.INVALID_STOP, path)
    # An entry stop fires when the market reaches it, so only the market can say it is on the wrong side.
    reference = quote.ltp if quote is not None else None
    _check_stop_order(req.side, trigger, limit_price, reference, trigger_path=path, limit_path=f"{req.path}.price")
    return trigger


def _check_exit_stop(
    req: _LegRequest, instrument: Instrument, quote: Quote | None, limit_price: float | None
) -> StopSpec | None:
    if req.stop is None:
        return None
    path = f"{req.path}.stop"
    trigger = _tick_price(req.stop.trigger_price, instrument.tick_size, Code.INVALID_STOP, f"{path}.trigger_price")
    limit = _tick_price(req.stop.limit_price, instrument.tick_size, Code.INVALID_STOP, f"{path}.limit_price")
    # Before the leg fills there is no fill price; the market, or else the worst price the leg can fill at.
    reference = quote.ltp if quote is not None else limit_price
    _check_stop_order(
        req.side.opposite,
        trigger,
        limit,
        reference,
        trigger_path=f"{path}.trigger_price",
        limit_path=f"{path}.limit_price",
    )
    return StopSpec(trigger_price=trigger, limit_price=limit)


def _check_stop_order(
    side: Side,
    trigger: float,
    limit: float | None,
    reference: float | None,
    *,
    trigger_path: str,
    limit_path: str,
) -> None:
    """A stop order of `side`: triggered when the market crosses `trigger`, then a limit at `limit`."""
    selling = side is Side.SELL
    # A selling stop fires on a fall, so it must start below the market; a buying stop, above it.
    # On the wrong side it would fire the moment it is placed.
    if reference is not None and (trigger >= reference if selling else trigger <= reference):
        where = "below" if selling else "above"
        raise Denied(
            Code.INVALID_STOP,
            trigger_path,
            f"a {side.value} stop must trigger {where} the market ({reference}), not at {trigger}",
            reference_price=reference,
        )
    # Once triggered it is a limit order: selling at or below the trigger, buying at or above it.
    if limit is not None and (limit > trigger if selling else limit < trigger):
        where = "at or below" if selling else "at or above"
        raise Denied(
            Code.INVALID_STOP,
            limit_path,
            f"a {side.value} stop's limit must be {where} its trigger {trigger}, not {limit}",
            trigger_price=trigger,
        )
