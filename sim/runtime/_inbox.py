"""An actor's inbox, which is also its place in the scheduler.

pykka's loop calls `get()` for the next envelope. Here `get()` always hands control back to the
scheduler first, so that every delivery is a seeded scheduling choice, and it only returns when
the scheduler picks this actor again.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

from greenlet import GreenletExit

from sim.runtime._future import SimFuture
from sim.runtime._states import DISCARDED, IDLE, NEW, RUNNING, ActorGreenlet, Discarded
from sim.trace import render

if TYPE_CHECKING:
    import pykka
    from pykka._envelope import Envelope

    from sim.runtime._scheduler import Scheduler


class SimInbox:
    __slots__ = (
        "delivered",
        "greenlet",
        "handling",
        "name",
        "queue",
        "ref",
        "scheduler",
        "seq",
        "state",
        "wait_timer",
        "waiting_on",
    )

    def __init__(self, scheduler: Scheduler) -> None:
        self.scheduler = scheduler
        self.seq = scheduler.allocate_seq()  # runnable actors are ordered by this, never by id()
        self.name = f"actor#{self.seq}"  # set at start, from the actor's address or class
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
            self.scheduler.make_ready(self)

    def get(self) -> Envelope[Any]:
        scheduler = self.scheduler
        if self.queue:
            scheduler.make_ready(self)
        else:
            self.state = IDLE
        self.park()
        envelope = self.queue.popleft()
        self.state = RUNNING
        self.handling = envelope.message
        self.delivered += 1
        # Rendered here, so the recorder's generic field rendering is skipped on the hot path.
        now = repr(scheduler.clock.monotonic())
        scheduler.trace.record("deliver", now, self.name, render(envelope.message))
        return envelope

    def empty(self) -> bool:
        return not self.queue

    def park(self) -> None:
        """Hand control to the scheduler until it picks this actor again."""
        loop = self.scheduler.loop_greenlet
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
