"""One actor per leg of a group.

It splits its quantity into child orders of at most the freeze quantity, aggregates their fills and
reports to its group. Told to reverse, it cancels its working entries and sends protected market
orders for exactly what it filled (partials included), re-issuing them until the leg is flat, and
keeps doing so for fills that arrive late.
"""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass
from typing import Any

from actors.child_order import ChildOrderActor, child_address, place_message
from actors.messages import (
    CancelChild,
    CancelLegEntries,
    ChildProgress,
    EnterLeg,
    LegReport,
    ReissueReversal,
    RequestProgress,
    ReverseLeg,
)
from actors.persist import child_batch, commit, wait_for_writer
from actors.reads import read_broker
from domain.execution import (
    ChildPurpose,
    ChildRecord,
    LegProgress,
    LegRecord,
    derive_leg_state,
    leg_quantities,
    reversal_needed,
    split_quantity,
)
from domain.lifecycle import ChildState, LegState, apply_leg
from domain.model import LegSpec, OrderType, Product, Side
from domain.plan import EXIT_PROTECTION_LADDER, exit_protection
from storage import keys
from storage.batch import Batch
from supervision.base import SupervisedActor, handles
from supervision.messages import ChildSpec, Restart, StartChild


def leg_address(group_id: str, leg_id: str) -> str:
    return f"leg/{group_id}/{leg_id}"


@dataclass(frozen=True)
class ChaseDue:
    """Timer: a protected market reversal still has an unfilled remainder at the band."""

    child_id: str


