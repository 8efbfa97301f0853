"""Order-group validation: every bad-input row that validation owns, by code and field, and the good cases."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import math
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import DenialCode, Denied
from domain.instruments import (
    InstrumentKind,
    InstrumentUniverse,
    UnderlyingSpec,
    build_chain,
    is_last_weekday_of_month,
    tradingsymbol,
    weekly_expiries,
)
from domain.model import (
    GroupSpec,
    LegRole,
    OrderType,
    Product,
    Side,
    StopSpec,
    group_from_record,
    group_to_record,
)
from domain.validation import Quote, ValidationContext, validate_group_request
from runtime.config import DEFAULT_UNDERLYINGS, ExchangeRules, RiskConfig

Code = DenialCode
Payload = dict[str, Any]
Mutation = Callable[[Payload], object]

# --------------------------------------------------------------------------- the market

TODAY = dt.date(2026, 3, 2)  # a Monday
NIFTY_EXPIRIES = weekly_expiries(TODAY, weekday=1, count=2)  # Tue 3 Mar, Tue 10 Mar, and the monthly 31 Mar
WEEKLY = NIFTY_EXPIRIES[0]
MONTHLY = dt.date(2026, 3, 31)
EXPIRED = dt.date(2026, 2, 24)  # February's monthly expiry, still in the instrument file
NIFTY_SPOT, BANKNIFTY_SPOT = 24_500, 52_000
CHAIN_WIDTH = 20  # strikes each side of the money


def underlying_spec(name: str) -> UnderlyingSpec:
    cfg = next(u for u in DEFAULT_UNDERLYINGS if u.name == name)
    return UnderlyingSpec(
        cfg.name, cfg.lot_size, cfg.freeze_quantity, cfg.strike_step, cfg.tick_size, cfg.exchange
    )


def build_universe() -> InstrumentUniverse:
    nifty = build_chain(
        underlying_spec("NIFTY"),
        spot=NIFTY_SPOT,
        expiries=[EXPIRED, *NIFTY_EXPIRIES],
        strikes_each_side=CHAIN_WIDTH,
        first_token=1,
    )
    banknifty = build_chain(
        underlying_spec("BANKNIFTY"),
        spot=BANKNIFTY_SPOT,
        expiries=[MONTHLY],
        strikes_each_side=CHAIN_WIDTH,
        first_token=10_000,
    )
    return InstrumentUniverse([*nifty, *banknifty])


UNIVERSE = build_universe()


def symbol(underlying: str, strike: float, kind: str, expiry: dt.date = WEEKLY) -> str:
    """Kite's symbol whether or not the chain lists it (for the strikes that must not be found)."""
    monthly = is_last_weekday_of_month(expiry)
    return tradingsymbol(underlying, expiry, InstrumentKind(kind), strike, monthly=monthly)


N_PUT_WING, N_PUT_BODY = symbol("NIFTY", 24_200, "PE"), symbol("NIFTY", 24_400, "PE")
N_CALL_BODY, N_CALL_WING = symbol("NIFTY", 24_600, "CE"), symbol("NIFTY", 24_800, "CE")
N_FUTURE = symbol("NIFTY", 0, "FUT", MONTHLY)
B_PUT_WING, B_PUT_BODY = (
    symbol("BANKNIFTY", 51_500, "PE", MONTHLY),
    symbol("BANKNIFTY", 51_800, "PE", MONTHLY),
)
B_CALL_BODY, B_CALL_WING = (
    symbol("BANKNIFTY", 52_200, "CE", MONTHLY),
    symbol("BANKNIFTY", 52_500, "CE", MONTHLY),
)

QUOTES = {
    N_PUT_WING: Quote(ltp=20.0, lower_band=0.05, upper_band=60.0),
    N_CALL_WING: Quote(ltp=18.5, lower_band=0.05, upper_band=55.0),
    N_PUT_BODY: Quote(ltp=60.0, lower_band=0.05, upper_band=180.0),
    N_CALL_BODY: Quote(ltp=55.0, lower_band=0.05, upper_band=165.0),
    N_FUTURE: Quote(ltp=24_560.0, lower_band=22_100.0, upper_band=27_000.0),
}


def context(**changes: Any) -> ValidationContext:
    base = ValidationContext(
        group_id="g1-7",
        today=TODAY,
        universe=UNIVERSE,
        risk=RiskConfig(),
        rules=ExchangeRules(),
        quotes=QUOTES,
    )
    return dataclasses.replace(base, **changes)


