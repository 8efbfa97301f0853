"""Who waits for whom: finding ask cycles, and saying what is stuck when a run stops."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sim.runtime._states import WAITING
from sim.trace import render

if TYPE_CHECKING:
    from sim.runtime._future import SimFuture
    from sim.runtime._inbox import SimInbox


def find_cycle(waiter: SimInbox, limit: int) -> list[SimInbox] | None:
    """The actors on a cycle of asks through `waiter`, if every one waits without a timeout.

    Each actor on it is parked inside a handler, so none will take the ask the next one waits
    for: nothing but a timeout could break it, and there is none.
    """
    chain = [waiter]
    owner = _setter(waiter)
    for _ in range(limit):
        if owner is None:
            return None
        if owner is waiter:
            return chain
        if owner.state != WAITING or owner.wait_timer is not None:
            return None
        chain.append(owner)
        owner = _setter(owner)
    return None


def describe_future(future: SimFuture[Any]) -> str:
    setter = future._sim_setter
    if setter is None:
        return "a future no actor was asked to set"
    return f"{setter.name} to answer {render(future._sim_request)}"


def describe_wait(inbox: SimInbox) -> str:
    assert inbox.waiting_on is not None
    limit = "" if inbox.wait_timer is None else f" (timeout at t={inbox.wait_timer.when!r})"
    return f"{inbox.name}, handling {render(inbox.handling)}, waits for {describe_future(inbox.waiting_on)}{limit}"


def describe_blocked(inboxes: Iterable[SimInbox]) -> list[str]:
    return [describe_wait(inbox) for inbox in inboxes if inbox.state == WAITING]


def describe_busiest(inboxes: Iterable[SimInbox], top: int = 5) -> str:
    busiest = sorted(inboxes, key=lambda inbox: (-inbox.delivered, inbox.seq))[:top]
    return ", ".join(f"{inbox.name}={inbox.delivered}" for inbox in busiest) or "none"


def _setter(inbox: SimInbox) -> SimInbox | None:
    assert inbox.waiting_on is not None
    return inbox.waiting_on._sim_setter
