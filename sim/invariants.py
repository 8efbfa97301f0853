"""The invariants of RELIABILITY.md, checked after a run against the exchange's own ledger.

The service's view is never trusted here: what the exchange filled is the truth, and the store is
checked against it.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from domain.execution import ChildPurpose, ChildRecord, LegProgress
from domain.lifecycle import GROUP_TRANSITIONS, GroupState, LegState
from domain.model import Side
from domain.plan import GroupRecord, Outcome, naked_short
from sim.exchange import Exchange
from storage import keys
from storage.store import Store

_TERMINAL = ("COMPLETE", "CANCELLED", "REJECTED")


@dataclass
class GroupFacts:
    """What the exchange's ledger says about one group (by the tags of its intents)."""

    group_id: str
    record: GroupRecord | None
    children: list[ChildRecord]
    orders_by_tag: dict[str, list[Any]]
    net: dict[str, int] = field(default_factory=dict)

    @property
    def working(self) -> list[Any]:
        return [o for orders in self.orders_by_tag.values() for o in orders if o.status not in _TERMINAL]


def group_facts(store: Store, exchange: Exchange, group_id: str) -> GroupFacts:
    found = store.snapshot(keys.group_key(group_id))
    record = GroupRecord.from_record(found[1]) if found else None
    children = [ChildRecord.from_record(s.body) for s in store.scan_snapshots(keys.child_prefix(group_id))]
    tags = {c.tag for c in children}
    esc = store.snapshot(f"esc/{group_id}")
    if esc is not None:
        tags |= set(esc[1].get("tags", ()))
    orders = {tag: exchange.orders_by_tag(tag) for tag in sorted(tags)}
    net: dict[str, int] = defaultdict(int)
    for tag_orders in orders.values():
        for order in tag_orders:
            sign = 1 if order.transaction_type == Side.BUY.value else -1
            net[order.tradingsymbol] += sign * order.filled_quantity
    return GroupFacts(group_id, record, children, orders, dict(sorted(net.items())))


def check_group(store: Store, exchange: Exchange, group_id: str, *, unhedged_bound_s: float) -> list[str]:
    facts = group_facts(store, exchange, group_id)
    violations: list[str] = []
    record = facts.record
    if record is None:
        return [f"I8 {group_id}: orders exist but the group was never accepted"] if facts.orders_by_tag else []
    violations += _outcome(facts, record)
    violations += _one_order_per_intent(facts)
    violations += _fills_bounded(facts, record)
    violations += _exactly_once(facts)
    violations += _legal_journal(store, group_id)
    violations += _unhedged(exchange, facts, record, unhedged_bound_s)
    return violations


def _outcome(facts: GroupFacts, record: GroupRecord) -> list[str]:
    gid = facts.group_id
    if not record.settled:
        return [f"I1/I10 {gid}: not settled (state {record.state.value})"]
    residual = record.extra.get("residual") or {}
    if record.state is GroupState.CLOSED:
        open_net = {k: v for k, v in facts.net.items() if v and v != residual.get(k)}
        if open_net or facts.working:
            return [f"I1 {gid}: CLOSED but the ledger holds {open_net} with {len(facts.working)} working orders"]
        return []
    if record.outcome is Outcome.COMPLETE:
        intended: dict[str, int] = defaultdict(int)
        for leg in record.spec.legs:
            intended[leg.tradingsymbol] += leg.signed_quantity
        if {k: v for k, v in intended.items() if v} != {k: v for k, v in facts.net.items() if v}:
            return [f"I1 {gid}: COMPLETE but the ledger holds {facts.net}, intended {dict(intended)}"]
        return []
    if record.outcome is Outcome.FLAT:
        # Long options left to expire because nobody bids for them are recorded as the residual.
        open_net = {k: v for k, v in facts.net.items() if v and v != residual.get(k)}
        if open_net:
            return [f"I1 {gid}: FLAT but the ledger holds {open_net}"]
        if facts.working:
            return [f"I1 {gid}: FLAT with working orders {[o.order_id for o in facts.working]}"]
        return []
    if record.outcome is Outcome.ESCALATED:
        if facts.working:
            return [f"I1 {gid}: ESCALATED with working orders {[o.order_id for o in facts.working]}"]
        return []
    return [f"I1 {gid}: settled without an outcome"]


