"""Invariants checked after a drill seed, against the exchange's ledger (the truth) and the store.

`sim.invariants.check_group` covers invariants 1, 2, 3, 5/6, 7 (group journal) and 8 per group; this
module adds what a run with many groups, bad input and crashes needs on top:

- I4   every exchange order under one of our tags has a durable intent (and, at send time, the
       harness's CheckingBroker);
- I3   one exchange order per tag over the whole ledger, not only per group;
- I8   every such intent belongs to a group the gate accepted;
- I6   each child's stored state agrees with the exchange's terminal word on its order;
- I7   leg and child snapshots only ever moved along their transition tables (as committed);
- I12  a denied request left no group, no idempotency record, and nothing at the exchange.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from domain.execution import ChildRecord
from domain.lifecycle import (
    CHILD_TERMINAL,
    CHILD_TRANSITIONS,
    LEG_TRANSITIONS,
    ChildState,
    LegState,
)
from domain.plan import GroupRecord, Outcome
from sim.exchange import Exchange
from sim.invariants import check_group, ledger_intents_durable
from storage import keys
from storage.store import Store

_EXCHANGE_TERMINAL = {"COMPLETE": ChildState.FILLED, "CANCELLED": ChildState.CANCELLED, "REJECTED": ChildState.REJECTED}


def stored_group_ids(store: Store) -> list[str]:
    prefix = keys.GROUP_PREFIX
    return sorted(s.key[len(prefix) :] for s in store.scan_snapshots(prefix) if "/" not in s.key[len(prefix) :])


def group_record(store: Store, group_id: str) -> GroupRecord | None:
    found = store.snapshot(keys.group_key(group_id))
    return GroupRecord.from_record(found[1]) if found else None


def escalation_done(store: Store, group_id: str) -> bool:
    found = store.snapshot(f"esc/{group_id}")
    return bool(found and found[1].get("done"))


def group_finished(store: Store, group_id: str) -> bool:
    """Settled, with no escalation or close (the kill switch flattening a held group) still running."""
    record = group_record(store, group_id)
    if record is None:
        return False
    if store.snapshot(f"esc/{group_id}") is not None and not escalation_done(store, group_id):
        return False
    return record.settled or (record.outcome is Outcome.ESCALATED and escalation_done(store, group_id))


@dataclass(frozen=True, slots=True)
class Denial:
    key: str
    kind: str
    expected_code: str
    code: str | None  # None: the request was accepted
    conflict_with: str | None = None  # the idempotency key whose group it must not disturb


@dataclass
class TransitionLog:
    """Leg and child states in commit order, per snapshot key (I7 below the group level)."""

    last: dict[str, str] = field(default_factory=dict)
    illegal: list[str] = field(default_factory=list)

    def step(self, key: str, state: str) -> None:
        before = self.last.get(key)
        self.last[key] = state
        if before is None or before == state:
            return
        if "/c/" in key:
            legal = ChildState(state) in CHILD_TRANSITIONS[ChildState(before)]
        else:
            legal = LegState(state) in LEG_TRANSITIONS[LegState(before)]
        if not legal:
            self.illegal.append(f"I7 {key}: committed {before} -> {state}")


def check_run(
    store: Store,
    exchange: Exchange,
    *,
    unhedged_bound_s: float,
    accepted: Mapping[str, str],
    denials: Iterable[Denial],
) -> list[str]:
    """Every invariant over the whole run; `accepted` maps idempotency key -> acknowledged group id."""
    group_ids = stored_group_ids(store)
    out: list[str] = []
    for group_id in group_ids:
        out += check_group(store, exchange, group_id, unhedged_bound_s=unhedged_bound_s)
        out += _children_match_ledger(store, exchange, group_id)
    out += ledger_intents_durable(store, exchange)
    out += _ledger_orders_belong_to_groups(store, exchange, set(group_ids))
    out += _acknowledged_groups_kept(store, accepted)
    out += _denials_left_nothing(store, group_ids, accepted, denials)
    return out


def _children_match_ledger(store: Store, exchange: Exchange, group_id: str) -> list[str]:
    """I6: the store's final word on each child agrees with the exchange's terminal word."""
    out = []
    record = group_record(store, group_id)
    settled = record is not None and record.settled
    for snapshot in store.scan_snapshots(keys.child_prefix(group_id)):
        child = ChildRecord.from_record(snapshot.body)
        orders = exchange.orders_by_tag(child.tag)
        if not orders:
            placed_states = (ChildState.FILLED, ChildState.OPEN, ChildState.CANCEL_REQUESTED)
            if child.state in placed_states or child.filled_quantity:
                out.append(
                    f"I6 {group_id}/{child.tag}: store says {child.state.value} filled {child.filled_quantity}, "
                    "the exchange has no order under this tag"
                )
            continue
        last = orders[-1]
        expected = _EXCHANGE_TERMINAL.get(last.status)
        if expected is not None and settled and child.state is not expected:
            out.append(
                f"I6 {group_id}/{child.tag}: exchange says {last.status} filled {last.filled_quantity}, "
                f"store says {child.state.value} filled {child.filled_quantity}"
            )
        if settled and child.state not in CHILD_TERMINAL:
            out.append(
                f"I6 {group_id}/{child.tag}: group settled with the child still {child.state.value} "
                f"(exchange: {last.status})"
            )
    return out


def _ledger_orders_belong_to_groups(store: Store, exchange: Exchange, group_ids: set[str]) -> list[str]:
    """I3 over the whole ledger, and I8: every order of ours traces back to an accepted group."""
    out = []
    seen: dict[str, str] = {}
    for order in exchange.all_orders():
        tag = order.tag or ""
        if not tag.startswith("LG"):
            continue
        if tag in seen:
            out.append(f"I3 tag {tag}: orders {seen[tag]} and {order.order_id} at the exchange")
        seen[tag] = order.order_id
        intent = store.intent(tag)
        if intent is not None and intent.get("group_id") not in group_ids:
            out.append(
                f"I8 order {order.order_id} tag {tag}: its intent names group {intent.get('group_id')} "
                "that the gate never accepted"
            )
    return out


def _acknowledged_groups_kept(store: Store, accepted: Mapping[str, str]) -> list[str]:
    """Nothing acknowledged is lost: an acknowledged group is in the store under its key."""
    out = []
    for key, group_id in sorted(accepted.items()):
        record = group_record(store, group_id)
        if record is None:
            out.append(f"ack {key}: group {group_id} was acknowledged but is not in the store")
        elif record.spec.idempotency_key != key:
            out.append(f"ack {key}: group {group_id} carries key {record.spec.idempotency_key}")
        found = store.idempotency(key)
        if found is None or found.get("group_id") != group_id:
            out.append(f"ack {key}: idempotency record {found} does not name group {group_id}")
    return out


def _denials_left_nothing(
    store: Store, group_ids: list[str], accepted: Mapping[str, str], denials: Iterable[Denial]
) -> list[str]:
    """I12 (and the bad-input table): denied with the right code, nothing persisted, nothing sent."""
    out = []
    keys_of_groups = {}
    for group_id in group_ids:
        record = group_record(store, group_id)
        if record is not None:
            keys_of_groups.setdefault(record.spec.idempotency_key, []).append(group_id)
    for key, found in sorted(keys_of_groups.items()):
        if len(found) > 1:
            out.append(f"I12 key {key}: {len(found)} groups {found} under one idempotency key")
    for denial in denials:
        if denial.code is None:
            out.append(f"I12 {denial.key} ({denial.kind}): bad input was accepted")
            continue
        if denial.code != denial.expected_code:
            out.append(f"I12 {denial.key} ({denial.kind}): denied with {denial.code}, expected {denial.expected_code}")
        if denial.conflict_with is not None:
            original = accepted.get(denial.conflict_with)
            stored = store.idempotency(denial.conflict_with)
            if stored is not None and original is not None and stored.get("group_id") != original:
                out.append(f"I12 {denial.key}: the conflicting request rebound key {denial.conflict_with}")
            continue
        if store.idempotency(denial.key) is not None:
            out.append(f"I12 {denial.key} ({denial.kind}): denied but an idempotency record was written")
        if denial.key in keys_of_groups:
            out.append(f"I12 {denial.key} ({denial.kind}): denied but group {keys_of_groups[denial.key]} exists")
    return out


def check_kill_switch(
    store: Store,
    exchange: Exchange,
    changes: list[tuple[float, str]],
    order_times: Mapping[str, list[tuple[float, str]]],
    accepted_at: Mapping[str, float],
    *,
    cancel_within_s: float = 1.0,
) -> list[str]:
    """I9 over the kill switch's acknowledged changes, all on the monotonic clock (a wall-clock jump must
    not move a window): no entry order reaches the exchange while it is engaged, every entry working when
    it engaged is cancel-requested (or done) within `cancel_within_s`, and no group is accepted meanwhile.

    `changes`: (time the operator was answered, trading state); `order_times`: order id -> [(time, status)];
    `accepted_at`: group id -> time its intent was first committed."""
    windows = _engaged_windows(changes)
    if not windows:
        return []
    out = []
    for order in exchange.ledger.iter_orders():
        tag = order.request.tag
        intent = store.intent(tag) if tag.startswith("LG") else None
        history = order_times.get(order.order_id, [])
        if intent is None or intent.get("purpose") != "entry" or not history:
            continue
        placed = history[0][0]
        for start, end in windows:
            if start < placed < end:
                out.append(
                    f"I9 entry {tag} reached the exchange at t={placed:.3f}, the kill switch engaged at t={start:.3f}"
                )
            elif placed < start and not any(s in _DONE for t, s in history if t <= start):
                # Strictly before: within one virtual instant the order of events is not in the stamps.
                # A cancel requested before it engaged counts too; ties are the same instant.
                first = min((t for t, s in history if s in _CANCELLING), default=float("inf"))
                if first > start + cancel_within_s:
                    out.append(
                        f"I9 entry {tag} working when the kill switch engaged (t={start:.3f}) was not "
                        f"cancel-requested within {cancel_within_s}s (first at t={first:.3f})"
                    )
    for group_id, ts in sorted(accepted_at.items()):
        if any(start < ts < end for start, end in windows):
            out.append(f"I9 group {group_id} accepted at t={ts:.3f} while the kill switch was engaged")
    return out


def _engaged_windows(changes: list[tuple[float, str]]) -> list[tuple[float, float]]:
    """(engaged, released) intervals from the kill switch's durable changes; the last may stay open."""
    windows: list[tuple[float, float]] = []
    engaged_at: float | None = None
    for ts, state in changes:
        if state == "HALTED" and engaged_at is None:
            engaged_at = ts
        elif state != "HALTED" and engaged_at is not None:
            windows.append((engaged_at, ts))
            engaged_at = None
    if engaged_at is not None:
        windows.append((engaged_at, float("inf")))
    return windows


_DONE = ("COMPLETE", "CANCELLED", "REJECTED")
_CANCELLING = (*_DONE, "CANCEL PENDING")
