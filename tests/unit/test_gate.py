"""The pre-trade gate: each check's code and field, and where each one lets a group through."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from domain.errors import DenialCode, Denied
from domain.gate import (
    GroupAction,
    IdempotencyRecord,
    TradingState,
    check_credentials,
    check_exposure_limit,
    check_group_action,
    check_idempotency,
    check_open_groups,
    check_order_rate,
    check_position_limit,
    check_trading_state,
    gross_notional,
    is_risk_reducing,
    payload_fingerprint,
)
from domain.instruments import Instrument, InstrumentKind
from domain.lifecycle import GROUP_SETTLED, GroupState
from domain.model import GroupSpec, LegRole, LegSpec, Side

Code = DenialCode
EXPIRY = dt.date(2026, 3, 3)
NIFTY_SPOT, BANKNIFTY_SPOT = 24_500.0, 52_000.0


def option(token: int, symbol: str, underlying: str = "NIFTY", lot: int = 65) -> Instrument:
    return Instrument(
        instrument_token=token,
        exchange="NFO",
        tradingsymbol=symbol,
        underlying=underlying,
        expiry=EXPIRY,
        strike=24_000.0,
        kind=InstrumentKind.CE,
        lot_size=lot,
        tick_size=0.05,
        freeze_quantity=1800,
    )


# Short names: the gate needs only the lot and the underlying of each contract.
INSTRUMENTS = {
    inst.tradingsymbol: inst
    for inst in (
        option(1, "PW"),
        option(2, "PB"),
        option(3, "CB"),
        option(4, "CW"),
        option(5, "BNC", underlying="BANKNIFTY", lot=30),
    )
}
LOT_SIZES = {symbol: inst.lot_size for symbol, inst in INSTRUMENTS.items()}
SPOTS = {"NIFTY": NIFTY_SPOT, "BANKNIFTY": BANKNIFTY_SPOT}


def group(*legs: tuple[str, Side, int]) -> GroupSpec:
    return GroupSpec(
        group_id="g1-1",
        strategy="test",
        idempotency_key="k1",
        underlying="NIFTY",
        legs=tuple(
            LegSpec(f"L{i}", symbol, side, quantity, LegRole.RISK, limit_price=10.0)
            for i, (symbol, side, quantity) in enumerate(legs)
        ),
    )


CONDOR = group(("PW", Side.BUY, 65), ("CW", Side.BUY, 65), ("PB", Side.SELL, 65), ("CB", Side.SELL, 65))


def denial(check: Any, *args: Any, **kwargs: Any) -> Denied:
    with pytest.raises(Denied) as info:
        check(*args, **kwargs)
    return info.value


# --------------------------------------------------------------------------- trading state


def test_an_active_service_lets_a_new_group_through() -> None:
    check_trading_state(TradingState.ACTIVE, CONDOR, recovering=False, positions={})


@pytest.mark.parametrize("state", list(TradingState))
def test_recovery_refuses_every_group_whatever_the_state(state: TradingState) -> None:
    found = denial(check_trading_state, state, CONDOR, recovering=True, positions={})
    assert (found.code, found.field) == (Code.RECOVERING, "$")


def test_the_kill_switch_refuses_even_a_reducing_group() -> None:
    closing = group(("PB", Side.BUY, 65))
    found = denial(check_trading_state, TradingState.HALTED, closing, recovering=False, positions={"PB": -65})
    assert (found.code, found.field) == (Code.KILL_SWITCH_ACTIVE, "$")


def test_reduce_only_lets_a_closing_group_through() -> None:
    closing = group(("PB", Side.BUY, 65), ("CB", Side.BUY, 65), ("PW", Side.SELL, 65))
    positions = {"PB": -65, "CB": -130, "PW": 65}
    check_trading_state(TradingState.REDUCING, closing, recovering=False, positions=positions)


def test_reduce_only_names_the_first_leg_that_adds_risk() -> None:
    positions = {"PW": 65, "CW": 65}  # long the wings: selling them would reduce, buying adds
    found = denial(check_trading_state, TradingState.REDUCING, CONDOR, recovering=False, positions=positions)
    assert (found.code, found.field, found.details["state"]) == (
        Code.KILL_SWITCH_ACTIVE,
        "legs[0]",
        "REDUCING",
    )


@pytest.mark.parametrize(
    ("positions", "legs", "reducing"),
    [
        ({"PB": -130}, [("PB", Side.BUY, 65)], True),
        ({"PB": -130}, [("PB", Side.BUY, 130)], True),  # to flat
        ({"PB": -130}, [("PB", Side.BUY, 195)], False),  # through flat to long
        ({"PB": -65}, [("PB", Side.SELL, 65)], False),  # adds to the short
        ({}, [("PB", Side.BUY, 65)], False),  # opens a position
        ({"PB": 65}, [("PB", Side.SELL, 65), ("CB", Side.SELL, 65)], False),  # the second leg opens
        ({"PB": -130}, [("PB", Side.BUY, 65), ("PB", Side.BUY, 65)], True),  # two legs, one instrument
        ({"PB": -130}, [("PB", Side.BUY, 65), ("PB", Side.BUY, 130)], False),  # the second leg flips it
    ],
)
def test_risk_reducing_means_every_leg_shrinks_its_position(
    positions: dict[str, int], legs: list[tuple[str, Side, int]], reducing: bool
) -> None:
    assert is_risk_reducing(group(*legs), positions) is reducing


# --------------------------------------------------------------------------- throttles


def test_open_groups_below_the_cap_pass() -> None:
    check_open_groups(1999, 2000)


def test_open_groups_at_the_cap_are_throttled() -> None:
    found = denial(check_open_groups, 2000, 2000)
    assert (found.code, found.field, found.details["cap"]) == (Code.THROTTLED, "$", 2000)


def test_an_order_wave_that_exactly_fits_the_second_passes() -> None:
    check_order_rate(5, 2, 7)


def test_an_order_wave_over_the_budget_is_throttled() -> None:
    found = denial(check_order_rate, 6, 2, 7)
    assert (found.code, found.field) == (Code.THROTTLED, "$")
    assert (found.details["sent"], found.details["needed"]) == (6, 2)


# --------------------------------------------------------------------------- position and exposure


def test_a_position_up_to_the_limit_passes() -> None:
    check_position_limit({"PB": -65 * 9}, CONDOR, 10, LOT_SIZES)


def test_a_position_beyond_the_limit_is_refused_at_that_leg() -> None:
    found = denial(check_position_limit, {"PB": -65 * 10}, CONDOR, 10, LOT_SIZES)
    assert (found.code, found.field) == (Code.POSITION_LIMIT, "legs[2].quantity")
    assert (found.details["position_after"], found.details["limit_units"]) == (-715, 650)


def test_shrinking_a_position_already_beyond_the_limit_passes() -> None:
    # The limit was lowered under an existing book: closing must still be possible.
    check_position_limit({"PB": -65 * 12}, group(("PB", Side.BUY, 65)), 10, LOT_SIZES)


def test_the_position_limit_uses_each_instruments_own_lot() -> None:
    check_position_limit({}, group(("BNC", Side.SELL, 300)), 10, LOT_SIZES)
    found = denial(check_position_limit, {}, group(("BNC", Side.SELL, 330)), 10, LOT_SIZES)
    assert found.details["limit_units"] == 300


def test_gross_notional_counts_hedges_and_each_underlying_at_its_spot() -> None:
    book = {"PW": 65, "PB": -65, "BNC": -30}
    assert gross_notional(book, INSTRUMENTS, SPOTS) == 2 * 65 * NIFTY_SPOT + 30 * BANKNIFTY_SPOT


def test_a_condor_within_the_notional_limit_passes() -> None:
    condor_notional = 4 * 65 * NIFTY_SPOT  # 6,370,000
    check_exposure_limit(
        CONDOR, positions={}, instruments=INSTRUMENTS, spots=SPOTS, limit_notional=condor_notional
    )


def test_a_condor_beyond_the_notional_limit_is_refused() -> None:
    found = denial(
        check_exposure_limit,
        CONDOR,
        positions={},
        instruments=INSTRUMENTS,
        spots=SPOTS,
        limit_notional=6_000_000.0,
    )
    assert (found.code, found.field) == (Code.EXPOSURE_LIMIT, "legs")
    assert (found.details["notional_before"], found.details["notional_after"]) == (0.0, 6_370_000.0)


def test_closing_part_of_a_book_over_the_notional_limit_passes() -> None:
    book = {"PB": -65 * 10}  # 15,925,000 of notional against a limit of 10,000,000
    closing = group(("PB", Side.BUY, 65))
    check_exposure_limit(
        closing, positions=book, instruments=INSTRUMENTS, spots=SPOTS, limit_notional=10_000_000.0
    )


# --------------------------------------------------------------------------- idempotency

REQUEST: dict[str, Any] = {
    "strategy": "iron_condor",
    "idempotency_key": "ic-1",
    "underlying": "NIFTY",
    "legs": [{"tradingsymbol": "PW", "side": "BUY", "quantity": 65, "role": "protection", "price": 20.0}],
}


def test_the_fingerprint_ignores_key_order() -> None:
    reordered = dict(reversed(list(REQUEST.items())))
    reordered["legs"] = [dict(reversed(list(REQUEST["legs"][0].items())))]
    assert payload_fingerprint(reordered) == payload_fingerprint(REQUEST)
    assert len(payload_fingerprint(REQUEST)) == 64


@pytest.mark.parametrize(
    "changed",
    [
        {**REQUEST, "strategy": "iron_fly"},
        {**REQUEST, "legs": [{**REQUEST["legs"][0], "quantity": 130}]},
        {**REQUEST, "legs": [{**REQUEST["legs"][0], "price": 20.05}]},
    ],
    ids=["strategy", "quantity", "price"],
)
def test_the_fingerprint_sees_every_change(changed: dict[str, Any]) -> None:
    assert payload_fingerprint(changed) != payload_fingerprint(REQUEST)


def test_a_new_key_goes_ahead() -> None:
    assert check_idempotency(None, payload_fingerprint(REQUEST)) is None


def test_an_identical_resubmission_returns_the_original_group() -> None:
    record = IdempotencyRecord("ic-1", payload_fingerprint(REQUEST), group_id="g1-42")
    resubmitted = dict(reversed(list(REQUEST.items())))
    assert check_idempotency(record, payload_fingerprint(resubmitted)) == "g1-42"


def test_the_same_key_with_another_payload_is_a_conflict() -> None:
    record = IdempotencyRecord("ic-1", payload_fingerprint(REQUEST), group_id="g1-42")
    found = denial(check_idempotency, record, payload_fingerprint({**REQUEST, "strategy": "iron_fly"}))
    assert (found.code, found.field, found.details["group_id"]) == (
        Code.IDEMPOTENCY_CONFLICT,
        "idempotency_key",
        "g1-42",
    )


# --------------------------------------------------------------------------- actions on a group


@pytest.mark.parametrize("action", list(GroupAction))
def test_an_unknown_group_is_refused_for_every_action(action: GroupAction) -> None:
    found = denial(check_group_action, None, action.value)
    assert (found.code, found.field) == (Code.UNKNOWN_GROUP, "group_id")


@pytest.mark.parametrize("action", ["cancel", "close"])
def test_a_closed_group_cannot_be_acted_on(action: str) -> None:
    found = denial(check_group_action, GroupState.CLOSED, action)
    assert (found.code, found.field, found.details["state"]) == (Code.TERMINAL_STATE, "group_id", "CLOSED")


@pytest.mark.parametrize("state", sorted(GROUP_SETTLED))
def test_a_settled_group_cannot_be_cancelled(state: GroupState) -> None:
    assert denial(check_group_action, state, "cancel").code is Code.TERMINAL_STATE


@pytest.mark.parametrize("state", sorted(set(GroupState) - GROUP_SETTLED))
def test_a_group_still_executing_can_be_cancelled(state: GroupState) -> None:
    check_group_action(state, "cancel")


@pytest.mark.parametrize("state", list(GroupState))
def test_any_known_group_can_be_viewed(state: GroupState) -> None:
    check_group_action(state, "view")


def test_a_held_group_can_be_closed() -> None:
    check_group_action(GroupState.HEDGED, "close")


def test_an_action_the_api_does_not_offer_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="explode"):
        check_group_action(GroupState.HEDGED, "explode")


# --------------------------------------------------------------------------- credentials


@pytest.mark.parametrize("presented", [None, "", "wrong"])
def test_loopback_needs_no_token(presented: str | None) -> None:
    check_credentials(True, "s3cret", presented)


def test_the_right_token_passes_off_loopback() -> None:
    check_credentials(False, "s3cret", "s3cret")


@pytest.mark.parametrize(
    ("configured", "presented"),
    [
        ("s3cret", None),
        ("s3cret", ""),
        ("s3cret", "s3cre"),
        ("s3cret", "s3cret "),
        ("s3cret", "sécret"),  # not ASCII: refused, not a TypeError from compare_digest
        ("", ""),  # no token configured: off loopback nobody gets in
        ("", None),
    ],
)
def test_a_missing_or_wrong_token_off_loopback_is_unauthorized(
    configured: str, presented: str | None
) -> None:
    found = denial(check_credentials, False, configured, presented)
    assert (found.code, found.field) == (Code.UNAUTHORIZED, "authorization")
