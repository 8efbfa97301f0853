"""The safe state for a group whose supervisor gave up.

It works only from what is durable and what the broker says, not from the group's actors (they are
the thing that kept failing): cancel every working order carrying one of the group's tags, reverse
the net filled quantity per instrument with protected market orders, mark the group ESCALATED and
raise an alert. It re-checks the broker's book until the group is flat and nothing is working.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from actors.child_order import place_message
from actors.messages import (
    CancelOrder,
    ChildUpdate,
    CloseGroup,
    EscalateGroup,
    FetchBook,
    OrderSent,
    PurgeEntries,
    SendRejected,
    SendUnknown,
    TagLookedUp,
)
from actors.persist import child_batch, commit, wait_for_writer
from actors.reads import read_broker
from domain.execution import ChildPurpose, ChildRecord, apply_order_update, split_quantity
from domain.lifecycle import GroupState
from domain.messages import Alert
from domain.model import OrderType, Product, Side
from domain.plan import EXIT_PROTECTION_LADDER, GroupRecord, Outcome, exit_protection
from runtime.actors import new_future
from storage import keys
from storage.batch import Batch
from supervision.base import SupervisedActor, handles

_TERMINAL = ("COMPLETE", "CANCELLED", "REJECTED")


def owned_by_escalation(store: Any, record: GroupRecord) -> bool:
    """The escalation actor owns (and resumes) a group it has taken and not finished: recovery and
    a restarted groups supervisor leave it alone."""
    if record.state is GroupState.ESCALATED:
        return True
    escalated = store.snapshot(f"esc/{record.spec.group_id}")
    return escalated is not None and not escalated[1].get("done")


@dataclass(frozen=True)
class SafeStateCheck:
    group_id: str


@dataclass
class _Escalated:
    group_id: str
    reason: str
    tags: set[str] = field(default_factory=set)
    rounds: int = 0
    mode: str = "escalate"  # or "close": flatten a settled group's position and mark it CLOSED
    # Reversals this actor sent that the broker's book does not show yet (queued at the gateway):
    # reversing again before they appear would reverse twice.
    pending: dict[str, int] = field(default_factory=dict)
    own: set[str] = field(default_factory=set)  # the reversals this actor sent
    sent_round: dict[str, int] = field(default_factory=dict)
    sent_symbol: dict[str, str] = field(default_factory=dict)
    residual: dict[str, int] = field(default_factory=dict)


class EscalationActor(SupervisedActor):
    CHECK_EVERY_S = 1.0
    PENDING_ROUNDS = 30  # a reversal not in the book after this many checks is taken as never sent
    CHASE_ROUNDS = 3  # a reversal of ours still working after this many checks is cancelled and re-sent

    def started(self) -> None:
        self.groups: dict[str, _Escalated] = {}
        self.alerts: list[Alert] = []
        for snapshot in self.ctx.store.scan_snapshots("esc/"):
            body = snapshot.body
            if not body.get("done"):
                entry = _Escalated(
                    body["group_id"],
                    body["reason"],
                    set(body["tags"]),
                    int(body.get("rounds", 0)),
                    body.get("mode", "escalate"),
                    own=set(body.get("own", ())),
                )
                self.groups[entry.group_id] = entry
                self.after(0.0, SafeStateCheck(entry.group_id))

    def describe(self) -> dict[str, Any]:
        return {"address": self.actor_address, "escalated": sorted(self.groups), "alerts": len(self.alerts)}

    @handles(EscalateGroup)
    def on_escalate(self, message: EscalateGroup) -> None:
        if message.group_id in self.groups:
            return
        wait_for_writer(self.ctx)
        entry = _Escalated(message.group_id, message.reason)
        entry.tags = {c.body["tag"] for c in self.ctx.store.scan_snapshots(keys.child_prefix(message.group_id))}
        self.groups[message.group_id] = entry
        # Entries of this group still queued at the gateway must never leave now.
        self.tell("gateway", PurgeEntries(f"group {message.group_id} escalated", group_id=message.group_id))
        alert = Alert(
            severity="critical",
            kind="group_escalated",
            text=f"group {message.group_id} put in the safe state: {message.reason}",
            group_id=message.group_id,
            ts=self.ctx.clock.now(),
        )
        self.alerts.append(alert)
        self.log.critical("group_escalated", group_id=message.group_id, reason=message.reason)
        if self.ctx.directory.is_known("alerts"):
            self.tell("alerts", alert)
        batch = self._esc_batch(entry, done=False)
        group = self.ctx.store.snapshot(keys.group_key(message.group_id))
        if group is not None:
            record = GroupRecord.from_record(group[1])
            if record.state is not GroupState.ESCALATED:
                escalated = record.moved_to(
                    GroupState.ESCALATED, failure_reason=message.reason, outcome=Outcome.ESCALATED, settled=False
                )
                batch = batch.put_snapshot(
                    keys.group_key(message.group_id), escalated.seq, escalated.to_record()
                ).append_journal(
                    f"journal/{message.group_id}",
                    escalated.seq,
                    {"state": "ESCALATED", "phase": None, "note": message.reason, "ts": self.ctx.clock.now()},
                )
        self.tell("writer", commit(batch, (self.actor_address, SafeStateCheck(message.group_id))))

    @handles(CloseGroup)
    def on_close(self, message: CloseGroup) -> None:
        """Flatten what a settled group holds (the kill switch, or a close request)."""
        if message.group_id in self.groups:
            return
        wait_for_writer(self.ctx)
        entry = _Escalated(message.group_id, message.reason, mode="close")
        entry.tags = {c.body["tag"] for c in self.ctx.store.scan_snapshots(keys.child_prefix(message.group_id))}
        self.groups[message.group_id] = entry
        self.log.warning("closing_group", group_id=message.group_id, reason=message.reason)
        self.tell(
            "writer", commit(self._esc_batch(entry, done=False), (self.actor_address, SafeStateCheck(message.group_id)))
        )

    @handles(SafeStateCheck)
    def on_check(self, message: SafeStateCheck) -> None:
        entry = self.groups.get(message.group_id)
        if entry is None:
            return
        entry.rounds += 1
        book = self._book()
        if book is None:
            self.after(self.CHECK_EVERY_S, message)
            return
        in_book = {o.tag for o in book}
        for tag in [t for t in entry.pending if t in in_book or entry.rounds - entry.pending[t] > self.PENDING_ROUNDS]:
            entry.pending.pop(tag)
        mine = [o for o in book if o.tag in entry.tags]
        working = [o for o in mine if o.status not in _TERMINAL]
        for order in working:
            # Everything of the group's own is cancelled; a reversal of ours left working at the price
            # band for a few checks is cancelled too, and re-sent for what is still open (a chase).
            if (
                order.tag not in entry.own
                or entry.rounds - entry.sent_round.get(order.tag, entry.rounds) >= self.CHASE_ROUNDS
            ):
                self.tell("gateway", CancelOrder(self.actor_address, order.order_id, emergency=True))
        net: dict[str, int] = {}
        for order in mine:
            sign = 1 if order.transaction_type == Side.BUY.value else -1
            net[order.tradingsymbol] = net.get(order.tradingsymbol, 0) + sign * order.filled_quantity
        for symbol in [s for s, q in net.items() if q > 0 and s not in entry.residual and self._worthless(entry, s)]:
            # Nobody bids for this long option any more: it is left to expire (see LegRecord.residual).
            entry.residual[symbol] = net[symbol]
            self.log.warning("residual_left_to_expire", group_id=entry.group_id, symbol=symbol, units=net[symbol])
        net = {s: q - entry.residual.get(s, 0) for s, q in net.items()}
        if not working and not entry.pending and all(qty == 0 for qty in net.values()):
            self._finish(entry, book)
            return
        if not working and not entry.pending:
            self._reverse(entry, {symbol: qty for symbol, qty in net.items() if qty != 0})
        self.after(self.CHECK_EVERY_S, message)

    def _worthless(self, entry: _Escalated, symbol: str) -> bool:
        instrument = self.ctx.universe.get(symbol)
        if instrument is None or not instrument.is_option:
            return False
        attempts = sum(1 for tag in entry.own if entry.sent_symbol.get(tag) == symbol)
        if attempts <= len(EXIT_PROTECTION_LADDER):
            return False
        try:
            price = read_broker(self.ctx, "ltp", [symbol]).get(symbol)
        except Exception:  # no price, no decision: keep trying to sell
            return False
        return price is not None and price <= self.ctx.settings.execution.worthless_price

    def _reverse(self, entry: _Escalated, net: dict[str, int]) -> None:
        batch = Batch()
        orders = []
        for symbol, quantity in sorted(net.items()):
            instrument = self.ctx.universe.get(symbol)
            if instrument is None:
                self.log.error("escalation_unknown_instrument", symbol=symbol)
                continue
            side = Side.SELL if quantity > 0 else Side.BUY
            for part in split_quantity(
                abs(quantity), freeze_quantity=instrument.freeze_quantity, lot_size=instrument.lot_size
            ):
                child = ChildRecord(
                    child_id=self.ctx.ids.next("e"),
                    group_id=entry.group_id,
                    leg_id="ESC",
                    tag=self.ctx.ids.tag(),
                    purpose=ChildPurpose.REVERSAL,
                    tradingsymbol=symbol,
                    side=side,
                    quantity=part,
                    order_type=OrderType.MARKET,
                    product=Product.NRML,
                    market_protection=exit_protection(
                        len(entry.own) // max(1, len(net)), self.ctx.settings.rules.market_protection
                    ),
                    emergency=True,
                )
                entry.tags.add(child.tag)
                entry.own.add(child.tag)
                entry.sent_symbol[child.tag] = symbol
                entry.sent_round[child.tag] = entry.rounds
                entry.pending[child.tag] = entry.rounds
                batch = Batch(batch.ops + child_batch(child, with_intent=True).ops)
                message = place_message(child)
                orders.append(("gateway", type(message)(self.actor_address, message.request, True, entry.group_id)))
        batch = Batch(batch.ops + self._esc_batch(entry, done=False).ops)
        self.tell("writer", commit(batch, *orders))

    def _finish(self, entry: _Escalated, book: list[Any]) -> None:
        self.log.warning("group_flat", group_id=entry.group_id, rounds=entry.rounds, mode=entry.mode)
        self.groups.pop(entry.group_id, None)
        batch = self._esc_batch(entry, done=True).mark_settled(entry.group_id)
        batch = Batch(batch.ops + self._children_from_book(entry.group_id, book).ops)
        found = self.ctx.store.snapshot(keys.group_key(entry.group_id))
        if entry.mode == "escalate" and found is not None:
            record = GroupRecord.from_record(found[1])
            if not record.settled:
                extra = {**record.extra, "residual": dict(entry.residual)} if entry.residual else record.extra
                settled = record.with_changes(settled=True, outcome=Outcome.ESCALATED, extra=extra)
                batch = batch.put_snapshot(keys.group_key(entry.group_id), settled.seq, settled.to_record())
        if entry.mode == "close":
            found = self.ctx.store.snapshot(keys.group_key(entry.group_id))
            if found is not None:
                record = GroupRecord.from_record(found[1])
                if record.state is not GroupState.CLOSED:
                    extra = {**record.extra, "residual": dict(entry.residual)} if entry.residual else record.extra
                    closed = record.moved_to(GroupState.CLOSED, failure_reason=entry.reason, extra=extra)
                    batch = batch.put_snapshot(keys.group_key(entry.group_id), closed.seq, closed.to_record())
                    batch = batch.append_journal(
                        f"journal/{entry.group_id}",
                        closed.seq,
                        {"state": "CLOSED", "phase": None, "note": entry.reason, "ts": self.ctx.clock.now()},
                    )
            batch = batch.delete_snapshot(f"held/{entry.group_id}")
        self.tell("writer", commit(batch))

    def _children_from_book(self, group_id: str, book: list[Any]) -> Batch:
        """The group's child records brought up to what the broker's book says: its own actors were
        stopped when it escalated, so what they last wrote may be behind the exchange."""
        by_tag = {o.tag: o for o in book if o.tag}
        batch = Batch()
        for snapshot in self.ctx.store.scan_snapshots(keys.child_prefix(group_id)):
            child = ChildRecord.from_record(snapshot.body)
            order = by_tag.get(child.tag)
            if order is None:
                continue
            outcome = apply_order_update(child, order)
            if outcome.changed:
                batch = Batch(batch.ops + child_batch(outcome.child).ops)
        return batch

    def _esc_batch(self, entry: _Escalated, *, done: bool) -> Batch:
        body = {
            "group_id": entry.group_id,
            "own": sorted(entry.own),
            "residual": dict(sorted(entry.residual.items())),
            "mode": entry.mode,
            "reason": entry.reason,
            "tags": sorted(entry.tags),
            "rounds": entry.rounds,
            "done": done,
        }
        self._seq = getattr(self, "_seq", 0) + 1
        stored = self.ctx.store.snapshot(f"esc/{entry.group_id}")
        seq = max(self._seq, (stored[0] + 1) if stored else 1)
        self._seq = seq
        return Batch().put_snapshot(f"esc/{entry.group_id}", seq, body)

    def _book(self) -> list[Any] | None:
        future = new_future(self.ctx.runtime)
        self.tell("gateway", FetchBook(future))
        try:
            return list(future.get(timeout=5.0))
        except Exception as exc:
            self.log.warning("escalation_book_unavailable", reason=repr(exc))
            return None

    @handles(OrderSent, SendRejected, SendUnknown, ChildUpdate, TagLookedUp)
    def on_order_news(self, _message: Any) -> None:
        # The periodic check reads the broker's book, which is the only truth this actor trusts.
        return None
