"""The pre-trade gate: pure checks that a valid group may go ahead now, each raising `Denied`.

`domain.validation` says whether a request is well formed; the gate says whether it may trade given
the state of the service and the book. Call them in this order, so that an identical resubmission
gets its original group back before anything about the present state (a kill switch, a full rate
window) can refuse it:

    check_credentials → (validate_group_request) → check_idempotency → check_trading_state
    → check_open_groups → check_order_rate → check_position_limit → check_exposure_limit → (margin)

`field` follows the request's paths (`legs[1].quantity`, `idempotency_key`, `authorization`,
`group_id`); `$` means the request as a whole, for denials that no single field caused.
Positions are net units per tradingsymbol, signed (+ long, - short).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from domain.errors import DenialCode, Denied
from domain.instruments import Instrument
from domain.lifecycle import GROUP_SETTLED, GROUP_TERMINAL, GroupState
from domain.model import GroupSpec

__all__ = [
    "GroupAction",
    "IdempotencyRecord",
    "TradingState",
    "check_credentials",
    "check_exposure_limit",
    "check_group_action",
    "check_idempotency",
    "check_open_groups",
    "check_order_rate",
    "check_position_limit",
    "check_trading_state",
    "gross_notional",
    "is_risk_reducing",
    "payload_fingerprint",
]

Code = DenialCode
WHOLE_REQUEST = "$"


# --------------------------------------------------------------------------- trading state


class TradingState(StrEnum):
    ACTIVE = "ACTIVE"
    REDUCING = "REDUCING"  # only groups that shrink every position they touch
    HALTED = "HALTED"  # kill switch engaged


def check_trading_state(
    state: TradingState, spec: GroupSpec, *, recovering: bool, positions: Mapping[str, int]
) -> None:
    # Recovery first: until the book is rebuilt from the broker, positions are not known well enough
    # to judge even a reducing group.
    if recovering:
        raise Denied(Code.RECOVERING, WHOLE_REQUEST, "recovery in progress: no new groups until it finishes")
    if state is TradingState.HALTED:
        raise Denied(Code.KILL_SWITCH_ACTIVE, WHOLE_REQUEST, "the kill switch is engaged", state=state.value)
    if state is TradingState.REDUCING:
        index = _first_increasing_leg(spec, positions)
        if index is not None:
            leg = spec.legs[index]
            raise Denied(
                Code.KILL_SWITCH_ACTIVE,
                f"legs[{index}]",
                f"trading is reduce-only; {leg.leg_id} does not reduce the position in {leg.tradingsymbol}",
                state=state.value,
            )


def is_risk_reducing(spec: GroupSpec, positions: Mapping[str, int]) -> bool:
    """Every leg shrinks the absolute net position of its instrument, and none flips it to the other side."""
    return _first_increasing_leg(spec, positions) is None


def _first_increasing_leg(spec: GroupSpec, positions: Mapping[str, int]) -> int | None:
    for index, before, after in _positions_through(spec, positions):
        # Through zero to the other side opens new risk, however small the remainder.
        if before == 0 or abs(after) >= abs(before) or (after != 0 and (after > 0) != (before > 0)):
            return index
    return None


def _positions_through(spec: GroupSpec, positions: Mapping[str, int]) -> Iterator[tuple[int, int, int]]:
    """(leg index, net before the leg, net after it) as each leg fills in turn."""
    running = dict(positions)
    for index, leg in enumerate(spec.legs):
        before = running.get(leg.tradingsymbol, 0)
        running[leg.tradingsymbol] = before + leg.signed_quantity
        yield index, before, running[leg.tradingsymbol]


# --------------------------------------------------------------------------- throttles


def check_open_groups(open_count: int, cap: int) -> None:
    if open_count >= cap:
        raise Denied(
            Code.THROTTLED,
            WHOLE_REQUEST,
            f"{open_count} groups are open, the cap is {cap}",
            open=open_count,
            cap=cap,
        )


def check_order_rate(orders_in_last_second: int, needed: int, limit: int) -> None:
    """Admit a group only if the orders it sends at once fit the budget left in this second.

    `needed` is the first wave (the protection legs' child orders); `limit` is the per-second budget
    without the gateway's emergency lane, which must stay free for reversals and stop fallbacks.
    """
    if orders_in_last_second + needed > limit:
        raise Denied(
            Code.THROTTLED,
            WHOLE_REQUEST,
            f"{needed} orders do not fit: {orders_in_last_second} of {limit} already sent this second",
            sent=orders_in_last_second,
            needed=needed,
            limit=limit,
        )


# --------------------------------------------------------------------------- position and exposure


def check_position_limit(
    positions: Mapping[str, int],
    spec: GroupSpec,
    limit_lots_per_instrument: int,
    lot_sizes: Mapping[str, int],
) -> None:
    """No instrument's net position may grow beyond the limit; shrinking one already beyond it is fine.

    `lot_sizes` maps every tradingsymbol of the group to its lot size.
    """
    for index, before, after in _positions_through(spec, positions):
        leg = spec.legs[index]
        limit_units = limit_lots_per_instrument * lot_sizes[leg.tradingsymbol]
        if abs(after) > limit_units and abs(after) > abs(before):
            raise Denied(
                Code.POSITION_LIMIT,
                f"legs[{index}].quantity",
                f"{leg.tradingsymbol} would hold {after} units, the limit is {limit_units}",
                position_after=after,
                limit_units=limit_units,
            )


def gross_notional(
    positions: Mapping[str, int], instruments: Mapping[str, Instrument], spots: Mapping[str, float]
) -> float:
    """Σ |net units| x spot of the underlying, in rupees: how big an options book is, as traders and
    position limits usually state it.

    Gross, so a hedge does not shrink it: a condor's wings count as much as its body. That makes it a
    ceiling on how much the book may hold, not a measure of its risk (margin and delta are those).
    """
    return sum(abs(units) * spots[instruments[symbol].underlying] for symbol, units in positions.items())


def check_exposure_limit(
    spec: GroupSpec,
    *,
    positions: Mapping[str, int],
    instruments: Mapping[str, Instrument],
    spots: Mapping[str, float],
    limit_notional: float,
) -> None:
    """The book's gross notional once the group fills must stay within the limit, unless the group shrinks it.

    `spots` maps each underlying in the book and the group to its spot price.
    """
    after_positions = dict(positions)
    for leg in spec.legs:
        after_positions[leg.tradingsymbol] = after_positions.get(leg.tradingsymbol, 0) + leg.signed_quantity
    before = gross_notional(positions, instruments, spots)
    after = gross_notional(after_positions, instruments, spots)
    if after > limit_notional and after > before:
        raise Denied(
            Code.EXPOSURE_LIMIT,
            "legs",
            f"gross notional would be {after:,.0f}, the limit is {limit_notional:,.0f}",
            notional_before=before,
            notional_after=after,
            limit_notional=limit_notional,
        )


# --------------------------------------------------------------------------- idempotency


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    """What the store keeps per idempotency key: the accepted request's fingerprint and its group."""

    idempotency_key: str
    fingerprint: str
    group_id: str


def payload_fingerprint(payload: Mapping[str, Any]) -> str:
    """sha256 of the request as canonical JSON: key order and whitespace do not change it."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def check_idempotency(existing: IdempotencyRecord | None, fingerprint: str) -> str | None:
    """None for a new key; the original group id for an identical resubmission; a denial otherwise."""
    if existing is None:
        return None
    if existing.fingerprint != fingerprint:
        raise Denied(
            Code.IDEMPOTENCY_CONFLICT,
            "idempotency_key",
            f"{existing.idempotency_key} was used for a different request (group {existing.group_id})",
            group_id=existing.group_id,
        )
    return existing.group_id


# --------------------------------------------------------------------------- actions on a group


class GroupAction(StrEnum):
    VIEW = "view"
    CANCEL = "cancel"  # stop executing: cancel working orders, reverse what filled
    CLOSE = "close"  # exit a held position


# The states in which an action has nothing left to act on.
_ACTION_REFUSED_IN: Mapping[GroupAction, frozenset[GroupState]] = {
    GroupAction.VIEW: frozenset(),
    # A settled group has no execution left to stop; a held one is exited with CLOSE instead.
    GroupAction.CANCEL: GROUP_SETTLED,
    GroupAction.CLOSE: GROUP_TERMINAL,
}


def check_group_action(record_state: GroupState | None, action: str) -> None:
    """`record_state` is the stored group's state, None when no group has the requested id."""
    wanted = GroupAction(action)  # an unknown action is a caller bug, not a client error: ValueError
    if record_state is None:
        raise Denied(Code.UNKNOWN_GROUP, "group_id", "no such group")
    if record_state in _ACTION_REFUSED_IN[wanted]:
        raise Denied(
            Code.TERMINAL_STATE,
            "group_id",
            f"cannot {wanted.value} a group that is {record_state.value}",
            state=record_state.value,
        )


# --------------------------------------------------------------------------- credentials


def check_credentials(peer_is_loopback: bool, configured_token: str, presented: str | None) -> None:
    """Loopback callers are trusted; anyone else needs the configured token.

    With no token configured the API is loopback-only: an empty token must never match an empty header.
    """
    if peer_is_loopback:
        return
    if not configured_token or presented is None:
        raise Denied(Code.UNAUTHORIZED, "authorization", "a token is required off loopback")
    # Constant time, so the comparison does not reveal how much of a guess was right.
    if not hmac.compare_digest(presented.encode("utf-8"), configured_token.encode("utf-8")):
        raise Denied(Code.UNAUTHORIZED, "authorization", "wrong token")