# --------------------------------------------------------------------------- requests


def leg(
    symbol: str, side: str, quantity: Any, role: str, order_type: str = "LIMIT", **fields: Any
) -> Payload:
    return {
        "tradingsymbol": symbol,
        "side": side,
        "quantity": quantity,
        "role": role,
        "order_type": order_type,
        **fields,
    }


def nifty_condor() -> Payload:
    """Short the 24,400 / 24,600 strangle, long the 24,200 / 24,800 wings; stops on the sold legs."""
    return {
        "strategy": "iron_condor",
        "idempotency_key": "ic-2026-03-02:001",
        "underlying": "NIFTY",
        "legs": [
            leg(N_PUT_WING, "BUY", 65, "protection", price=20.0),
            leg(N_CALL_WING, "BUY", 65, "protection", price=18.5),
            leg(
                N_PUT_BODY,
                "SELL",
                65,
                "risk",
                price=60.0,
                stop={"trigger_price": 120.0, "limit_price": 125.0},
            ),
            leg(
                N_CALL_BODY,
                "SELL",
                65,
                "risk",
                price=55.0,
                stop={"trigger_price": 110.0, "limit_price": 115.5},
            ),
        ],
    }


def banknifty_condor() -> Payload:
    return {
        "strategy": "iron_condor",
        "idempotency_key": "bn-ic-1",
        "underlying": "BANKNIFTY",
        "product": "MIS",
        "legs": [
            leg(B_PUT_WING, "BUY", 60, "protection", price=95.5),
            leg(B_CALL_WING, "BUY", 60, "protection", price=88.0),
            leg(B_PUT_BODY, "SELL", 60, "risk", price=180.25),
            leg(B_CALL_BODY, "SELL", 60, "risk", price=171.0),
        ],
    }


def denial(payload: Any, ctx: ValidationContext | None = None) -> Denied:
    with pytest.raises(Denied) as info:
        validate_group_request(payload, ctx or context())
    return info.value


# --------------------------------------------------------------------------- valid groups


def test_default_underlyings_are_the_2026_contracts() -> None:
    # The rest of this file leans on these numbers (KITE.md): if the settings change, so must the cases.
    assert (underlying_spec("NIFTY").lot_size, underlying_spec("NIFTY").freeze_quantity) == (65, 1800)
    assert (underlying_spec("BANKNIFTY").lot_size, underlying_spec("BANKNIFTY").freeze_quantity) == (30, 600)


def test_nifty_iron_condor_is_accepted_with_wings_as_protection() -> None:
    spec = validate_group_request(nifty_condor(), context())

    assert isinstance(spec, GroupSpec)
    assert (spec.group_id, spec.strategy, spec.underlying) == ("g1-7", "iron_condor", "NIFTY")
    assert (spec.idempotency_key, spec.product) == ("ic-2026-03-02:001", Product.NRML)
    assert [leg.leg_id for leg in spec.legs] == ["L0", "L1", "L2", "L3"]
    assert [leg.tradingsymbol for leg in spec.protection_legs] == [N_PUT_WING, N_CALL_WING]
    assert [leg.tradingsymbol for leg in spec.risk_legs] == [N_PUT_BODY, N_CALL_BODY]
    assert all(leg.side is Side.BUY for leg in spec.protection_legs)
    assert all(leg.side is Side.SELL for leg in spec.risk_legs)
    assert [leg.signed_quantity for leg in spec.legs] == [65, 65, -65, -65]
    assert [leg.limit_price for leg in spec.legs] == [20.0, 18.5, 60.0, 55.0]
    assert spec.leg("L2").stop == StopSpec(trigger_price=120.0, limit_price=125.0)
    assert spec.leg("L0").stop is None
    assert all(leg.order_type is OrderType.LIMIT and leg.exchange == "NFO" for leg in spec.legs)


def test_banknifty_iron_condor_is_accepted_in_lots_of_30() -> None:
    spec = validate_group_request(banknifty_condor(), context(quotes={}))

    assert spec.underlying == "BANKNIFTY"
    assert spec.product is Product.MIS
    assert [leg.role for leg in spec.legs] == [LegRole.PROTECTION] * 2 + [LegRole.RISK] * 2
    assert [leg.quantity for leg in spec.legs] == [60] * 4
    assert [leg.tradingsymbol for leg in spec.protection_legs] == [B_PUT_WING, B_CALL_WING]


