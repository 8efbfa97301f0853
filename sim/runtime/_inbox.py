"""An actor's inbox, which is also its place in the scheduler.

pykka's loop calls `get()` for the next envelope. Here `get()` always hands control back to the
scheduler first, so that every delivery is a seeded scheduling choice, and it only returns when
the scheduler picks this actor again.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

from greenlet import GreenletExit, greenlet

from sim.runtime._future import SimFuture
from sim.trace import render

if TYPE_CHECKING:
    import pykka
    from pykka._envelope import Envelope

    from sim.runtime._runtime import SimRuntime

# Where an actor's greenlet stands. Only NEW, READY and a set future make it runnable.
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
    __slots__ = ("sim_inbox",)


class SimInbox:
    __slots__ = (
        "delivered",
        "greenlet",
        "handling",
        "name",
        "queue",
        "ref",
        "runtime",
        "seq",
        "state",
        "wait_timer",
        "waiting_on",
    )

    def __init__(self, runtime: SimRuntime) -> None:
        self.runtime = runtime
        self.seq = runtime._allocate_seq()  # the scheduler orders runnable actors by this, never by id()
        self.name = f"actor#{self.seq}"
        self.queue: deque[Envelope[Any]] = deque()
        self.state = NEW
        self.greenlet: ActorGreenlet | None = None
        self.ref: pykka.ActorRef[Any] | None = None
        self.waiting_on: SimFuture[Any] | None = None
        self.wait_timer: Any = None
        self.handling: Any = None  # the message being handled, for deadlock reports
        self.delivered = 0

    def put(self, envelope: Envelope[Any], /) -> None:
        if self.state == DISCARDED:
            return  # a crashed process's inbox takes nothing
        self.queue.append(envelope)
        reply_to = envelope.reply_to
        if isinstance(reply_to, SimFuture):
            # Who will set the reply, and to what: this is how waits are followed to find cycles.
            reply_to._sim_setter = self
            reply_to._sim_request = envelope.message
        if self.state == IDLE:
            self.runtime._make_ready(self)

    def get(self) -> Envelope[Any]:
        runtime = self.runtime
        if self.queue:
            runtime._make_ready(self)
        else:
            self.state = IDLE
        self.park()
        envelope = self.queue.popleft()
        self.state = RUNNING
        self.handling = envelope.message
        self.delivered += 1
        # Rendered here, so the recorder's generic field rendering is skipped on the hot path.
        runtime.trace.record("deliver", repr(runtime.clock.monotonic()), self.name, render(envelope.message))
        return envelope

    def empty(self) -> bool:
        return not self.queue

    def park(self) -> None:
        """Hand control to the scheduler until it picks this actor again."""
        loop = self.runtime._loop_greenlet
        assert loop is not None, "an actor runs only while its runtime's scheduler does"
        try:
            loop.switch()
        except GreenletExit:
            # The greenlet is being collected (its runtime was dropped without shutdown or
            # crash): unwind as a crash does, without running handlers.
            self.state = DISCARDED
            raise Discarded from None
        if self.state == DISCARDED:
            raise Discarded
