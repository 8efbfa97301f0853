"""Where an actor's greenlet stands, and how a crashed one is unwound."""

from __future__ import annotations

from typing import TYPE_CHECKING

from greenlet import greenlet

if TYPE_CHECKING:
    from sim.runtime._inbox import SimInbox

# Only NEW, READY and a set future (WAITING → READY) make an actor runnable.
NEW = 0  # started, its greenlet has not run yet (runnable)
READY = 1  # in the scheduler's runnable set
RUNNING = 2
IDLE = 3  # parked in get() on an empty inbox
WAITING = 4  # parked in Future.get() inside a handler
DEAD = 5  # its loop returned: stopped the pykka way
DISCARDED = 6  # dropped by crash(): nothing of it may run again


class Discarded(BaseException):
    """Unwinds the greenlet of an actor dropped by a crash.

    A BaseException so that handlers' `except Exception` do not catch it; the actor's `_stop`
    re-raises it so that pykka's stop-everything path for BaseExceptions does not run either.
    """

    # SupervisedActor contains BaseExceptions as ordinary failures, except an unwinding runtime's.
    legguard_unwind = True


class ActorGreenlet(greenlet):  # type: ignore[misc]
    """An actor loop's greenlet; `sim_inbox` tells the runtime whose context it is in."""

    __slots__ = ("sim_inbox",)
    sim_inbox: SimInbox