def test_a_lot_size_from_one_underlying_is_not_a_lot_of_another() -> None:
    payload = banknifty_condor()
    payload["legs"][2]["quantity"] = 65  # a NIFTY lot
    found = denial(payload, context(quotes={}))
    assert (found.code, found.field, found.details["lot_size"]) == (Code.INVALID_QTY, "legs[2].quantity", 30)


def test_a_short_straddle_needs_no_protection_leg() -> None:
    straddle = nifty_condor()
    atm_call, atm_put = symbol("NIFTY", 24_500, "CE"), symbol("NIFTY", 24_500, "PE")
    straddle["legs"] = [
        leg(atm_call, "SELL", 130, "risk", price=110.0),
        leg(atm_put, "SELL", 130, "risk", price=95.0),
    ]
    spec = validate_group_request(straddle, context(quotes={}))
    assert spec.protection_legs == ()
    assert len(spec.risk_legs) == 2


def test_a_long_strangle_is_protection_only() -> None:
    strangle = nifty_condor()
    strangle["legs"] = strangle["legs"][:2]
    spec = validate_group_request(strangle, context())
    assert (len(spec.protection_legs), spec.risk_legs) == (2, ())


@pytest.mark.parametrize("protection", [-1, 1, 100])
def test_market_orders_with_protection_are_accepted(protection: int) -> None:
    payload = nifty_condor()
    payload["legs"][0] = leg(N_PUT_WING, "BUY", 65, "protection", "MARKET", market_protection=protection)
    spec = validate_group_request(payload, context())
    assert (spec.legs[0].order_type, spec.legs[0].market_protection) == (OrderType.MARKET, protection)
    assert spec.legs[0].limit_price is None


def test_an_sl_entry_keeps_its_trigger() -> None:
    payload = nifty_condor()
    # A buy-stop entry: fires if the wing rallies to 25, then buys up to 25.5.
    payload["legs"][0] = leg(N_PUT_WING, "BUY", 65, "protection", "SL", price=25.5, trigger_price=25.0)
    spec = validate_group_request(payload, context())
    assert (spec.legs[0].trigger_price, spec.legs[0].limit_price) == (25.0, 25.5)


def test_a_validated_group_survives_its_durable_record() -> None:
    payload = nifty_condor()
    payload["legs"][0] = leg(N_PUT_WING, "BUY", 65, "protection", "SL", price=25.5, trigger_price=25.0)
    payload["legs"][1] = leg(N_CALL_WING, "BUY", 65, "protection", "MARKET", market_protection=-1)
    spec = validate_group_request(payload, context())
    restored = group_from_record(group_to_record(spec))
    assert restored == spec
    assert (restored.legs[0].trigger_price, restored.legs[2].stop) == (25.0, StopSpec(120.0, 125.0))


def test_sl_m_is_allowed_on_a_future() -> None:
    payload = nifty_condor()
    payload["legs"].append(
        leg(N_FUTURE, "SELL", 65, "risk", "SL-M", trigger_price=24_400.0, market_protection=5)
    )
    spec = validate_group_request(payload, context())
    assert (spec.legs[4].order_type, spec.legs[4].trigger_price) == (OrderType.SL_M, 24_400.0)


def test_sl_m_on_an_option_passes_when_the_exchange_allows_it() -> None:
    payload = nifty_condor()
    payload["legs"][2] = leg(N_PUT_BODY, "SELL", 65, "risk", "SL-M", trigger_price=50.0, market_protection=-1)
    spec = validate_group_request(payload, context(rules=ExchangeRules(sl_m_allowed_on_options=True)))
    assert spec.legs[2].order_type is OrderType.SL_M


def test_mixed_underlyings_pass_when_allowed() -> None:
    payload = nifty_condor()
    payload["legs"][3] = leg(B_CALL_BODY, "SELL", 30, "risk", price=171.0)
    spec = validate_group_request(payload, context(risk=RiskConfig(allow_mixed_underlyings=True)))
    assert spec.legs[3].tradingsymbol == B_CALL_BODY


def test_a_contract_expiring_today_can_still_trade() -> None:
    spec = validate_group_request(nifty_condor(), context(today=WEEKLY))
    assert len(spec.legs) == 4


