"""Execution state of child orders and legs, and the pure rules that move it.

A child order is one broker order. A leg is one instrument and side of a group, split into entry
children (at most the freeze quantity each) and, after a failure, reversal children. The leg's net
quantity is what its entry children filled minus what its reversal children filled.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from domain.lifecycle import (
    CHILD_TERMINAL,
    ChildState,
    LegState,
    apply_child,
    child_state_for,
    merge_child_status,
)
from domain.messages import OrderUpdate
from domain.model import OrderType, Product, Side, Validity


class ChildPurpose(StrEnum):
    ENTRY = "entry"  # builds the leg
    REVERSAL = "reversal"  # flattens what the leg filled, after a failure or a kill switch
    STOP = "stop"  # exits a filled leg (SL order, or its market fallback)


@dataclass(frozen=True, slots=True)
class ChildRecord:
    child_id: str
    group_id: str
    leg_id: str
    tag: str
    purpose: ChildPurpose
    tradingsymbol: str
    side: Side
    quantity: int
    order_type: OrderType
    product: Product = Product.NRML
    validity: Validity = Validity.DAY
    exchange: str = "NFO"
    price: float | None = None
    trigger_price: float | None = None
    market_protection: int | None = None
    emergency: bool = False  # uses the gateway's reserved lane
    state: ChildState = ChildState.PENDING
    order_id: str | None = None
    filled_quantity: int = 0
    average_price: float = 0.0
    status_message: str | None = None
    lookups: int = 0
    seq: int = 1

    @property
    def is_terminal(self) -> bool:
        return self.state in CHILD_TERMINAL

    @property
    def remaining(self) -> int:
        return max(0, self.quantity - self.filled_quantity)

    @property
    def is_working(self) -> bool:
        """Could still fill: sent (or maybe sent) and not terminal."""
        return not self.is_terminal

    def to_record(self) -> dict[str, Any]:
        return {
            "child_id": self.child_id,
            "group_id": self.group_id,
            "leg_id": self.leg_id,
            "tag": self.tag,
            "purpose": self.purpose.value,
            "tradingsymbol": self.tradingsymbol,
            "side": self.side.value,
            "quantity": self.quantity,
            "order_type": self.order_type.value,
            "product": self.product.value,
            "validity": self.validity.value,
            "exchange": self.exchange,
            "price": self.price,
            "trigger_price": self.trigger_price,
            "market_protection": self.market_protection,
            "emergency": self.emergency,
            "state": self.state.value,
            "order_id": self.order_id,
            "filled_quantity": self.filled_quantity,
            "average_price": self.average_price,
            "status_message": self.status_message,
            "lookups": self.lookups,
            "seq": self.seq,
        }

    @classmethod
    def from_record(cls, rec: Mapping[str, Any]) -> ChildRecord:
        return cls(
            child_id=rec["child_id"],
            group_id=rec["group_id"],
            leg_id=rec["leg_id"],
            tag=rec["tag"],
            purpose=ChildPurpose(rec["purpose"]),
            tradingsymbol=rec["tradingsymbol"],
            side=Side(rec["side"]),
            quantity=int(rec["quantity"]),
            order_type=OrderType(rec["order_type"]),
            product=Product(rec["product"]),
            validity=Validity(rec["validity"]),
            exchange=rec["exchange"],
            price=rec["price"],
            trigger_price=rec["trigger_price"],
            market_protection=rec["market_protection"],
            emergency=bool(rec["emergency"]),
            state=ChildState(rec["state"]),
            order_id=rec["order_id"],
            filled_quantity=int(rec["filled_quantity"]),
            average_price=float(rec["average_price"]),
            status_message=rec["status_message"],
            lookups=int(rec["lookups"]),
            seq=int(rec["seq"]),
        )


@dataclass(frozen=True, slots=True)
class UpdateOutcome:
    child: ChildRecord
    new_fill: int  # units filled by this update that were not known before
    changed: bool
    foreign: bool = False  # the update carries our tag but another order id: a second order for one intent


def apply_order_update(child: ChildRecord, update: OrderUpdate) -> UpdateOutcome:
    """Apply a broker update idempotently.

    Fills are cumulative per order, so the filled quantity only ever takes the larger of what is
    known and what is reported: a duplicate or a stale update changes nothing, and no fill is lost
    whatever the order of arrival. The state moves by rank (see `merge_child_status`).
    """
    if (child.order_id is not None and update.order_id != child.order_id) or not same_intent(child, update):
        return UpdateOutcome(child, 0, changed=False, foreign=True)
    state = merge_child_status(child.state, child_state_for(update.status))
    new_fill = max(0, update.filled_quantity - child.filled_quantity)
    filled = child.filled_quantity + new_fill
    average = update.average_price if new_fill else child.average_price
    message = update.status_message if state is not child.state and update.status_message else child.status_message
    order_id = child.order_id or update.order_id
    if state is child.state and not new_fill and order_id == child.order_id and message == child.status_message:
        return UpdateOutcome(child, 0, changed=False)
    updated = replace(
        child,
        state=state,
        filled_quantity=filled,
        average_price=average,
        status_message=message,
        order_id=order_id,
        seq=child.seq + 1,
    )
    return UpdateOutcome(updated, new_fill, changed=True)


def same_intent(child: ChildRecord, update: OrderUpdate) -> bool:
    """An order is only ever adopted if it is what the intent describes (the fields the update
    carries): a tag is a label, not a proof, and another process may have used the same one."""
    return (
        (not update.tradingsymbol or update.tradingsymbol == child.tradingsymbol)
        and (not update.transaction_type or update.transaction_type == child.side.value)
        and (not update.quantity or update.quantity == child.quantity)
    )


def mark_child(child: ChildRecord, state: ChildState, **changes: Any) -> ChildRecord:
    """A local transition (sent, unknown, lost, cancel requested), checked against the table."""
    return replace(child, state=apply_child(child.state, state), seq=child.seq + 1, **changes)


# --------------------------------------------------------------------------- legs


@dataclass(frozen=True, slots=True)
class LegProgress:
    """What a leg reports to its group after every change."""

    leg_id: str
    state: LegState
    intended: int
    filled: int  # by entry children
    reversed: int  # by reversal and stop children
    working: int  # units still able to fill, entry and reversal
    entry_failed: bool  # an entry child ended without filling its quantity
    # What the leg has durably been told: a leg that crashed before committing a command reports
    # that it never got it, and its group tells it again.
    entered: bool = False
    reversing: bool = False
    # Long options left unsold because nobody bids for them (see LegRecord.residual).
    residual: int = 0

    @property
    def net(self) -> int:
        return self.filled - self.reversed


def leg_quantities(children: Iterable[ChildRecord]) -> tuple[int, int, int, bool, bool]:
    """(entry filled, reversed, working units, any entry sent, entry failed) over a leg's children."""
    filled = reversed_qty = working = 0
    sent = failed = False
    for child in children:
        if child.purpose is ChildPurpose.ENTRY:
            filled += child.filled_quantity
            sent = sent or child.state is not ChildState.PENDING
            if child.is_terminal and child.filled_quantity < child.quantity:
                failed = True
        else:
            reversed_qty += child.filled_quantity
        if child.is_working:
            working += child.remaining
    return filled, reversed_qty, working, sent, failed