class LegActor(SupervisedActor):
    def __init__(
        self,
        ctx: Any,
        address: str,
        supervisor: str | None,
        group_id: str,
        spec: LegSpec,
        product: Product,
        group_address: str,
        *,
        recovering: bool = False,
        **base: Any,
    ) -> None:
        super().__init__(ctx, address, supervisor, **base)
        self.group_id = group_id
        self.spec = spec
        self.product = product
        self.group_address = group_address
        self.recovering = recovering
        self.instrument = ctx.universe[spec.tradingsymbol]
        self.record = LegRecord(group_id=group_id, leg_id=spec.leg_id)
        self.children: dict[str, ChildRecord] = {}
        self.awaiting: set[str] = set()  # children whose reconciled state we have not heard yet
        self.chasing: set[str] = set()
        self.reissue_generation = 0
        self.reissue_armed = False
        self.last_report: LegProgress | None = None
        self.last_reconciled = True
        self.log = self.log.bind(group_id=group_id, leg_id=spec.leg_id)

    # ------------------------------------------------------------------ start / rehydrate

    def started(self) -> None:
        if not (self.restarted or self.recovering):
            return
        wait_for_writer(self.ctx)
        stored = self.ctx.store.snapshot(keys.leg_key(self.group_id, self.spec.leg_id))
        if stored is None:
            # Never entered before the crash: nothing to reconcile.
            self._report(force=True)
            return
        self.record = LegRecord.from_record(stored[1])
        for child_id in self.record.child_ids:
            found = self.ctx.store.snapshot(keys.child_key(self.group_id, child_id))
            if found is None:
                self.log.error("child_snapshot_missing", child_id=child_id)
                continue
            child = ChildRecord.from_record(found[1])
            self.children[child_id] = child
            self.awaiting.add(child_id)
            address = child_address(self.group_id, child_id)
            # Alive (only this leg restarted): ask it. Otherwise start it, even when its address is
            # still reserved: a reservation whose StartChild died with a stopped supervisor would
            # hold our messages forever. A supervisor ignores StartChild for a child it has alive.
            if self.ctx.directory.lookup(address) is not None:
                self.tell(address, RequestProgress())
            else:
                self._start_child(child, recovering=True)
        self._report(force=True)

    def describe(self) -> dict[str, Any]:
        return {"address": self.actor_address, "progress": asdict(self._progress()), **self.record.to_record()}

    # ------------------------------------------------------------------ commands from the group

    @handles(EnterLeg)
    def on_enter(self, _message: EnterLeg) -> None:
        if self.record.entered or self.record.reversing or self.record.closed:
            self._report(force=True)
            return
        children = [self._new_child(ChildPurpose.ENTRY, qty) for qty in self._split(self.spec.quantity)]
        self._create(children, entered=True)

    @handles(ReverseLeg)
    def on_reverse(self, message: ReverseLeg) -> None:
        if not self.record.reversing:
            self.log.warning("leg_reversing", reason=message.reason)
            self.record = self._with(reversing=True, closed=True)
        self._cancel_entries()
        self._top_up_reversal(persist_anyway=True)

    @handles(CancelLegEntries)
    def on_cancel_entries(self, _message: CancelLegEntries) -> None:
        if not self.record.closed:
            self.record = self._with(closed=True)
            self._persist()
        self._cancel_entries()

    @handles(RequestProgress)
    def on_request_progress(self, _message: RequestProgress) -> None:
        self._report(force=True)

    # ------------------------------------------------------------------ children

    @handles(ChildProgress)
    def on_child_progress(self, message: ChildProgress) -> None:
        child = message.child
        known = self.children.get(child.child_id)
        if known is not None and known.seq > child.seq:
            return  # an older report overtaken by a newer one
        self.children[child.child_id] = child
        self.awaiting.discard(child.child_id)
        if self.record.reversing:
            self._on_reversing_progress(child)
        self._report()

    @handles(ReissueReversal)
    def on_reissue(self, message: ReissueReversal) -> None:
        if message.generation != self.reissue_generation:
            return
        self.reissue_armed = False
        self._top_up_reversal()

    @handles(ChaseDue)
    def on_chase(self, message: ChaseDue) -> None:
        child = self.children.get(message.child_id)
        if child is None or child.is_terminal or child.remaining == 0:
            return
        self.log.warning("reversal_remainder_chased", child_id=child.child_id, remaining=child.remaining)
        self.chasing.add(child.child_id)
        # The next attempt goes out with a wider protection (see domain.plan.exit_protection).
        self.record = self._with(reissues=self.record.reissues + 1)
        self.tell(child_address(self.group_id, child.child_id), CancelChild("chase remainder"))

    def _on_reversing_progress(self, child: ChildRecord) -> None:
        if child.purpose is ChildPurpose.ENTRY and not child.is_terminal:
            self.tell(child_address(self.group_id, child.child_id), CancelChild("leg reversing"))
        if child.purpose is not ChildPurpose.ENTRY and child.state is ChildState.OPEN and child.remaining:
            self.after(self._chase_delay(), ChaseDue(child.child_id))
        if child.is_terminal and child.child_id in self.chasing:
            self.chasing.discard(child.child_id)
            self._top_up_reversal()
            return
        if reversal_needed(self.children.values()) == 0:
            return
        if child.purpose is ChildPurpose.ENTRY:
            # A late fill on an entry: reverse it straight away.
            self._top_up_reversal()
        else:
            # A reversal ended short (rejected, cancelled, lost): try again, with backoff.
            self._arm_reissue()

    def _chase_delay(self) -> float:
        """Chasing backs off: an exit that does not fill at the band (a halted or one-sided market)
        must not become a stream of orders against the account's rate limit."""
        base = self.ctx.settings.execution.chase_after_s
        return min(self.ctx.settings.execution.reissue_backoff_max_s * 6, base * 2 ** min(self.record.reissues, 5))

    def _arm_reissue(self) -> None:
        if self.reissue_armed:
            return
        execution = self.ctx.settings.execution
        delay = min(execution.reissue_backoff_max_s, execution.reissue_backoff_s * 2 ** min(self.record.reissues, 8))
        self.reissue_generation += 1
        self.reissue_armed = True
        self.record = self._with(reissues=self.record.reissues + 1)
        self.after(delay, ReissueReversal(self.reissue_generation))

    # ------------------------------------------------------------------ mechanics

    def _top_up_reversal(self, *, persist_anyway: bool = False) -> None:
        needed = reversal_needed(self.children.values()) - self.record.residual
        if needed > 0 and self._worthless_long():
            self.log.warning("residual_left_to_expire", units=needed, symbol=self.spec.tradingsymbol)
            self.record = self._with(residual=self.record.residual + needed)
            self._persist()
            needed = 0
        if needed <= 0:
            if persist_anyway:
                self._persist()
            self._report(force=True)
            return
        self.ctx.faults.hit("leg.before_reversal")
        children = [self._new_child(ChildPurpose.REVERSAL, qty) for qty in self._split(needed)]
        self._create(children)

    def _worthless_long(self) -> bool:
        """A long option nobody will buy back: the exit ladder is exhausted and it is at the floor."""
        if self.spec.side is not Side.BUY or not self.instrument.is_option:
            return False
        if self.record.reissues <= len(EXIT_PROTECTION_LADDER):
            return False
        try:
            price = read_broker(self.ctx, "ltp", [self.spec.tradingsymbol]).get(self.spec.tradingsymbol)
        except Exception:  # no price, no decision: keep trying to sell
            return False
        return price is not None and price <= self.ctx.settings.execution.worthless_price

    def _cancel_entries(self) -> None:
        for child in self.children.values():
            if child.purpose is ChildPurpose.ENTRY and not child.is_terminal:
                self.tell(child_address(self.group_id, child.child_id), CancelChild("leg stopping"))

    def _split(self, quantity: int) -> list[int]:
        return split_quantity(
            quantity, freeze_quantity=self.instrument.freeze_quantity, lot_size=self.instrument.lot_size
        )

    def _new_child(self, purpose: ChildPurpose, quantity: int) -> ChildRecord:
        spec = self.spec
        trigger = None
        if purpose is ChildPurpose.ENTRY:
            side, order_type, price = spec.side, spec.order_type, spec.limit_price
            protection = spec.market_protection
            trigger = spec.trigger_price
            emergency = spec.urgent
        else:
            side, order_type, price = spec.side.opposite, OrderType.MARKET, None
            protection = exit_protection(self.record.reissues, self.ctx.settings.rules.market_protection)
            emergency = True
        return ChildRecord(
            child_id=self.ctx.ids.next("c"),
            group_id=self.group_id,
            leg_id=spec.leg_id,
            tag=self.ctx.ids.tag(),
            purpose=purpose,
            tradingsymbol=spec.tradingsymbol,
            side=side,
            quantity=quantity,
            order_type=order_type,
            product=self.product,
            exchange=spec.exchange,
            price=price if order_type is not OrderType.MARKET else None,
            trigger_price=trigger,
            market_protection=protection if order_type in (OrderType.MARKET, OrderType.SL_M) else None,
            emergency=emergency,
        )

    def _create(self, children: list[ChildRecord], *, entered: bool | None = None) -> None:
        """Commit the children's intents with the leg's snapshot; only then do the orders go out."""
        for child in children:
            self.children[child.child_id] = child
            # Replies to the child (OrderSent, updates) may come before its actor exists: hold them.
            self.ctx.directory.reserve(child_address(self.group_id, child.child_id))
        changes: dict[str, Any] = {"child_ids": self.record.child_ids + tuple(c.child_id for c in children)}
        if entered is not None:
            changes["entered"] = entered
        self.record = self._with(**changes)
        batch = Batch().put_snapshot(
            keys.leg_key(self.group_id, self.spec.leg_id), self.record.seq, self.record.to_record()
        )
        for child in children:
            batch = Batch(batch.ops + child_batch(child, with_intent=True).ops)
        self.ctx.faults.hit("leg.before_commit")
        self.tell("writer", commit(batch, *(("gateway", place_message(c)) for c in children)))
        for child in children:
            self._start_child(child, recovering=False)
        self._report(force=True)

    def _start_child(self, child: ChildRecord, *, recovering: bool) -> None:
        spec = ChildSpec(
            child_address(self.group_id, child.child_id),
            ChildOrderActor,
            args=(child, self.actor_address),
            kwargs={"recovering": recovering},
            restart=Restart.TRANSIENT,
        )
        if self.supervisor_address is not None:
            self.tell(self.supervisor_address, StartChild(spec))

    def _with(self, **changes: Any) -> LegRecord:
        from dataclasses import replace

        return replace(self.record, seq=self.record.seq + 1, **changes)

    def _persist(self) -> None:
        self.tell(
            "writer",
            commit(
                Batch().put_snapshot(
                    keys.leg_key(self.group_id, self.spec.leg_id), self.record.seq, self.record.to_record()
                )
            ),
        )

    def _progress(self) -> LegProgress:
        children = list(self.children.values())
        filled, reversed_qty, working, _, failed = leg_quantities(children)
        state = derive_leg_state(
            self.spec.quantity,
            children,
            reversing=self.record.reversing,
            failed_before=self.record.state is LegState.FAILED,
            residual=self.record.residual,
        )
        return LegProgress(
            leg_id=self.spec.leg_id,
            state=state,
            intended=self.spec.quantity,
            filled=filled,
            reversed=reversed_qty,
            working=working,
            entry_failed=failed,
            entered=self.record.entered,
            reversing=self.record.reversing,
            residual=self.record.residual,
        )

    def _report(self, *, force: bool = False) -> None:
        progress = self._progress()
        # While children are still reconciling after a restart, their snapshots may be behind what
        # this leg recorded: the stored state stands until they have all reported.
        if self.awaiting:
            progress = dataclasses.replace(progress, state=self.record.state)
        if progress.state is not self.record.state:
            self.record = self._with(state=apply_leg(self.record.state, progress.state))
            self._persist()
        reconciled = not self.awaiting
        if force or progress != self.last_report or reconciled != self.last_reconciled:
            self.last_report = progress
            self.last_reconciled = reconciled
            self.tell(self.group_address, LegReport(progress, reconciled=reconciled))