def test_the_quantity_cap_is_inclusive() -> None:
    payload = nifty_condor()
    payload["legs"][0]["quantity"] = 200 * 65
    assert validate_group_request(payload, context()).legs[0].quantity == 13_000


@pytest.mark.parametrize("price", [0.05, 60.0], ids=["lower-band", "upper-band"])
def test_the_exchange_band_is_inclusive(price: float) -> None:
    payload = nifty_condor()
    payload["legs"][0]["price"] = price
    assert (
        validate_group_request(payload, context(risk=RiskConfig(price_band_pct=0))).legs[0].limit_price
        == price
    )


def test_without_a_quote_the_band_is_not_checked() -> None:
    payload = nifty_condor()
    payload["legs"][0]["price"] = 500.0  # far above the band the quote would have imposed
    assert validate_group_request(payload, context(quotes={})).legs[0].limit_price == 500.0


# --------------------------------------------------------------------------- bad input


def set_top(**fields: Any) -> Mutation:
    return lambda payload: payload.update(fields)


def drop_top(name: str) -> Mutation:
    return lambda payload: payload.pop(name)


def set_leg(index: int, **fields: Any) -> Mutation:
    return lambda payload: payload["legs"][index].update(fields)


def drop_leg_field(index: int, name: str) -> Mutation:
    return lambda payload: payload["legs"][index].pop(name)


def set_legs(*legs: Any) -> Mutation:
    return lambda payload: payload.update(legs=list(legs))


def case(case_id: str, mutate: Mutation, code: DenialCode, field: str) -> Any:
    return pytest.param(mutate, code, field, id=case_id)


SCHEMA_CASES = [
    case("empty-body", lambda p: p.clear(), Code.SCHEMA_ERROR, "strategy"),
    case("missing-strategy", drop_top("strategy"), Code.SCHEMA_ERROR, "strategy"),
    case("empty-strategy", set_top(strategy=""), Code.SCHEMA_ERROR, "strategy"),
    case("long-strategy", set_top(strategy="s" * 65), Code.SCHEMA_ERROR, "strategy"),
    case("missing-key", drop_top("idempotency_key"), Code.SCHEMA_ERROR, "idempotency_key"),
    case("empty-key", set_top(idempotency_key=""), Code.SCHEMA_ERROR, "idempotency_key"),
    case("long-key", set_top(idempotency_key="k" * 65), Code.SCHEMA_ERROR, "idempotency_key"),
    case("key-with-space", set_top(idempotency_key="ic 1"), Code.SCHEMA_ERROR, "idempotency_key"),
    case("key-with-newline", set_top(idempotency_key="ic1\n"), Code.SCHEMA_ERROR, "idempotency_key"),
    case("key-not-a-string", set_top(idempotency_key=17), Code.SCHEMA_ERROR, "idempotency_key"),
    case("missing-underlying", drop_top("underlying"), Code.SCHEMA_ERROR, "underlying"),
    case("underlying-not-a-string", set_top(underlying=["NIFTY"]), Code.SCHEMA_ERROR, "underlying"),
    case("bad-product", set_top(product="CNC"), Code.SCHEMA_ERROR, "product"),
    case("null-product", set_top(product=None), Code.SCHEMA_ERROR, "product"),
    case("unknown-top-field", set_top(account="acc2"), Code.SCHEMA_ERROR, "account"),
    case("missing-legs", drop_top("legs"), Code.SCHEMA_ERROR, "legs"),
    case("legs-not-a-list", set_top(legs={"0": {}}), Code.SCHEMA_ERROR, "legs"),
    case("leg-not-an-object", lambda p: p["legs"].__setitem__(1, "BUY 65"), Code.SCHEMA_ERROR, "legs[1]"),
    case("missing-side", drop_leg_field(1, "side"), Code.SCHEMA_ERROR, "legs[1].side"),
    case("missing-symbol", drop_leg_field(0, "tradingsymbol"), Code.SCHEMA_ERROR, "legs[0].tradingsymbol"),
    case("missing-order-type", drop_leg_field(3, "order_type"), Code.SCHEMA_ERROR, "legs[3].order_type"),
    case("lowercase-side", set_leg(0, side="buy"), Code.SCHEMA_ERROR, "legs[0].side"),
    case("bad-role", set_leg(0, role="hedge"), Code.SCHEMA_ERROR, "legs[0].role"),
    case("bad-order-type", set_leg(2, order_type="STOPLOSS"), Code.SCHEMA_ERROR, "legs[2].order_type"),
    case("quantity-as-string", set_leg(0, quantity="65"), Code.SCHEMA_ERROR, "legs[0].quantity"),
    case("quantity-as-bool", set_leg(0, quantity=True), Code.SCHEMA_ERROR, "legs[0].quantity"),
    case("quantity-null", set_leg(0, quantity=None), Code.SCHEMA_ERROR, "legs[0].quantity"),
    case("price-as-string", set_leg(1, price="18.5"), Code.SCHEMA_ERROR, "legs[1].price"),
    case("price-as-bool", set_leg(1, price=False), Code.SCHEMA_ERROR, "legs[1].price"),
    case(
        "protection-as-string",
        set_leg(0, market_protection="5"),
        Code.SCHEMA_ERROR,
        "legs[0].market_protection",
    ),
    case("unknown-leg-field", set_leg(2, tag="mine"), Code.SCHEMA_ERROR, "legs[2].tag"),
    case("stop-not-an-object", set_leg(2, stop=120.0), Code.SCHEMA_ERROR, "legs[2].stop"),
    case(
        "unknown-stop-field",
        set_leg(2, stop={"trigger_price": 120.0, "limit_price": 125.0, "type": "SL"}),
        Code.SCHEMA_ERROR,
        "legs[2].stop.type",
    ),
    case(
        "stop-missing-limit",
        set_leg(2, stop={"trigger_price": 120.0}),
        Code.SCHEMA_ERROR,
        "legs[2].stop.limit_price",
    ),
    case(
        "stop-trigger-as-string",
        set_leg(2, stop={"trigger_price": "120", "limit_price": 125.0}),
        Code.SCHEMA_ERROR,
        "legs[2].stop.trigger_price",
    ),
]