def _one_order_per_intent(facts: GroupFacts) -> list[str]:
    return [
        f"I3 {facts.group_id}: tag {tag} has {len(orders)} orders at the exchange"
        for tag, orders in facts.orders_by_tag.items()
        if len(orders) > 1
    ]


def _fills_bounded(facts: GroupFacts, record: GroupRecord) -> list[str]:
    out = []
    for leg in record.spec.legs:
        entry = reversal = 0
        for child in facts.children:
            if child.leg_id != leg.leg_id:
                continue
            filled = sum(o.filled_quantity for o in facts.orders_by_tag.get(child.tag, ()))
            if child.purpose is ChildPurpose.ENTRY:
                entry += filled
            else:
                reversal += filled
        if entry > leg.quantity:
            out.append(f"I3 {facts.group_id}/{leg.leg_id}: filled {entry} > intended {leg.quantity}")
        if reversal > entry:
            out.append(f"I3 {facts.group_id}/{leg.leg_id}: reversed {reversal} > filled {entry}")
    return out


def _exactly_once(facts: GroupFacts) -> list[str]:
    out = []
    for child in facts.children:
        orders = facts.orders_by_tag.get(child.tag, [])
        exchange_filled = sum(o.filled_quantity for o in orders)
        if orders and all(o.status in _TERMINAL for o in orders) and child.filled_quantity != exchange_filled:
            out.append(
                f"I5/I6 {facts.group_id}/{child.tag}: store says filled {child.filled_quantity}, "
                f"exchange {exchange_filled}"
            )
    return out


def _legal_journal(store: Store, group_id: str) -> list[str]:
    states = [GroupState.CREATED] + [GroupState(e.event["state"]) for e in store.journal(f"journal/{group_id}")]
    out = []
    for before, after in itertools.pairwise(states):
        if after is not before and after not in GROUP_TRANSITIONS[before]:
            out.append(f"I7 {group_id}: illegal transition {before.value} -> {after.value}")
    return out


def _unhedged(exchange: Exchange, facts: GroupFacts, record: GroupRecord, bound_s: float) -> list[str]:
    """Naked-short time from the exchange's fills, replayed in time order.

    Only for groups that have protection: a group of risk legs alone (a short straddle) is naked by
    the trader's design, and its interim risk is the exposure monitor's (delta), not this bound's.
    """
    if not [leg for leg in record.spec.protection_legs if not leg.urgent]:
        # Interim hedges (urgent legs) are the exposure monitor's: they do not make a group "protected".
        return []
    window = max_unhedged_s(exchange, facts, record)
    if window > bound_s:
        return [f"I2 {facts.group_id}: unhedged for {window:.3f}s > bound {bound_s}s"]
    return []


def max_unhedged_s(exchange: Exchange, facts: GroupFacts, record: GroupRecord) -> float:
    leg_of = {c.tag: c.leg_id for c in facts.children}
    events = []
    for tag, orders in facts.orders_by_tag.items():
        leg_id = leg_of.get(tag)
        if leg_id is None:
            continue
        for order in orders:
            for fill in exchange.fills(order.order_id):
                events.append((fill.mono or fill.ts, leg_id, fill.side, fill.quantity))
    events.sort(key=lambda e: (e[0], e[1]))
    net: dict[str, int] = defaultdict(int)
    spec_side = {leg.leg_id: leg.side for leg in record.spec.legs}
    since: float | None = None
    worst = 0.0
    for ts, leg_id, side, quantity in events:
        net[leg_id] += quantity if side is spec_side.get(leg_id) else -quantity
        progress = {
            leg: LegProgress(leg, LegState.PARTIALLY_FILLED, 0, max(0, units), 0, 0, False)
            for leg, units in net.items()
        }
        naked = naked_short(record.spec, progress, exchange.universe)
        if naked and since is None:
            since = ts
        elif not naked and since is not None:
            worst = max(worst, ts - since)
            since = None
    return worst


def ledger_intents_durable(store: Store, exchange: Exchange) -> list[str]:
    """I4: every order the exchange holds under one of our tags has its intent in the store."""
    out = []
    for order in exchange.all_orders():
        if order.tag and order.tag.startswith("LG") and store.intent(order.tag) is None:
            out.append(f"I4 order {order.order_id} tag {order.tag} has no durable intent")
    return out
