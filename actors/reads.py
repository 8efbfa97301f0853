"""Reading the broker from an actor: through the gateway, the only caller of the broker."""

from __future__ import annotations

from typing import Any

import pykka

from actors.messages import BrokerRead
from runtime.actors import new_future
from supervision.context import ActorContext

ATTEMPTS = 3


def read_broker(ctx: ActorContext, method: str, *args: Any, timeout: float = 10.0, **kwargs: Any) -> Any:
    """Ask the gateway to call `broker.<method>(*args, **kwargs)` and wait for the answer.

    A read is safe to repeat: if the gateway died with the request in its inbox (its successor never
    sees it), the read is sent again, up to ATTEMPTS times within `timeout` in all.
    """
    for attempt in range(1, ATTEMPTS + 1):
        future = new_future(ctx.runtime)
        ctx.directory.tell("gateway", BrokerRead(method, args, kwargs, future))
        try:
            return future.get(timeout=timeout / ATTEMPTS)
        except pykka.Timeout:
            if attempt == ATTEMPTS:
                raise
    raise AssertionError("unreachable")