LEGS_CASES = [
    case("no-legs", set_top(legs=[]), Code.INVALID_LEGS, "legs"),
    case("nine-legs", lambda p: p["legs"].extend([p["legs"][0]] * 5), Code.INVALID_LEGS, "legs"),
    case(
        "duplicate-leg", lambda p: p["legs"].append(p["legs"][1]), Code.INVALID_LEGS, "legs[4].tradingsymbol"
    ),
    case(
        "same-contract-both-sides",
        lambda p: p["legs"].append(leg(N_PUT_WING, "SELL", 65, "risk", price=20.0)),
        Code.INVALID_LEGS,
        "legs[4].tradingsymbol",
    ),
    case(
        "mixed-underlyings",
        set_leg(3, tradingsymbol=B_CALL_BODY, quantity=30),
        Code.INVALID_LEGS,
        "legs[3].tradingsymbol",
    ),
    case("sold-option-as-protection", set_leg(1, side="SELL"), Code.INVALID_LEGS, "legs[1].role"),
]

INSTRUMENT_CASES = [
    case(
        "unknown-symbol",
        set_leg(0, tradingsymbol="NIFTYXYZ"),
        Code.UNKNOWN_INSTRUMENT,
        "legs[0].tradingsymbol",
    ),
    case(
        "expired",
        set_leg(0, tradingsymbol=symbol("NIFTY", 24_200, "PE", EXPIRED)),
        Code.UNKNOWN_INSTRUMENT,
        "legs[0].tradingsymbol",
    ),
    case(
        "strike-off-the-step",
        set_leg(2, tradingsymbol=symbol("NIFTY", 24_425, "PE")),
        Code.UNKNOWN_INSTRUMENT,
        "legs[2].tradingsymbol",
    ),
    case(
        "strike-beyond-the-chain",
        set_leg(1, tradingsymbol=symbol("NIFTY", NIFTY_SPOT + 50 * (CHAIN_WIDTH + 1), "CE")),
        Code.UNKNOWN_INSTRUMENT,
        "legs[1].tradingsymbol",
    ),
    case(
        "expiry-not-listed",
        set_leg(0, tradingsymbol=symbol("NIFTY", 24_200, "PE", dt.date(2026, 3, 17))),
        Code.UNKNOWN_INSTRUMENT,
        "legs[0].tradingsymbol",
    ),
    case("unknown-underlying", set_top(underlying="FINNIFTY"), Code.UNKNOWN_INSTRUMENT, "underlying"),
]

