"""Reading the broker from an actor: through the gateway, the only caller of the broker."""

from __future__ import annotations

from typing import Any

from actors.messages import BrokerRead
from runtime.actors import new_future
from supervision.context import ActorContext


def read_broker(ctx: ActorContext, method: str, *args: Any, timeout: float = 10.0, **kwargs: Any) -> Any:
    """Ask the gateway to call `broker.<method>(*args, **kwargs)` and wait for the answer."""
    future = new_future(ctx.runtime)
    ctx.directory.tell("gateway", BrokerRead(method, args, kwargs, future))
    return future.get(timeout=timeout)
