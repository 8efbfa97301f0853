"""Building the batches actors hand to the writer."""

from __future__ import annotations

from typing import Any

from actors.messages import Commit
from domain.execution import ChildRecord
from storage import keys
from storage.batch import Batch


def child_batch(child: ChildRecord, *, with_intent: bool = False) -> Batch:
    batch = Batch().put_snapshot(keys.child_key(child.group_id, child.child_id), child.seq, child.to_record())
    if with_intent:
        batch = batch.put_intent(child.tag, intent_body(child))
    return batch


def intent_body(child: ChildRecord) -> dict[str, Any]:
    """What was meant by a tag, written once before the order can be sent."""
    return {
        "group_id": child.group_id,
        "leg_id": child.leg_id,
        "child_id": child.child_id,
        "purpose": child.purpose.value,
        "tradingsymbol": child.tradingsymbol,
        "side": child.side.value,
        "quantity": child.quantity,
        "order_type": child.order_type.value,
    }


def wait_for_writer(ctx: Any) -> None:
    """Block until every write queued before now is durable (what a restarted actor does first)."""
    from actors.messages import Barrier
    from runtime.actors import new_future

    future = new_future(ctx.runtime)
    ctx.directory.tell("writer", Barrier(future))
    future.get(timeout=ctx.settings.execution.writer_barrier_timeout_s)


def commit(batch: Batch, *then: tuple[str, Any], reply_to: str | None = None) -> Commit:
    return Commit(batch=batch, then=tuple(then), reply_to=reply_to)