QUANTITY_CASES = [
    case("zero", set_leg(0, quantity=0), Code.INVALID_QTY, "legs[0].quantity"),
    case("negative", set_leg(0, quantity=-65), Code.INVALID_QTY, "legs[0].quantity"),
    case("whole-float", set_leg(1, quantity=65.0), Code.INVALID_QTY, "legs[1].quantity"),
    case("fraction", set_leg(1, quantity=97.5), Code.INVALID_QTY, "legs[1].quantity"),
    case("nan", set_leg(1, quantity=math.nan), Code.INVALID_QTY, "legs[1].quantity"),
    case("not-a-lot-multiple", set_leg(2, quantity=100), Code.INVALID_QTY, "legs[2].quantity"),
    case("over-the-cap", set_leg(3, quantity=201 * 65), Code.QTY_LIMIT, "legs[3].quantity"),
    case("far-over-the-cap", set_leg(3, quantity=65 * 10**30), Code.QTY_LIMIT, "legs[3].quantity"),
]

PRICE_CASES = [
    case("nan", set_leg(0, price=math.nan), Code.INVALID_PRICE, "legs[0].price"),
    case("infinite", set_leg(0, price=math.inf), Code.INVALID_PRICE, "legs[0].price"),
    case("minus-infinite", set_leg(0, price=-math.inf), Code.INVALID_PRICE, "legs[0].price"),
    case("beyond-float", set_leg(0, price=10**400), Code.INVALID_PRICE, "legs[0].price"),
    case("beyond-float-in-ticks", set_leg(0, price=1e308), Code.INVALID_PRICE, "legs[0].price"),
    case("zero", set_leg(0, price=0), Code.INVALID_PRICE, "legs[0].price"),
    case("negative", set_leg(0, price=-20.0), Code.INVALID_PRICE, "legs[0].price"),
    case("off-tick", set_leg(1, price=18.53), Code.INVALID_PRICE, "legs[1].price"),
    case("limit-without-price", drop_leg_field(2, "price"), Code.INVALID_PRICE, "legs[2].price"),
    case("limit-with-null-price", set_leg(2, price=None), Code.INVALID_PRICE, "legs[2].price"),
    case(
        "market-with-price",
        set_leg(0, order_type="MARKET", market_protection=-1),
        Code.INVALID_PRICE,
        "legs[0].price",
    ),
    case(
        "sl-without-price",
        set_leg(0, order_type="SL", price=None, trigger_price=25.0),
        Code.INVALID_PRICE,
        "legs[0].price",
    ),
    case("above-the-band", set_leg(2, price=180.05), Code.PRICE_BAND, "legs[2].price"),
    case("above-the-collar", set_leg(2, price=84.05), Code.PRICE_BAND, "legs[2].price"),
    case("below-the-collar", set_leg(2, price=35.95), Code.PRICE_BAND, "legs[2].price"),
]