def derive_leg_state(
    intended: int,
    children: Iterable[ChildRecord],
    *,
    reversing: bool,
    failed_before: bool = False,
    residual: int = 0,
) -> LegState:
    """The leg's state from its children. A leg that has FAILED stays FAILED until it is reversed:
    a lost entry order that turns up late does not un-fail it (its group has already decided)."""
    filled, reversed_qty, working, sent, failed = leg_quantities(children)
    if failed_before and not reversing:
        return LegState.FAILED
    if reversing:
        if filled - reversed_qty == residual and working == 0:
            return LegState.FLAT
        return LegState.REVERSING
    if filled >= intended:
        return LegState.FILLED
    if failed:
        return LegState.FAILED
    if filled > 0:
        return LegState.PARTIALLY_FILLED
    return LegState.WORKING if sent else LegState.PENDING


def split_quantity(quantity: int, *, freeze_quantity: int, lot_size: int) -> list[int]:
    """Child quantities, each at most the freeze quantity and a whole number of lots.

    The largest child is the biggest lot multiple not above the freeze quantity (NIFTY: freeze
    1,800, lot 65 → 1,755). Quantities that are not lot multiples (a reversal of an odd partial fill)
    are split by freeze quantity alone: an exit must go out whatever its size.
    """
    if quantity <= 0:
        return []
    lot_multiple = quantity % lot_size == 0
    max_child = ((freeze_quantity // lot_size) * lot_size or lot_size) if lot_multiple else freeze_quantity
    full, rest = divmod(quantity, max_child)
    return [max_child] * full + ([rest] if rest else [])


@dataclass(frozen=True, slots=True)
class LegRecord:
    """A leg's own durable facts: which children it created and whether it is entering or reversing.

    Fill totals are not stored here: they are derived from the children, whose truth is the broker's.
    """

    group_id: str
    leg_id: str
    state: LegState = LegState.PENDING
    entered: bool = False
    reversing: bool = False
    # Entry is closed for good (the group failed or the kill switch was pressed): a late EnterLeg,
    # still in flight when the group failed, must not send new risk.
    closed: bool = False
    # Units of a long option the leg stopped trying to sell: worth no more than the floor price and
    # with no bid, they are no risk (a long option's loss is bounded by its premium) and are left
    # to expire, with an alert, rather than chased forever.
    residual: int = 0
    child_ids: tuple[str, ...] = ()
    reissues: int = 0
    seq: int = 1

    def to_record(self) -> dict[str, Any]:
        return {
            "group_id": self.group_id,
            "leg_id": self.leg_id,
            "state": self.state.value,
            "entered": self.entered,
            "reversing": self.reversing,
            "closed": self.closed,
            "residual": self.residual,
            "child_ids": list(self.child_ids),
            "reissues": self.reissues,
            "seq": self.seq,
        }

    @classmethod
    def from_record(cls, rec: Mapping[str, Any]) -> LegRecord:
        return cls(
            group_id=rec["group_id"],
            leg_id=rec["leg_id"],
            state=LegState(rec["state"]),
            entered=bool(rec["entered"]),
            reversing=bool(rec["reversing"]),
            closed=bool(rec.get("closed", False)),
            residual=int(rec.get("residual", 0)),
            child_ids=tuple(rec["child_ids"]),
            reissues=int(rec["reissues"]),
            seq=int(rec["seq"]),
        )


def reversal_needed(children: Iterable[ChildRecord]) -> int:
    """Units still to reverse: the leg's net minus what working reversal orders already cover.

    Never negative, and never more than the leg filled: a reversal larger than the fill would open
    a position in the other direction.
    """
    children = list(children)
    filled, reversed_qty, _, _, _ = leg_quantities(children)
    in_flight = sum(c.remaining for c in children if c.purpose is not ChildPurpose.ENTRY and c.is_working)
    return max(0, filled - reversed_qty - in_flight)
