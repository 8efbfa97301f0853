"""Dropping actors as a process crash does: dead at once, and nothing of them runs again."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import pykka
from greenlet import getcurrent, greenlet

from sim.runtime._states import DISCARDED, Discarded

if TYPE_CHECKING:
    from sim.runtime._inbox import SimInbox
    from sim.runtime._scheduler import Scheduler

log = logging.getLogger("sim.runtime")

# Greenlets whose handler swallowed the unwinding: kept referenced so that garbage collection
# never resumes them in the middle of a later run.
_zombies: list[greenlet] = []


def discard(inbox: SimInbox) -> None:
    """Make the actor dead to the world: refs refuse messages, the registry forgets it."""
    inbox.state = DISCARDED
    inbox.queue.clear()
    if inbox.ref is not None:
        inbox.ref.actor_stopped.set()
        pykka.ActorRegistry.unregister(inbox.ref)


def unwind(scheduler: Scheduler, inbox: SimInbox) -> None:
    """End a discarded actor's greenlet now.

    Left parked, it would be unwound whenever it is garbage collected, in the middle of some later
    run. Unwinding runs the `finally` blocks of the frames it was in; no pykka hook runs.
    """
    runner = inbox.greenlet
    if runner is None or runner.dead or not runner:
        return  # never started (dropping it runs nothing) or already ended
    current = getcurrent()
    outer = scheduler.loop_greenlet
    scheduler.loop_greenlet = current  # where it parks if a handler swallows the unwinding
    try:
        for _ in range(3):
            runner.parent = current
            runner.throw(Discarded)
            if runner.dead:
                return
    finally:
        scheduler.loop_greenlet = outer
    log.error("%s swallowed its crash; its greenlet is kept so that it never resumes", inbox.name)
    _zombies.append(runner)


def drop(scheduler: Scheduler, inboxes: list[SimInbox], *, caller: SimInbox | None) -> None:
    """Discard every one first (so none can reach another), then unwind all but the caller."""
    for inbox in inboxes:
        discard(inbox)
    for inbox in inboxes:
        if inbox is not caller:
            unwind(scheduler, inbox)