STOP_CASES = [
    case(
        "buy-leg-stop-above-market",
        set_leg(0, stop={"trigger_price": 21.0, "limit_price": 20.5}),
        Code.INVALID_STOP,
        "legs[0].stop.trigger_price",
    ),
    case(
        "buy-leg-stop-at-market",
        set_leg(0, stop={"trigger_price": 20.0, "limit_price": 19.5}),
        Code.INVALID_STOP,
        "legs[0].stop.trigger_price",
    ),
    case(
        "sell-leg-stop-below-market",
        set_leg(2, stop={"trigger_price": 50.0, "limit_price": 55.0}),
        Code.INVALID_STOP,
        "legs[2].stop.trigger_price",
    ),
    case(
        "sell-stop-limit-above-trigger",
        set_leg(0, stop={"trigger_price": 10.0, "limit_price": 10.5}),
        Code.INVALID_STOP,
        "legs[0].stop.limit_price",
    ),
    case(
        "buy-stop-limit-below-trigger",
        set_leg(2, stop={"trigger_price": 120.0, "limit_price": 119.95}),
        Code.INVALID_STOP,
        "legs[2].stop.limit_price",
    ),
    case(
        "stop-trigger-nan",
        set_leg(2, stop={"trigger_price": math.nan, "limit_price": 125.0}),
        Code.INVALID_STOP,
        "legs[2].stop.trigger_price",
    ),
    case(
        "stop-trigger-zero",
        set_leg(2, stop={"trigger_price": 0, "limit_price": 125.0}),
        Code.INVALID_STOP,
        "legs[2].stop.trigger_price",
    ),
    case(
        "stop-trigger-off-tick",
        set_leg(2, stop={"trigger_price": 120.01, "limit_price": 125.0}),
        Code.INVALID_STOP,
        "legs[2].stop.trigger_price",
    ),
    case(
        "stop-limit-negative",
        set_leg(2, stop={"trigger_price": 120.0, "limit_price": -125.0}),
        Code.INVALID_STOP,
        "legs[2].stop.limit_price",
    ),
    case(
        "sl-entry-without-trigger",
        set_leg(0, order_type="SL", price=25.5),
        Code.INVALID_STOP,
        "legs[0].trigger_price",
    ),
    case(
        "sl-entry-trigger-off-tick",
        set_leg(0, order_type="SL", price=25.5, trigger_price=25.02),
        Code.INVALID_STOP,
        "legs[0].trigger_price",
    ),
    case(
        "sl-buy-entry-trigger-below-market",
        set_leg(0, order_type="SL", price=19.5, trigger_price=19.0),
        Code.INVALID_STOP,
        "legs[0].trigger_price",
    ),
    case(
        "sl-sell-entry-trigger-above-market",
        set_leg(2, order_type="SL", price=65.0, trigger_price=65.0, stop=None),
        Code.INVALID_STOP,
        "legs[2].trigger_price",
    ),
    case(
        "sl-buy-entry-limit-below-trigger",
        set_leg(0, order_type="SL", price=24.5, trigger_price=25.0),
        Code.INVALID_STOP,
        "legs[0].price",
    ),
    case("limit-with-trigger", set_leg(1, trigger_price=15.0), Code.INVALID_STOP, "legs[1].trigger_price"),
]

ORDER_TYPE_CASES = [
    case(
        "sl-m-on-an-option",
        set_leg(2, order_type="SL-M", price=None, trigger_price=50.0, market_protection=-1),
        Code.INVALID_ORDER_TYPE,
        "legs[2].order_type",
    ),
    case(
        "market-without-protection",
        set_leg(0, order_type="MARKET", price=None),
        Code.INVALID_ORDER_TYPE,
        "legs[0].market_protection",
    ),
    case(
        "sl-m-without-protection",
        set_legs(leg(N_FUTURE, "SELL", 65, "risk", "SL-M", trigger_price=24_400.0)),
        Code.INVALID_ORDER_TYPE,
        "legs[0].market_protection",
    ),
    *(
        case(
            f"market-protection-{value!r}",
            set_leg(0, order_type="MARKET", price=None, market_protection=value),
            Code.INVALID_ORDER_TYPE,
            "legs[0].market_protection",
        )
        for value in (0, -2, 101, 5.0)
    ),
    case(
        "limit-with-protection",
        set_leg(1, market_protection=5),
        Code.INVALID_ORDER_TYPE,
        "legs[1].market_protection",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "code", "field"),
    SCHEMA_CASES
    + LEGS_CASES
    + INSTRUMENT_CASES
    + QUANTITY_CASES
    + PRICE_CASES
    + STOP_CASES
    + ORDER_TYPE_CASES,
)
def test_bad_input_is_denied_with_its_code_and_field(mutate: Mutation, code: DenialCode, field: str) -> None:
    payload = nifty_condor()
    mutate(payload)
    found = denial(payload)
    assert (found.code, found.field) == (code, field), found.message


@pytest.mark.parametrize("body", [[], "legs", 42, None], ids=["list", "string", "number", "null"])
def test_a_body_that_is_not_an_object_is_a_schema_error(body: Any) -> None:
    found = denial(body)
    assert (found.code, found.field) == (Code.SCHEMA_ERROR, "$")


def test_too_many_legs_is_counted_before_any_leg_is_read() -> None:
    payload = nifty_condor()
    payload["legs"] = ["not a leg"] * 9
    found = denial(payload)
    assert (found.code, found.field, found.details["max_legs"]) == (Code.INVALID_LEGS, "legs", 8)


