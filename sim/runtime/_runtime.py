"""SimRuntime: legguard's actors on greenlets under one seeded scheduler and a virtual clock.

The same actor classes as the service, bound to greenlets instead of threads. A run is a pure
function of the seed: the scheduler's choices come from the seed's "scheduler" stream, time moves
only from one timer to the next, and every delivery is hashed into the trace.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

import pykka
from greenlet import getcurrent

from runtime.rng import RandomStreams
from sim.clock import VirtualClock, VirtualTimer
from sim.runtime._actor import SimActorBase, is_unbound_actor_class
from sim.runtime._crash import drop
from sim.runtime._errors import DeadlockError, ProcessCrashed
from sim.runtime._future import SimFuture
from sim.runtime._inbox import SimInbox
from sim.runtime._scheduler import Scheduler
from sim.runtime._states import DEAD, DISCARDED, Discarded
from sim.trace import TraceRecorder

A = TypeVar("A", bound=pykka.Actor)

MARKET_OPEN_2026_11_03 = 1_793_680_200.0  # Tue 3 Nov 2026 10:00 IST, NSE in its regular session
DEFAULT_MAX_STEPS = 10_000_000


def _never() -> bool:
    return False


def _has_ended(inbox: SimInbox) -> bool:
    return inbox.state in (DEAD, DISCARDED)


class SimRuntime:
    """Implements `runtime.actors.ActorRuntime` deterministically; see the module docstring."""

    def __init__(
        self,
        seed: int,
        *,
        start: float = MARKET_OPEN_2026_11_03,
        clock: VirtualClock | None = None,
        keep_last: int = 0,
        max_steps_per_wait: int = DEFAULT_MAX_STEPS,
    ) -> None:
        self.seed = seed
        self.clock = clock if clock is not None else VirtualClock(start)
        self.rng = RandomStreams(seed)
        self.trace = TraceRecorder(keep_last=keep_last)
        self.crashes = 0
        self._scheduler = Scheduler(self.clock, self.trace, self.rng.stream("scheduler").random, max_steps_per_wait)
        self._future_class: type[SimFuture[Any]] = type("SimFuture", (SimFuture,), {"_scheduler": self._scheduler})
        self._bound: dict[type[Any], type[Any]] = {}

    @property
    def steps(self) -> int:
        """Scheduler steps so far: deliveries, wake-ups and timers fired."""
        return self._scheduler.steps

    @property
    def timer_errors(self) -> int:
        """Timer callbacks that raised (logged and traced; the run went on)."""
        return self._scheduler.timer_errors

    # -- ActorRuntime ---------------------------------------------------------------------------

    def bind(self, actor_class: type[A]) -> type[A]:
        bound = self._bound.get(actor_class)
        if bound is None:
            if not is_unbound_actor_class(actor_class):
                raise TypeError(f"{actor_class!r} must derive from pykka.Actor without a runtime")
            namespace = {
                "_sim_runtime": self,
                "_sim_scheduler": self._scheduler,
                "_sim_future": self._future_class,
                "__module__": actor_class.__module__,
                "__qualname__": actor_class.__qualname__,
            }
            # The actor's own methods come first in the MRO; SimActorBase only supplies the hooks.
            bound = type(actor_class.__name__, (actor_class, SimActorBase), namespace)
            self._bound[actor_class] = bound
        return bound

    def spawn(self, actor_class: type[A], *args: Any, **kwargs: Any) -> pykka.ActorRef[A]:
        return self.bind(actor_class).start(*args, **kwargs)

    def wait(self, future: pykka.Future[Any], timeout: float) -> Any:
        """Run the scheduler until `future` is set; `timeout` is in virtual seconds."""
        return future.get(timeout=timeout)

    # -- driving --------------------------------------------------------------------------------

    def future(self) -> SimFuture[Any]:
        """A bare future of this runtime, for the driver or a timer to set."""
        return self._future_class()

    def run_until(self, predicate: Callable[[], bool], *, timeout: float, max_steps: int = DEFAULT_MAX_STEPS) -> bool:
        """Run until `predicate()` holds (checked before every step): True, or False after `timeout`."""
        deadline = self.clock.monotonic() + timeout
        outcome = self._scheduler.drive(predicate, deadline, max_steps)
        if outcome == "quiescent":
            self._scheduler.advance_to(deadline)  # nothing can happen: the wait passes uneventfully
        return outcome == "done"

    def run_for(self, seconds: float, *, max_steps: int = DEFAULT_MAX_STEPS) -> None:
        """Run everything due within the next `seconds`; the clock ends exactly there."""
        deadline = self.clock.monotonic() + seconds
        if self._scheduler.drive(_never, deadline, max_steps) == "quiescent":
            self._scheduler.advance_to(deadline)

    def run_until_idle(self, *, max_virtual_s: float = 3600.0, max_steps: int = DEFAULT_MAX_STEPS) -> bool:
        """Run until nothing is runnable and no timer is pending: True, or False after `max_virtual_s`."""
        deadline = self.clock.monotonic() + max_virtual_s
        return self._scheduler.drive(_never, deadline, max_steps) == "quiescent"

    def blocked(self) -> list[str]:
        """One line per actor parked on a future: who, handling what, waiting for whom."""
        return self._scheduler.blocked()

    def actor_names(self) -> list[str]:
        """The trace names of the actors whose greenlet has not ended, in spawn order."""
        return [inbox.name for inbox in self._scheduler.live.values()]

    # -- process lifecycle ----------------------------------------------------------------------

    def crash(self, *, keep_timers: Callable[[VirtualTimer], bool] | None = None) -> None:
        """Simulate a process crash: every actor vanishes mid-step, and no pykka hook runs.

        Inboxes and pending timers are dropped (`keep_timers` spares timers that belong to another
        process, such as the exchange's); the clock keeps its time; the refs are dead and
        unregistered. The runtime can then spawn the actors of the real startup path. Called from
        inside the run (an actor at a fault-injection point, a timer callback), the caller's own
        step ends at once and the driver's run raises ProcessCrashed.
        """
        scheduler = self._scheduler
        caller = scheduler.own_inbox(getcurrent())
        victims = scheduler.forget_all()
        drop(scheduler, victims, caller=caller)
        self.clock.cancel_pending(keep_timers)
        self.crashes += 1
        self.trace.record("crash", self.clock.monotonic(), len(victims))
        if scheduler.running:
            scheduler.raise_later(ProcessCrashed(f"process crashed at t={self.clock.monotonic()!r}"))
        if caller is not None:
            raise Discarded

    def shutdown(self, *, timeout: float = 60.0) -> list[str]:
        """Stop every actor the pykka way, one at a time, last spawned first.

        Each actor gets `timeout` virtual seconds to stop. Returns the names of those that did not
        (blocked, deadlocked); they are discarded as by a crash, so nothing stays registered.
        """
        for inbox in reversed(list(self._scheduler.live.values())):
            if inbox.ref is not None and inbox.ref.is_alive():
                inbox.ref.stop(block=False)
            try:
                self.run_until(partial(_has_ended, inbox), timeout=timeout)
            except DeadlockError:
                break  # whatever has not stopped is discarded below
        stuck = self._scheduler.forget_all()
        drop(self._scheduler, stuck, caller=None)
        return [inbox.name for inbox in stuck]
