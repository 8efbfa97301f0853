"""What the API shows of a group: read from the store, which is what survives a crash."""

from __future__ import annotations

from typing import Any

from domain.execution import ChildPurpose, ChildRecord, LegRecord
from domain.plan import GroupRecord
from storage import keys
from storage.store import Store


def group_view(store: Store, group_id: str) -> dict[str, Any] | None:
    found = store.snapshot(keys.group_key(group_id))
    if found is None:
        return None
    record = GroupRecord.from_record(found[1])
    children = [ChildRecord.from_record(s.body) for s in store.scan_snapshots(keys.child_prefix(group_id))]
    legs_by_id = {
        s.body["leg_id"]: LegRecord.from_record(s.body) for s in store.scan_snapshots(keys.leg_prefix(group_id))
    }
    legs = []
    for spec in record.spec.legs:
        mine = [c for c in children if c.leg_id == spec.leg_id]
        filled = sum(c.filled_quantity for c in mine if c.purpose is ChildPurpose.ENTRY)
        reversed_qty = sum(c.filled_quantity for c in mine if c.purpose is not ChildPurpose.ENTRY)
        leg_record = legs_by_id.get(spec.leg_id)
        legs.append(
            {
                "leg_id": spec.leg_id,
                "tradingsymbol": spec.tradingsymbol,
                "side": spec.side.value,
                "role": spec.role.value,
                "intended": spec.quantity,
                "filled": filled,
                "reversed": reversed_qty,
                "state": leg_record.state.value if leg_record else "PENDING",
                "orders": [
                    {
                        "tag": c.tag,
                        "purpose": c.purpose.value,
                        "side": c.side.value,
                        "quantity": c.quantity,
                        "filled": c.filled_quantity,
                        "state": c.state.value,
                        "order_id": c.order_id,
                        "average_price": c.average_price,
                    }
                    for c in mine
                ],
            }
        )
    return {
        "group_id": group_id,
        "strategy": record.spec.strategy,
        "idempotency_key": record.spec.idempotency_key,
        "state": record.state.value,
        "phase": record.phase.value if record.phase else None,
        "outcome": record.outcome.value or None,
        "settled": record.settled,
        "failure_reason": record.failure_reason or None,
        "max_unhedged_ms": round(record.max_unhedged_s * 1000, 3),
        "legs": legs,
    }
