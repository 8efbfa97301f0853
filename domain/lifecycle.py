"""Lifecycles of groups, legs and child orders: transition tables with one `apply()` each.

The tables include the edges the real world produces: an order that goes from submitted straight
to filled, a fill that arrives after a cancel was requested, a cancelled order that carries fills,
a late fill on a group that was already flattened, and recovery after a crash from any live state.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum


class IllegalTransition(Exception):
    def __init__(self, machine: str, current: StrEnum, target: StrEnum) -> None:
        super().__init__(f"{machine}: illegal transition {current.value} -> {target.value}")
        self.machine = machine
        self.current = current
        self.target = target


# --------------------------------------------------------------------------- group


class GroupState(StrEnum):
    CREATED = "CREATED"
    VALIDATED = "VALIDATED"  # intent durable, passed the pre-trade gate
    SUBMITTED = "SUBMITTED"  # first orders handed to the broker
    PARTIALLY_FILLED = "PARTIALLY_FILLED"  # some fills, every short covered by a long
    PARTIALLY_EXPOSED = "PARTIALLY_EXPOSED"  # some fills, a short is not covered: unhedged window
    FILLED = "FILLED"  # every leg filled as intended
    HEDGED = "HEDGED"  # filled, and its stops (if any) are working
    CLOSED = "CLOSED"  # the position was closed after being held
    FAILED = "FAILED"  # execution failed; reversal in progress
    EMERGENCY_HEDGED = "EMERGENCY_HEDGED"  # reversal done: flat per instrument, still listening
    RECOVERING = "RECOVERING"  # process restarted; reconciling with the broker's book
    ESCALATED = "ESCALATED"  # supervisor gave up: working orders cancelled, fills reversed, alert raised


G = GroupState
_LIVE_GROUP = (G.SUBMITTED, G.PARTIALLY_FILLED, G.PARTIALLY_EXPOSED)

GROUP_TRANSITIONS: Mapping[GroupState, frozenset[GroupState]] = {
    G.CREATED: frozenset({G.VALIDATED}),
    G.VALIDATED: frozenset({G.SUBMITTED, G.FAILED, G.RECOVERING, G.ESCALATED, G.EMERGENCY_HEDGED}),
    G.SUBMITTED: frozenset({G.PARTIALLY_FILLED, G.PARTIALLY_EXPOSED, G.FILLED, G.FAILED, G.RECOVERING, G.ESCALATED}),
    G.PARTIALLY_FILLED: frozenset({G.PARTIALLY_EXPOSED, G.FILLED, G.FAILED, G.RECOVERING, G.ESCALATED}),
    G.PARTIALLY_EXPOSED: frozenset({G.PARTIALLY_FILLED, G.FILLED, G.FAILED, G.RECOVERING, G.ESCALATED}),
    G.FILLED: frozenset({G.HEDGED, G.FAILED, G.RECOVERING, G.ESCALATED, G.CLOSED}),
    G.HEDGED: frozenset({G.CLOSED, G.FAILED, G.RECOVERING, G.ESCALATED}),
    G.CLOSED: frozenset(),
    G.FAILED: frozenset({G.EMERGENCY_HEDGED, G.RECOVERING, G.ESCALATED}),
    # A late fill on a flattened group re-opens the reversal.
    G.EMERGENCY_HEDGED: frozenset({G.FAILED, G.RECOVERING, G.ESCALATED}),
    G.RECOVERING: frozenset(
        {
            G.SUBMITTED,
            G.PARTIALLY_FILLED,
            G.PARTIALLY_EXPOSED,
            G.FILLED,
            G.HEDGED,
            G.FAILED,
            G.EMERGENCY_HEDGED,
            G.ESCALATED,
            G.CLOSED,
            G.VALIDATED,
        }
    ),
    G.ESCALATED: frozenset({G.RECOVERING}),
}

# Terminal for execution: nothing more is sent for the group unless a late fill arrives.
GROUP_SETTLED = frozenset({G.HEDGED, G.CLOSED, G.EMERGENCY_HEDGED, G.ESCALATED})
GROUP_TERMINAL = frozenset({G.CLOSED})


def apply_group(current: GroupState, target: GroupState) -> GroupState:
    if target is current:
        return current
    if target not in GROUP_TRANSITIONS[current]:
        raise IllegalTransition("group", current, target)
    return target


# --------------------------------------------------------------------------- leg


class LegState(StrEnum):
    PENDING = "PENDING"  # not sent yet (risk legs wait for protection)
    WORKING = "WORKING"  # children sent, nothing filled
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    FAILED = "FAILED"  # cannot complete: a child was rejected, or a remainder cancelled
    REVERSING = "REVERSING"  # reversal children working against the filled quantity
    FLAT = "FLAT"  # filled quantity fully reversed (or nothing was ever filled)


L = LegState
# Leg states are derived from child reports, and one report can cover several steps (a child that goes
# from sent to filled in one update), so a live leg may jump to any later state. Once reversing, a
# leg never returns to entering.
LEG_TRANSITIONS: Mapping[LegState, frozenset[LegState]] = {
    L.PENDING: frozenset({L.WORKING, L.PARTIALLY_FILLED, L.FILLED, L.FAILED, L.REVERSING, L.FLAT}),
    L.WORKING: frozenset({L.PARTIALLY_FILLED, L.FILLED, L.FAILED, L.REVERSING, L.FLAT}),
    L.PARTIALLY_FILLED: frozenset({L.FILLED, L.FAILED, L.REVERSING, L.FLAT}),
    L.FILLED: frozenset({L.REVERSING, L.FLAT}),
    L.FAILED: frozenset({L.REVERSING, L.FLAT}),
    L.REVERSING: frozenset({L.FLAT}),
    # A fill that arrives after the leg was flattened (a child cancelled late) is reversed too.
    L.FLAT: frozenset({L.REVERSING}),
}


def apply_leg(current: LegState, target: LegState) -> LegState:
    if target is current:
        return current
    if target not in LEG_TRANSITIONS[current]:
        raise IllegalTransition("leg", current, target)
    return target


# --------------------------------------------------------------------------- child order


class ChildState(StrEnum):
    PENDING = "PENDING"  # intent durable, not yet handed to the gateway
    SENDING = "SENDING"  # handed to the gateway, no answer yet
    UNKNOWN = "UNKNOWN"  # the send timed out or the transport failed: look it up by tag
    ACCEPTED = "ACCEPTED"  # broker has it: PUT ORDER REQ RECEIVED / VALIDATION PENDING / OPEN PENDING
    TRIGGER_PENDING = "TRIGGER_PENDING"  # SL order waiting for its trigger
    OPEN = "OPEN"  # working at the exchange, possibly partly filled
    CANCEL_REQUESTED = "CANCEL_REQUESTED"
    FILLED = "FILLED"  # COMPLETE
    CANCELLED = "CANCELLED"  # may carry fills (partial fill, then cancel)
    REJECTED = "REJECTED"
    LOST = "LOST"  # unknown send resolved: the broker never received it


C = ChildState
CHILD_TERMINAL = frozenset({C.FILLED, C.CANCELLED, C.REJECTED, C.LOST})
_EXCHANGE_STATES = frozenset(
    {C.ACCEPTED, C.TRIGGER_PENDING, C.OPEN, C.CANCEL_REQUESTED, C.FILLED, C.CANCELLED, C.REJECTED}
)

CHILD_TRANSITIONS: Mapping[ChildState, frozenset[ChildState]] = {
    # PENDING → UNKNOWN: the send timed out (the child does not mark SENDING before the gateway tries).
    C.PENDING: frozenset({C.SENDING, C.UNKNOWN, C.CANCELLED, C.LOST} | _EXCHANGE_STATES),
    # An order update can overtake the REST answer, so SENDING may jump to any exchange state.
    C.SENDING: frozenset({C.UNKNOWN, C.LOST} | _EXCHANGE_STATES),
    C.UNKNOWN: frozenset({C.LOST} | _EXCHANGE_STATES),
    C.ACCEPTED: frozenset({C.TRIGGER_PENDING, C.OPEN, C.CANCEL_REQUESTED, C.FILLED, C.CANCELLED, C.REJECTED}),
    C.TRIGGER_PENDING: frozenset({C.OPEN, C.CANCEL_REQUESTED, C.FILLED, C.CANCELLED, C.REJECTED}),
    C.OPEN: frozenset({C.CANCEL_REQUESTED, C.FILLED, C.CANCELLED, C.REJECTED}),
    C.CANCEL_REQUESTED: frozenset({C.OPEN, C.FILLED, C.CANCELLED, C.REJECTED}),
    C.FILLED: frozenset(),
    C.CANCELLED: frozenset(),
    C.REJECTED: frozenset(),
    # A "lost" order that turns up after all (a very late accept) is adopted, never duplicated, in
    # whatever state it turns up in: CANCEL PENDING too, when earlier updates were lost.
    C.LOST: _EXCHANGE_STATES,
}


def apply_child(current: ChildState, target: ChildState) -> ChildState:
    if target is current:
        return current
    if target not in CHILD_TRANSITIONS[current]:
        raise IllegalTransition("child", current, target)
    return target


# Kite status → child state. Every status Kite documents, transient ones included.
KITE_STATUS: Mapping[str, ChildState] = {
    "PUT ORDER REQ RECEIVED": C.ACCEPTED,
    "AMO REQ RECEIVED": C.ACCEPTED,
    "VALIDATION PENDING": C.ACCEPTED,
    "OPEN PENDING": C.ACCEPTED,
    "TRIGGER PENDING": C.TRIGGER_PENDING,
    "OPEN": C.OPEN,
    "MODIFY VALIDATION PENDING": C.OPEN,
    "MODIFY PENDING": C.OPEN,
    "MODIFIED": C.OPEN,
    "CANCEL PENDING": C.CANCEL_REQUESTED,
    "COMPLETE": C.FILLED,
    "CANCELLED": C.CANCELLED,
    "CANCELLED AMO": C.CANCELLED,
    "REJECTED": C.REJECTED,
}

# How far along an order is; an update ranked below what was already seen is stale.
_RANK: Mapping[ChildState, int] = {
    C.PENDING: 0,
    C.SENDING: 1,
    C.UNKNOWN: 1,
    C.LOST: 1,
    C.ACCEPTED: 2,
    C.TRIGGER_PENDING: 3,
    C.OPEN: 4,
    C.CANCEL_REQUESTED: 5,
    C.FILLED: 9,
    C.CANCELLED: 9,
    C.REJECTED: 9,
}


def child_state_for(kite_status: str) -> ChildState:
    try:
        return KITE_STATUS[kite_status.upper()]
    except KeyError:
        raise ValueError(f"unknown Kite order status {kite_status!r}") from None


def merge_child_status(current: ChildState, reported: ChildState) -> ChildState:
    """The state after an exchange update, applied idempotently.

    Terminal states are sticky; an update ranked below the current state is stale and ignored; a
    CANCEL_REQUESTED child that sees OPEN again (the cancel was refused) stays cancel-requested
    until a terminal update arrives.
    """
    if current in CHILD_TERMINAL and current is not C.LOST:
        return current
    if current is C.CANCEL_REQUESTED and reported is C.OPEN:
        return current
    if _RANK[reported] < _RANK[current] and current not in (C.UNKNOWN, C.LOST, C.SENDING, C.PENDING):
        return current
    return apply_child(current, reported)
