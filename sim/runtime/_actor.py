"""pykka's three runtime hooks, implemented on greenlets under one scheduler.

`SimRuntime.bind` puts this class after the actor's own class in the MRO and sets `_sim_runtime`,
`_sim_scheduler` and `_sim_future` on the bound class: pykka calls the hooks on the class
(`ActorRef.ask` does `actor_class._create_future()`), so that is where the runtime must be.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, ClassVar

import pykka

from sim.runtime._inbox import SimInbox
from sim.runtime._states import DISCARDED, RUNNING, Discarded

if TYPE_CHECKING:
    from sim.runtime._future import SimFuture
    from sim.runtime._runtime import SimRuntime
    from sim.runtime._scheduler import Scheduler


class SimActorBase(pykka.Actor):
    _sim_runtime: ClassVar[SimRuntime]
    _sim_scheduler: ClassVar[Scheduler]
    _sim_future: ClassVar[type[SimFuture[Any]]]
    actor_inbox: SimInbox

    # pykka declares the two factories static; a classmethod is called the same way and can
    # reach the runtime on the bound class.
    @classmethod
    def _create_actor_inbox(cls) -> SimInbox:
        return SimInbox(cls._sim_scheduler)

    @classmethod
    def _create_future(cls) -> SimFuture[Any]:
        return cls._sim_future()

    def _start_actor_loop(self) -> None:
        self._sim_scheduler.start(self)

    def _stop(self) -> None:
        if self.actor_inbox.state == DISCARDED:
            # pykka catches the Discarded unwinding a crashed actor as a BaseException and stops
            # here: leave before on_stop, and before it stops every other actor.
            raise Discarded
        exc = sys.exc_info()[1]
        if isinstance(exc, KeyboardInterrupt):
            # Ctrl-C lands in whichever greenlet runs; threaded, it would reach the main thread,
            # which is the driver. pykka still stops everything; the driver gets it too.
            self._sim_scheduler.raise_later(exc)
        super()._stop()

    def _handle_failure(self, *exc_info: Any) -> None:
        if self.actor_inbox.state == DISCARDED:
            # A handler turned the unwinding into an ordinary exception: leave before pykka calls
            # on_failure with it.
            raise Discarded
        super()._handle_failure(*exc_info)


def run_actor_loop(actor: SimActorBase) -> None:
    """The body of an actor's greenlet."""
    inbox = actor.actor_inbox
    inbox.state = RUNNING
    scheduler = inbox.scheduler
    # When on_start runs is a scheduling choice with effects, as a delivery is.
    scheduler.trace.record("start", repr(scheduler.clock.monotonic()), inbox.name)
    try:
        actor._actor_loop()
    except Discarded:
        pass  # crashed: nothing of this actor may run, and there is no one to tell
    finally:
        scheduler.forget(inbox)


def is_unbound_actor_class(actor_class: type[Any]) -> bool:
    """A legguard actor class derives from pykka.Actor and implements none of its runtime hooks."""
    return (
        isinstance(actor_class, type)
        and issubclass(actor_class, pykka.Actor)
        and actor_class._create_future is pykka.Actor._create_future
        and actor_class._start_actor_loop is pykka.Actor._start_actor_loop
    )