def test_the_first_problem_in_request_order_is_reported() -> None:
    payload = nifty_condor()
    payload["legs"][1]["price"] = 18.53  # off tick
    payload["legs"][3]["quantity"] = 64  # not a lot multiple
    assert denial(payload).field == "legs[1].price"


@pytest.mark.parametrize(
    ("stop", "field"),
    [
        ({"trigger_price": 55.0, "limit_price": 56.0}, "legs[2].stop.trigger_price"),  # below the 60 limit
        ({"trigger_price": 120.0, "limit_price": 110.0}, "legs[2].stop.limit_price"),
    ],
)
def test_without_a_quote_a_stop_is_judged_against_the_legs_own_limit(stop: Payload, field: str) -> None:
    payload = nifty_condor()
    payload["legs"][2]["stop"] = stop
    found = denial(payload, context(quotes={}))
    assert (found.code, found.field) == (Code.INVALID_STOP, field)


def test_the_collar_can_be_turned_off() -> None:
    payload = nifty_condor()
    payload["legs"][2]["price"] = 84.05  # 40 % above the last price, inside the exchange band
    assert (
        validate_group_request(payload, context(risk=RiskConfig(price_band_pct=0))).legs[2].limit_price
        == 84.05
    )


def test_the_leg_cap_follows_the_setting() -> None:
    found = denial(nifty_condor(), context(risk=RiskConfig(max_legs=3)))
    assert (found.code, found.field, found.details["max_legs"]) == (Code.INVALID_LEGS, "legs", 3)


@pytest.mark.parametrize("quote", [(math.nan, 1.0, 2.0), (0.0, 1.0, 2.0), (1.5, 2.0, 1.0)])
def test_a_bad_tick_cannot_become_a_quote(quote: tuple[float, float, float]) -> None:
    with pytest.raises(ValueError, match="quote"):
        Quote(*quote)


# --------------------------------------------------------------------------- fuzzing

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)
TOP_FIELDS = ("strategy", "idempotency_key", "underlying", "product", "legs")
LEG_FIELDS = (
    "tradingsymbol",
    "side",
    "quantity",
    "role",
    "order_type",
    "price",
    "trigger_price",
    "market_protection",
    "stop",
)


@given(name=st.sampled_from(TOP_FIELDS), value=json_values)
def test_a_corrupted_top_field_is_accepted_or_denied_at_that_field(name: str, value: Any) -> None:
    payload = nifty_condor()
    payload[name] = value
    try:
        validate_group_request(payload, context())
    except Denied as found:
        assert found.field.startswith(name), (found.field, found.message)


@given(index=st.integers(0, 3), name=st.sampled_from(LEG_FIELDS), value=json_values)
def test_a_corrupted_leg_field_is_accepted_or_denied_at_that_leg(index: int, name: str, value: Any) -> None:
    payload = copy.deepcopy(nifty_condor())
    payload["legs"][index][name] = value
    try:
        validate_group_request(payload, context())
    except Denied as found:
        blamed_leg = found.field.startswith(f"legs[{index}]")
        duplicated_by_it = found.details.get("duplicate_of") == f"legs[{index}]"
        assert blamed_leg or duplicated_by_it, (found.field, found.message)


@given(price=st.floats() | st.integers())
def test_any_number_as_a_price_is_accepted_or_denied_at_the_price(price: float) -> None:
    payload = nifty_condor()
    payload["legs"][2]["price"] = price
    try:
        spec = validate_group_request(payload, context())
    except Denied as found:
        assert (found.code, found.field) in {
            (Code.INVALID_PRICE, "legs[2].price"),
            (Code.PRICE_BAND, "legs[2].price"),
        }, found.message
    else:
        assert 36.0 <= spec.legs[2].limit_price <= 84.0  # inside the 40 % collar around 60


@given(quantity=st.floats() | st.integers())
def test_any_number_as_a_quantity_is_accepted_or_denied_at_the_quantity(quantity: float) -> None:
    payload = nifty_condor()
    payload["legs"][2]["quantity"] = quantity
    try:
        spec = validate_group_request(payload, context())
    except Denied as found:
        assert (found.code, found.field) in {
            (Code.INVALID_QTY, "legs[2].quantity"),
            (Code.QTY_LIMIT, "legs[2].quantity"),
        }, found.message
    else:
        assert type(quantity) is int and quantity % 65 == 0 and 0 < quantity <= 200 * 65
        assert spec.legs[2].quantity == quantity
