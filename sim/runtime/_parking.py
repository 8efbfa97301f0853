"""Waiting on a SimFuture: an actor parks its greenlet, the driver runs the scheduler.

A parked actor is woken by the future being set or by a virtual-time timer for its timeout.
An actor that parks without a timeout on an ask that leads, ask by ask, back to itself will never
be woken: that is reported as a deadlock at once, not when the run goes quiet.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pykka
from greenlet import getcurrent

from sim.runtime._errors import DeadlockError
from sim.runtime._states import RUNNING, WAITING
from sim.runtime._waits import describe_future, describe_wait, find_cycle

if TYPE_CHECKING:
    from sim.runtime._future import SimFuture
    from sim.runtime._inbox import SimInbox
    from sim.runtime._scheduler import Scheduler


def await_future(future: SimFuture[Any], timeout: float | None) -> None:
    """Return once `future` is set; raise pykka.Timeout after `timeout` virtual seconds."""
    if timeout is not None and timeout <= 0:
        raise pykka.Timeout(f"{timeout} seconds")  # as ThreadingFuture: no wait at all
    scheduler = future._scheduler
    inbox = scheduler.own_inbox(getcurrent())
    if inbox is not None:
        _park_on(scheduler, inbox, future, timeout)
    else:
        _drive_until_set(scheduler, future, timeout)


def wake(future: SimFuture[Any]) -> None:
    """Make the actors parked on `future` runnable: it has just been set."""
    assert future._sim_waiters is not None
    for inbox in future._sim_waiters:
        if inbox.state == WAITING and inbox.waiting_on is future:
            inbox.scheduler.make_ready(inbox)
    future._sim_waiters = None


def _park_on(scheduler: Scheduler, inbox: SimInbox, future: SimFuture[Any], timeout: float | None) -> None:
    if future._sim_waiters is None:
        future._sim_waiters = [inbox]
    else:
        future._sim_waiters.append(inbox)
    inbox.state = WAITING
    inbox.waiting_on = future
    if timeout is None:
        inbox.wait_timer = None
        cycle = find_cycle(inbox, len(scheduler.live) + 1)
        if cycle is not None:
            scheduler.raise_later(DeadlockError("ask cycle:\n" + "\n".join(map(describe_wait, cycle))))
    else:
        inbox.wait_timer = scheduler.clock.call_later(timeout, _expire, inbox, future)
    inbox.park()
    inbox.state = RUNNING
    inbox.waiting_on = None
    if future._sim_result is None:  # woken by the timer
        assert future._sim_waiters is not None
        future._sim_waiters.remove(inbox)
        scheduler.trace.record("timeout", scheduler.clock.monotonic(), inbox.name)
        raise pykka.Timeout(f"{timeout} seconds")
    if inbox.wait_timer is not None:
        inbox.wait_timer.cancel()


def _expire(inbox: SimInbox, future: SimFuture[Any]) -> None:
    if inbox.state == WAITING and inbox.waiting_on is future:
        inbox.scheduler.make_ready(inbox)


def _drive_until_set(scheduler: Scheduler, future: SimFuture[Any], timeout: float | None) -> None:
    deadline = None if timeout is None else scheduler.clock.monotonic() + timeout
    outcome = scheduler.drive(future.done, deadline, scheduler.max_steps_per_wait)
    if outcome == "timeout":
        raise pykka.Timeout(f"{timeout} seconds")
    if outcome == "quiescent":
        lines = [
            f"nothing can run at t={scheduler.clock.monotonic()!r} and the driver waits for {describe_future(future)}",
            *scheduler.blocked(),
        ]
        raise DeadlockError("\n".join(lines))
