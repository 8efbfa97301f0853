"""One actor per broker order.

Its intent (with a unique tag of at most 20 characters) is durable before the gateway may send it;
the leg that creates it commits the intent and the writer forwards the order only after that commit.
A timeout or transport error leaves the outcome unknown: the child looks the order up by tag before
anything else happens, and never sends a fresh order for the same intent. Updates are applied
idempotently (by status rank and cumulative filled quantity).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from actors.messages import (
    CancelChild,
    CancelOrder,
    CancelRefused,
    CheckChild,
    ChildProgress,
    ChildUpdate,
    LookupOrder,
    LookupTag,
    OrderSent,
    PlaceOrder,
    RequestProgress,
    Route,
    SendRejected,
    SendUnknown,
    TagLookedUp,
)
from actors.persist import child_batch, commit, wait_for_writer
from brokers.port import OrderRequest
from domain.execution import ChildRecord, apply_order_update, mark_child, same_intent
from domain.lifecycle import ChildState
from storage import keys
from supervision.base import SupervisedActor, handles


def order_request(child: ChildRecord) -> OrderRequest:
    return OrderRequest(
        tag=child.tag,
        tradingsymbol=child.tradingsymbol,
        side=child.side,
        quantity=child.quantity,
        order_type=child.order_type,
        product=child.product,
        validity=child.validity,
        exchange=child.exchange,
        price=child.price,
        trigger_price=child.trigger_price,
        market_protection=child.market_protection,
    )


def child_address(group_id: str, child_id: str) -> str:
    return f"child/{group_id}/{child_id}"


def place_message(child: ChildRecord) -> PlaceOrder:
    return PlaceOrder(
        child_address(child.group_id, child.child_id),
        order_request(child),
        emergency=child.emergency,
        correlation_id=child.group_id,
    )


@dataclass(frozen=True)
class CancelRetry:
    order_id: str
    generation: int


@dataclass(frozen=True)
class LookupDue:
    """Timer: time to look an unknown order up by its tag."""


class ChildOrderActor(SupervisedActor):
    def __init__(
        self,
        ctx: Any,
        address: str,
        supervisor: str | None,
        record: ChildRecord,
        leg_address: str,
        *,
        recovering: bool = False,
        **base: Any,
    ) -> None:
        super().__init__(ctx, address, supervisor, **base)
        self.recovering = recovering
        self.child = record
        self.leg_address = leg_address
        self.cancel_wanted = False
        self.cancel_sent_at = float("-inf")
        self.cancel_generation = 0
        self.check_generation = 0
        self.log = self.log.bind(group_id=record.group_id, leg_id=record.leg_id, tag=record.tag)

    # ------------------------------------------------------------------ start / rehydrate

    def started(self) -> None:
        if not (self.restarted or self.recovering):
            # Fresh: the intent is durable and the writer already forwarded the order to the gateway.
            self._arm_check()
            return
        # A restart (of this actor or of the process): the snapshot, then the broker's word on it.
        stored = self._stored()
        if stored is not None and stored.seq >= self.child.seq:
            self.child = stored
        # A cancel asked for before the crash is still wanted: it is re-sent once the order is found.
        self.cancel_wanted = self.child.state is ChildState.CANCEL_REQUESTED
        self.tell("gateway", Route(self.child.tag, self.actor_address))
        if self.child.is_terminal and self.child.state is not ChildState.LOST:
            self._report()
        else:
            self.tell("gateway", LookupTag(self.actor_address, self.child.tag))
            # The update that was being handled when the predecessor died is gone: keep checking.
            self._arm_check()

    def _stored(self) -> ChildRecord | None:
        # Writes queued by a dead predecessor must land before we read (and before we write).
        wait_for_writer(self.ctx)
        found = self.ctx.store.snapshot(keys.child_key(self.child.group_id, self.child.child_id))
        return ChildRecord.from_record(found[1]) if found is not None else None

    def describe(self) -> dict[str, Any]:
        return {"address": self.actor_address, **self.child.to_record()}

    # ------------------------------------------------------------------ what the gateway says

    @handles(OrderSent)
    def on_sent(self, message: OrderSent) -> None:
        if self.child.order_id is None and self.child.state in (
            ChildState.PENDING,
            ChildState.SENDING,
            ChildState.UNKNOWN,
        ):
            self._change(mark_child(self.child, ChildState.ACCEPTED, order_id=message.order_id))
        elif self.child.order_id is None:
            # An update overtook the REST answer and already moved us on; just learn the id.
            self._change(mark_child(self.child, self.child.state, order_id=message.order_id))
        if self.cancel_wanted:
            self._request_cancel()

    @handles(SendRejected)
    def on_send_rejected(self, message: SendRejected) -> None:
        if self.child.is_terminal:
            return
        self._change(mark_child(self.child, ChildState.REJECTED, status_message=message.reason))

    @handles(SendUnknown)
    def on_send_unknown(self, message: SendUnknown) -> None:
        if self.child.state not in (ChildState.PENDING, ChildState.SENDING):
            return
        self.log.warning("send_outcome_unknown", reason=message.reason)
        self._change(mark_child(self.child, ChildState.UNKNOWN, status_message=message.reason))
        self.after(self.ctx.settings.execution.unknown_lookup_delay_s, LookupDue())

    @handles(LookupDue)
    def on_lookup_due(self, _message: LookupDue) -> None:
        if self.child.state in (ChildState.UNKNOWN, ChildState.PENDING, ChildState.SENDING):
            self.tell("gateway", LookupTag(self.actor_address, self.child.tag))

    @handles(TagLookedUp)
    def on_tag_looked_up(self, message: TagLookedUp) -> None:
        if message.update is not None:
            self._apply(message.update)
            if self.cancel_wanted and not self.child.is_terminal:
                self._request_cancel()
            return
        if message.queued:
            self.after(self.ctx.settings.execution.unknown_lookup_delay_s, LookupDue())
            return
        if self.child.order_id is not None and not self.child.is_terminal:
            # The broker gave us an id, so the order exists: ask for it by id, not by tag.
            self.tell("gateway", LookupOrder(self.actor_address, self.child.order_id))
            self._report()
            return
        if self.child.state in (ChildState.UNKNOWN, ChildState.PENDING, ChildState.SENDING):
            lookups = self.child.lookups + 1
            execution = self.ctx.settings.execution
            never_acknowledged = self.child.state in (ChildState.PENDING, ChildState.SENDING)
            limit = execution.recovery_max_lookups if never_acknowledged else execution.unknown_max_lookups
            if lookups >= limit:
                self.log.warning("order_not_found_lost", lookups=lookups)
                self._change(mark_child(self.child, ChildState.LOST, lookups=lookups))
            else:
                self._change(mark_child(self.child, self.child.state, lookups=lookups))
                self.after(execution.unknown_lookup_delay_s * 2 ** min(lookups, 4), LookupDue())
        else:
            self._report()

    @handles(ChildUpdate)
    def on_update(self, message: ChildUpdate) -> None:
        self._apply(message.update)

    @handles(CancelRefused)
    def on_cancel_refused(self, message: CancelRefused) -> None:
        self.log.info("cancel_refused", reason=message.reason)
        if not self.child.is_terminal and self.child.order_id is not None:
            self.tell("gateway", LookupOrder(self.actor_address, self.child.order_id))

    # ------------------------------------------------------------------ what the leg asks

    @handles(CancelChild)
    def on_cancel(self, _message: CancelChild) -> None:
        if self.child.is_terminal:
            self._report()
            return
        self.cancel_wanted = True
        if self.child.order_id is not None and self.child.state is not ChildState.CANCEL_REQUESTED:
            self._request_cancel()

    @handles(RequestProgress)
    def on_request_progress(self, _message: RequestProgress) -> None:
        self._report()

    @handles(CheckChild)
    def on_check(self, message: CheckChild) -> None:
        if message.generation != self.check_generation or self.child.is_terminal:
            return
        if self.child.order_id is not None:
            self.tell("gateway", LookupOrder(self.actor_address, self.child.order_id))
        else:
            self.tell("gateway", LookupTag(self.actor_address, self.child.tag))
        self._arm_check()

    # ------------------------------------------------------------------ mechanics

    def _apply(self, update: Any) -> None:
        outcome = apply_order_update(self.child, update)
        if outcome.foreign:
            if not same_intent(self.child, update):
                # Our tag on an order that is not what we meant (another process's): never adopt it.
                self.log.error("order_with_our_tag_is_not_our_intent", order_id=update.order_id)
                return
            # A second broker order for this intent: never two live orders for one intent.
            self.log.error("second_order_for_intent", order_id=update.order_id)
            if update.status not in ("COMPLETE", "CANCELLED", "REJECTED"):
                self.tell("gateway", CancelOrder(self.actor_address, update.order_id, emergency=True))
            return
        if outcome.changed:
            self._change(outcome.child)
        else:
            self._report()

    def _request_cancel(self) -> None:
        assert self.child.order_id is not None
        self.cancel_wanted = True
        cancel = CancelOrder(self.actor_address, self.child.order_id, emergency=self.child.emergency)
        self.cancel_sent_at = self.ctx.clock.monotonic()
        self.cancel_generation += 1
        retry = CancelRetry(self.child.order_id, self.cancel_generation)
        self.after(self.ctx.settings.execution.cancel_retry_s, retry)
        if self.child.state is ChildState.CANCEL_REQUESTED:
            # Already durable (a retry, or after a restart): ask the broker again.
            self.tell("gateway", cancel)
            return
        cancelling = mark_child(self.child, ChildState.CANCEL_REQUESTED)
        self.child = cancelling
        # The cancel goes out only once the transition is durable.
        self.tell("writer", commit(child_batch(cancelling), ("gateway", cancel)))
        self._report()

    @handles(CancelRetry)
    def on_cancel_retry(self, message: CancelRetry) -> None:
        """A cancel that has not taken effect (refused while the order was still being processed, or
        lost with a crash) is asked for again until the order is terminal."""
        if (
            self.child.is_terminal
            or message.order_id != self.child.order_id
            or message.generation != self.cancel_generation
        ):
            return
        self.tell("gateway", LookupOrder(self.actor_address, message.order_id))
        self._request_cancel()

    def _change(self, child: ChildRecord) -> None:
        self.child = child
        self.ctx.faults.hit("child.before_persist")
        # Fills are facts at the broker; the snapshot is our cache of them, so the report to the leg
        # need not wait for it (recovery reconciles from the broker's book).
        self.tell("writer", commit(child_batch(child)))
        self._report()
        if not child.is_terminal:
            self._arm_check()

    def _report(self) -> None:
        self.tell(self.leg_address, ChildProgress(self.child))

    def _arm_check(self) -> None:
        self.check_generation += 1
        self.after(self.ctx.settings.execution.child_stale_s, CheckChild(self.check_generation))
