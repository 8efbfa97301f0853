"""The hybrid stop: an SL order (trigger + limit) first, a protected market order as the fallback.

When a group completes, each leg that carries a stop gets a stop actor. It places an SL order for the
leg's position, then falls back to a protected market order for whatever is still open when:
- the SL is rejected;
- the price has gapped through the trigger beyond a threshold while the SL is still working;
- the SL triggered but has not filled within a timeout (default 2 s).
It never sends the fallback while the SL could still fill: it cancels the SL, waits for the
exchange's final word on it, and exits exactly the remainder (a partial fill of the SL counts). It
reacts to ticks and order updates as they arrive; bad ticks are dropped by the market actor.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from actors.child_order import order_request
from actors.messages import (
    CancelOrder,
    ChildUpdate,
    GroupChanged,
    KillSwitchCommitted,
    LookupTag,
    MarketTick,
    OrderSent,
    PlaceOrder,
    Route,
    SendRejected,
    SendUnknown,
    TagLookedUp,
    UnwatchTokens,
    WatchTokens,
)
from actors.persist import child_batch, commit, wait_for_writer
from domain.execution import ChildPurpose, ChildRecord, apply_order_update, mark_child
from domain.lifecycle import ChildState, GroupState
from domain.model import GroupSpec, LegSpec, OrderType, Side
from domain.plan import GroupRecord, exit_protection
from storage import keys
from storage.batch import Batch
from supervision.base import SupervisedActor, handles
from supervision.messages import ChildSpec, Restart, StartChild, StopChild
from supervision.supervisor import Supervisor


def stop_address(group_id: str, leg_id: str) -> str:
    return f"stop/{group_id}/{leg_id}"


@dataclass(frozen=True)
class StopTimeout:
    tag: str


@dataclass(frozen=True)
class StopDone:
    group_id: str
    leg_id: str
    exit_price: float
    loss: float
    planned_loss: float
    fallback: str


class StopsSupervisor(Supervisor):
    """Starts a stop actor per stopped leg of every completed group, and again after a restart."""

    def started(self) -> None:
        super().started()
        self.done: dict[str, list[StopDone]] = {}
        for snapshot in self.ctx.store.scan_snapshots("stop/"):
            if not snapshot.body.get("done"):
                self._start_stop(snapshot.body["group_id"], snapshot.body["leg_id"], recovering=True)

    @handles(GroupChanged)
    def on_group_changed(self, message: GroupChanged) -> None:
        if message.outcome != "COMPLETE" or message.state != "HEDGED":
            return
        found = self.ctx.store.snapshot(keys.group_key(message.group_id))
        if found is None:
            return
        spec = GroupRecord.from_record(found[1]).spec
        for leg in spec.legs:
            if leg.stop is not None:
                self._start_stop(message.group_id, leg.leg_id, recovering=False)

    @handles(StopDone)
    def on_stop_done(self, message: StopDone) -> None:
        self.done.setdefault(message.group_id, []).append(message)
        self.on_stop_child(StopChild(stop_address(message.group_id, message.leg_id)))

    @handles(KillSwitchCommitted)
    def on_kill_switch(self, message: KillSwitchCommitted) -> None:
        # The kill switch flattens held groups itself; stops stand down so nothing exits twice.
        for address in [a for a in list(self._children) if a.startswith("stop/")]:
            self.tell(address, message)

    def describe(self) -> dict[str, Any]:
        info = super().describe()
        info["done"] = {g: [dataclasses.asdict(d) for d in v] for g, v in self.done.items()}
        return info

    def _start_stop(self, group_id: str, leg_id: str, *, recovering: bool) -> None:
        spec = ChildSpec(
            stop_address(group_id, leg_id),
            StopActor,
            args=(group_id, leg_id),
            kwargs={"recovering": recovering},
            restart=Restart.TRANSIENT,
        )
        self.ctx.directory.reserve(spec.address)
        self.on_start_child(StartChild(spec))


class StopActor(SupervisedActor):
    def __init__(
        self,
        ctx: Any,
        address: str,
        supervisor: str | None,
        group_id: str,
        leg_id: str,
        *,
        recovering: bool = False,
        **base: Any,
    ) -> None:
        super().__init__(ctx, address, supervisor, **base)
        self.group_id = group_id
        self.leg_id = leg_id
        self.recovering = recovering
        self.orders: dict[str, ChildRecord] = {}  # by tag: the SL first, then fallbacks
        self.fallback_reason = ""
        self.cancelling: set[str] = set()
        self.standing_down = False
        self.seq = 0
        self.log = self.log.bind(group_id=group_id, leg_id=leg_id)

    # ------------------------------------------------------------------ start

    def started(self) -> None:
        wait_for_writer(self.ctx)
        record = GroupRecord.from_record(self.ctx.store.snapshot(keys.group_key(self.group_id))[1])
        self.spec: GroupSpec = record.spec
        self.leg: LegSpec = self.spec.leg(self.leg_id)
        self.position = self._position()
        self.entry_price = self._entry_price()
        stored = self.ctx.store.snapshot(self._key)
        if stored is not None:
            self.seq = stored[0]
            self.fallback_reason = stored[1].get("fallback", "")
            for tag in stored[1].get("tags", ()):
                child = self._stored_child(tag)
                if child is not None:
                    self.orders[tag] = child
                    self.tell("gateway", Route(tag, self.actor_address))
                    self.tell("gateway", LookupTag(self.actor_address, tag))
        inst = self.ctx.universe[self.leg.tradingsymbol]
        self.tell("market", WatchTokens(self.actor_address, (inst.instrument_token,)))
        if not self.orders:
            self._place(self._sl_order())

    @property
    def _key(self) -> str:
        return f"stop/{self.group_id}/{self.leg_id}"

    # ------------------------------------------------------------------ orders

    def _sl_order(self) -> ChildRecord:
        assert self.leg.stop is not None
        return self._child(
            OrderType.SL, self.position, price=self.leg.stop.limit_price, trigger=self.leg.stop.trigger_price
        )

    def _child(
        self, order_type: OrderType, quantity: int, *, price: float | None = None, trigger: float | None = None
    ) -> ChildRecord:
        return ChildRecord(
            child_id=self.ctx.ids.next("s"),
            group_id=self.group_id,
            leg_id=self.leg_id,
            tag=self.ctx.ids.tag(),
            purpose=ChildPurpose.STOP,
            tradingsymbol=self.leg.tradingsymbol,
            side=self.leg.side.opposite,
            quantity=quantity,
            order_type=order_type,
            product=self.spec.product,
            exchange=self.leg.exchange,
            price=price,
            trigger_price=trigger,
            market_protection=exit_protection(
                sum(1 for c in self.orders.values() if c.order_type is OrderType.MARKET),
                self.ctx.settings.rules.market_protection,
            )
            if order_type is OrderType.MARKET
            else None,
            emergency=True,
        )

    def _place(self, child: ChildRecord) -> None:
        self.orders[child.tag] = child
        self.seq += 1
        batch = Batch(child_batch(child, with_intent=True).ops + self._state_batch().ops)
        place = PlaceOrder(self.actor_address, order_request(child), emergency=True, correlation_id=self.group_id)
        self.tell("writer", commit(batch, ("gateway", place)))
        self.log.info(
            "stop_order_sent",
            order_type=child.order_type.value,
            quantity=child.quantity,
            reason=self.fallback_reason or "primary",
        )

    def _state_batch(self, *, done: bool = False, extra: dict[str, Any] | None = None) -> Batch:
        body = {
            "group_id": self.group_id,
            "leg_id": self.leg_id,
            "tags": list(self.orders),
            "fallback": self.fallback_reason,
            "done": done,
            **(extra or {}),
        }
        return Batch().put_snapshot(self._key, self.seq, body)

    # ------------------------------------------------------------------ what happens to them

    @handles(OrderSent)
    def on_sent(self, message: OrderSent) -> None:
        child = self.orders.get(message.tag)
        if child is not None and child.order_id is None:
            state = ChildState.ACCEPTED if child.state in (ChildState.PENDING, ChildState.SENDING) else child.state
            self._update(mark_child(child, state, order_id=message.order_id))

    @handles(SendRejected)
    def on_rejected(self, message: SendRejected) -> None:
        child = self.orders.get(message.tag)
        if child is not None and not child.is_terminal:
            self._update(mark_child(child, ChildState.REJECTED, status_message=message.reason))

    @handles(SendUnknown)
    def on_unknown(self, message: SendUnknown) -> None:
        child = self.orders.get(message.tag)
        if child is not None and child.state in (ChildState.PENDING, ChildState.SENDING):
            self.orders[message.tag] = mark_child(child, ChildState.UNKNOWN)
            self.tell("gateway", LookupTag(self.actor_address, message.tag))

    @handles(TagLookedUp)
    def on_looked_up(self, message: TagLookedUp) -> None:
        child = self.orders.get(message.tag)
        if child is None:
            return
        if message.update is not None:
            self._update(apply_order_update(child, message.update).child)
        elif child.state in (ChildState.UNKNOWN, ChildState.PENDING, ChildState.SENDING):
            self._update(mark_child(child, ChildState.LOST))

    @handles(ChildUpdate)
    def on_update(self, message: ChildUpdate) -> None:
        tag = message.update.tag
        child = self.orders.get(tag or "")
        if child is not None:
            self._update(apply_order_update(child, message.update).child)

    @handles(MarketTick)
    def on_tick(self, message: MarketTick) -> None:
        sl = self._working_sl()
        if sl is None or self.leg.stop is None or sl.tag in self.cancelling:
            return
        trigger = self.leg.stop.trigger_price
        threshold = trigger * self.ctx.settings.risk.stop_gap_threshold_pct
        gapped = (
            (message.last_price < trigger - threshold)
            if self.leg.side is Side.BUY
            else (message.last_price > trigger + threshold)
        )
        if gapped:
            self._fall_back(sl, f"gap-through: last {message.last_price} beyond trigger {trigger}")

    @handles(StopTimeout)
    def on_timeout(self, message: StopTimeout) -> None:
        child = self.orders.get(message.tag)
        if child is not None and not child.is_terminal and message.tag not in self.cancelling:
            self._fall_back(child, f"not filled {self.ctx.settings.risk.stop_fill_timeout_s}s after triggering")

    @handles(KillSwitchCommitted)
    def on_kill_switch(self, _message: KillSwitchCommitted) -> None:
        self.standing_down = True
        for child in self.orders.values():
            if not child.is_terminal and child.order_id is not None:
                self.cancelling.add(child.tag)
                self.tell("gateway", CancelOrder(self.actor_address, child.order_id, emergency=True))

    # ------------------------------------------------------------------ decisions

    def _update(self, child: ChildRecord) -> None:
        before = self.orders.get(child.tag)
        self.orders[child.tag] = child
        self.tell("writer", commit(child_batch(child)))
        if before is not None and before.state is ChildState.TRIGGER_PENDING and child.state is ChildState.OPEN:
            # Triggered: the limit must fill soon, or the fallback takes over.
            self.after(self.ctx.settings.risk.stop_fill_timeout_s, StopTimeout(child.tag))
        if child.order_type is OrderType.SL and child.state is ChildState.REJECTED and not self.fallback_reason:
            self.fallback_reason = f"SL rejected: {child.status_message}"
        if child.order_type is OrderType.MARKET and child.state is ChildState.OPEN and child.remaining:
            self.after(self.ctx.settings.execution.chase_after_s, StopTimeout(child.tag))
        self._settle_or_exit()

    def _fall_back(self, child: ChildRecord, reason: str) -> None:
        self.fallback_reason = self.fallback_reason or reason
        self.log.warning("stop_fallback", reason=reason)
        if child.order_id is None:
            return
        self.cancelling.add(child.tag)
        self.tell("gateway", CancelOrder(self.actor_address, child.order_id, emergency=True))

    def _settle_or_exit(self) -> None:
        if any(not c.is_terminal for c in self.orders.values()):
            return  # something could still fill: never exit twice
        exited = sum(c.filled_quantity for c in self.orders.values())
        remaining = self.position - exited
        if remaining <= 0:
            self._finish(exited)
            return
        if self.standing_down:
            self._finish(exited)
            return
        if not self.fallback_reason:
            self.fallback_reason = "SL ended unfilled"
        self._place(self._child(OrderType.MARKET, remaining))

    def _finish(self, exited: int) -> None:
        assert self.leg.stop is not None
        value = sum(c.filled_quantity * c.average_price for c in self.orders.values())
        exit_price = value / exited if exited else 0.0
        sign = self.leg.side.sign
        loss = round(sign * (self.entry_price - exit_price) * exited, 2)
        planned = round(sign * (self.entry_price - self.leg.stop.trigger_price) * self.position, 2)
        self.seq += 1
        extra = {"exit_price": round(exit_price, 2), "loss": loss, "planned_loss": planned, "exited": exited}
        batch = self._state_batch(done=True, extra=extra)
        if not self.standing_down:
            batch = self._close_group(batch)
        self.tell("writer", commit(batch))
        self.tell("market", UnwatchTokens(self.actor_address))
        self.log.warning("stop_exited", **extra, fallback=self.fallback_reason or "none")
        if self.supervisor_address is not None:
            self.tell(
                self.supervisor_address,
                StopDone(self.group_id, self.leg_id, round(exit_price, 2), loss, planned, self.fallback_reason),
            )

    def _close_group(self, batch: Batch) -> Batch:
        """The group is CLOSED once every leg it holds has been exited."""
        found = self.ctx.store.snapshot(keys.group_key(self.group_id))
        if found is None:
            return batch
        record = GroupRecord.from_record(found[1])
        if record.state is not GroupState.HEDGED or any(leg.stop is None for leg in self.spec.legs):
            return batch
        others_done = all(
            (s := self.ctx.store.snapshot(f"stop/{self.group_id}/{leg.leg_id}")) is not None and s[1].get("done")
            for leg in self.spec.legs
            if leg.leg_id != self.leg_id
        )
        if not others_done:
            return batch
        closed = record.moved_to(GroupState.CLOSED, failure_reason=f"stopped out: {self.fallback_reason or 'SL'}")
        return (
            batch.put_snapshot(keys.group_key(self.group_id), closed.seq, closed.to_record())
            .append_journal(
                f"journal/{self.group_id}",
                closed.seq,
                {"state": "CLOSED", "phase": None, "note": "stopped out", "ts": self.ctx.clock.now()},
            )
            .delete_snapshot(f"held/{self.group_id}")
        )

    def _working_sl(self) -> ChildRecord | None:
        for child in self.orders.values():
            if child.order_type is OrderType.SL and not child.is_terminal:
                return child
        return None

    def _position(self) -> int:
        filled = reversed_qty = 0
        for snapshot in self.ctx.store.scan_snapshots(keys.child_prefix(self.group_id)):
            child = ChildRecord.from_record(snapshot.body)
            if child.leg_id != self.leg_id:
                continue
            if child.purpose is ChildPurpose.ENTRY:
                filled += child.filled_quantity
            elif child.purpose is ChildPurpose.REVERSAL:
                reversed_qty += child.filled_quantity
        return filled - reversed_qty

    def _entry_price(self) -> float:
        units = value = 0.0
        for snapshot in self.ctx.store.scan_snapshots(keys.child_prefix(self.group_id)):
            child = ChildRecord.from_record(snapshot.body)
            if child.leg_id == self.leg_id and child.purpose is ChildPurpose.ENTRY and child.filled_quantity:
                units += child.filled_quantity
                value += child.filled_quantity * child.average_price
        return value / units if units else 0.0

    def _stored_child(self, tag: str) -> ChildRecord | None:
        intent = self.ctx.store.intent(tag)
        if intent is None:
            return None
        found = self.ctx.store.snapshot(keys.child_key(self.group_id, intent["child_id"]))
        return ChildRecord.from_record(found[1]) if found else None
