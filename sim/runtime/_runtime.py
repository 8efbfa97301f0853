"""SimRuntime: legguard's actors on greenlets under one seeded scheduler and a virtual clock.

The scheduler runs in whichever greenlet drives it (the test or the simulator's main loop, outside
every actor): it picks one runnable actor with the "scheduler" random stream and switches to it;
the actor runs until it parks (it wants its next message, or it waits on a future). With nothing
runnable, the clock jumps to the next timer and fires it. With no timer either, the run is
quiescent. A run is therefore a pure function of the seed.
"""

from __future__ import annotations

import itertools
import logging
import threading
from bisect import insort
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

import pykka
from greenlet import getcurrent, greenlet

from runtime.rng import RandomStreams
from sim.clock import VirtualClock, VirtualTimer
from sim.runtime._actor import SimActorBase, is_unbound_actor_class, run_actor_loop
from sim.runtime._errors import DeadlockError, ProcessCrashed, RuntimeStepLimit, SimRuntimeError
from sim.runtime._future import SimFuture
from sim.runtime._inbox import DEAD, DISCARDED, READY, RUNNING, WAITING, ActorGreenlet, Discarded, SimInbox
from sim.runtime._waits import describe_blocked, describe_busiest, describe_future, describe_wait, find_cycle
from sim.trace import TraceRecorder

A = TypeVar("A", bound=pykka.Actor)

log = logging.getLogger("sim.runtime")

MARKET_OPEN_2026_11_03 = 1_793_680_200.0  # Tue 3 Nov 2026 10:00 IST, NSE in its regular session
DEFAULT_MAX_STEPS = 10_000_000

# How one drive of the scheduler ended.
_DONE, _QUIESCENT, _TIMEOUT = range(3)


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
        self.max_steps_per_wait = max_steps_per_wait
        self.steps = 0  # scheduler steps over the runtime's life: deliveries, wake-ups, timers
        self.crashes = 0
        self.timer_errors = 0
        self._pick = self.rng.stream("scheduler").random
        self._seqs = itertools.count()
        self._live: dict[int, SimInbox] = {}  # by spawn sequence; dicts keep insertion order
        self._ready: list[int] = []  # sequence numbers of runnable actors, sorted
        self._bound: dict[type[Any], type[Any]] = {}
        self._future_class: type[SimFuture[Any]] = type("SimFuture", (SimFuture,), {"_runtime": self})
        self._loop_greenlet: greenlet | None = None  # the greenlet running the scheduler now
        self._depth = 0  # scheduler drives in progress (a timer may wait, which drives again)
        self._pending: BaseException | None = None  # raised to the driver after the current step
        self._thread_id = threading.get_ident()
        self._zombies: list[greenlet] = []

    # -- ActorRuntime ---------------------------------------------------------------------------

    def bind(self, actor_class: type[A]) -> type[A]:
        bound = self._bound.get(actor_class)
        if bound is None:
            if not is_unbound_actor_class(actor_class):
                raise TypeError(f"{actor_class!r} must derive from pykka.Actor without a runtime")
            namespace = {
                "_sim_runtime": self,
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
        """Run the scheduler until `future` is set; `timeout` is virtual seconds."""
        return future.get(timeout=timeout)

    # -- driving --------------------------------------------------------------------------------

    def future(self) -> SimFuture[Any]:
        """A bare future of this runtime, for a driver or a timer to set."""
        return self._future_class()

    def run_until(
        self, predicate: Callable[[], bool], *, timeout: float, max_steps: int = DEFAULT_MAX_STEPS
    ) -> bool:
        """Run until `predicate()` holds (checked before every step): True, or False after `timeout`."""
        deadline = self.clock.monotonic() + timeout
        outcome = self._drive(predicate, deadline, max_steps)
        if outcome == _QUIESCENT:
            self._advance_to(deadline)  # nothing can happen: the wait passes uneventfully
        return outcome == _DONE

    def run_for(self, seconds: float, *, max_steps: int = DEFAULT_MAX_STEPS) -> None:
        """Run everything due within the next `seconds`; the clock ends exactly there."""
        deadline = self.clock.monotonic() + seconds
        if self._drive(_never, deadline, max_steps) == _QUIESCENT:
            self._advance_to(deadline)

    def run_until_idle(self, *, max_virtual_s: float = 3600.0, max_steps: int = DEFAULT_MAX_STEPS) -> bool:
        """Run until nothing is runnable and no timer is pending: True, or False after `max_virtual_s`."""
        return self._drive(_never, self.clock.monotonic() + max_virtual_s, max_steps) == _QUIESCENT

    def blocked(self) -> list[str]:
        """One line per actor parked on a future: who, handling what, waiting for whom."""
        return describe_blocked(self._live.values())

    def actor_names(self) -> list[str]:
        """The trace names of this runtime's actors whose greenlet has not ended, in spawn order."""
        return [inbox.name for inbox in self._live.values()]

    # -- process lifecycle ----------------------------------------------------------------------

    def crash(self, *, keep_timers: Callable[[VirtualTimer], bool] | None = None) -> None:
        """Simulate a process crash: every actor vanishes mid-step, with no handler run.

        Inboxes and pending timers are dropped (`keep_timers` spares timers that belong to another
        process, such as the exchange's); the clock keeps its time; the refs are dead and
        unregistered. The runtime can then spawn the actors of the real startup path. Called
        from inside the run (an actor at a fault-injection point, a timer), the caller's own
        step ends at once and the driver's run raises ProcessCrashed.
        """
        caller = self._own_inbox(getcurrent())
        victims = list(self._live.values())
        for inbox in victims:
            self._discard(inbox)
        self._ready.clear()
        self._live.clear()
        for inbox in victims:
            if inbox is not caller:
                self._unwind(inbox)
        self.clock.cancel_pending(keep_timers)
        self.crashes += 1
        self.trace.record("crash", self.clock.monotonic(), len(victims))
        if self._depth and self._pending is None:
            self._pending = ProcessCrashed(f"process crashed at t={self.clock.monotonic()!r}")
        if caller is not None:
            raise Discarded

    def shutdown(self, *, timeout: float = 60.0) -> list[str]:
        """Stop every actor the pykka way, one at a time, last spawned first.

        Each actor gets `timeout` virtual seconds to stop. Returns the names of those that did
        not (blocked, deadlocked); they are discarded as by a crash, so nothing stays registered.
        """
        for inbox in reversed(list(self._live.values())):
            if inbox.ref is not None and inbox.ref.is_alive():
                inbox.ref.stop(block=False)
            try:
                self.run_until(partial(_has_ended, inbox), timeout=timeout)
            except DeadlockError:
                break  # the stuck actors are discarded below
        stuck = list(self._live.values())
        for inbox in stuck:
            self._discard(inbox)
        self._ready.clear()
        self._live.clear()
        for inbox in stuck:
            self._unwind(inbox)
        return [inbox.name for inbox in stuck]

    # -- the scheduler --------------------------------------------------------------------------

    def _drive(self, done: Callable[[], bool], deadline: float | None, max_steps: int) -> int:
        current = self._enter_driver()
        outer = self._loop_greenlet
        self._loop_greenlet = current
        self._depth += 1
        try:
            return self._loop(current, done, deadline, max_steps)
        finally:
            self._loop_greenlet = outer
            self._depth -= 1

    def _loop(
        self, current: greenlet, done: Callable[[], bool], deadline: float | None, max_steps: int
    ) -> int:
        ready, live, clock, pick = self._ready, self._live, self.clock, self._pick
        steps = 0
        try:
            while not done():
                if steps >= max_steps:
                    raise RuntimeStepLimit(self._describe_livelock(steps))
                steps += 1
                if ready:
                    count = len(ready)
                    inbox = live[ready.pop(int(pick() * count)) if count > 1 else ready.pop()]
                    runner = inbox.greenlet
                    assert runner is not None
                    if runner.parent is not current:
                        runner.parent = current  # a greenlet that ends returns to its parent
                    runner.switch()
                else:
                    when = clock.next_deadline()
                    if when is None:
                        return _QUIESCENT
                    if deadline is not None and when > deadline:
                        self._advance_to(deadline)
                        return _TIMEOUT
                    self._fire_next_timer()
                if self._pending is not None:
                    pending, self._pending = self._pending, None
                    raise pending
            return _DONE
        finally:
            self.steps += steps

    def _fire_next_timer(self) -> None:
        try:
            self.clock.fire_next()
        except SimRuntimeError:
            raise
        except Exception as exc:
            # As SystemClock does: one failing callback (a tell to a stopped actor) must not end
            # the run. It is traced, so it is part of what a seed replays.
            self.timer_errors += 1
            self.trace.record("timer_error", self.clock.monotonic(), type(exc).__name__)
            log.exception("timer callback failed")

    def _advance_to(self, deadline: float) -> None:
        now = self.clock.monotonic()
        if deadline > now:
            self.clock.advance(deadline - now)

    def _enter_driver(self) -> greenlet:
        if threading.get_ident() != self._thread_id:
            raise RuntimeError("a SimRuntime runs only on the thread that created it")
        current = getcurrent()
        if self._own_inbox(current) is not None:
            raise RuntimeError("an actor cannot drive its own runtime; Future.get() parks it instead")
        return current

    def _describe_livelock(self, steps: int) -> str:
        runnable = [self._live[seq].name for seq in self._ready]
        lines = [
            f"{steps} scheduler steps at t={self.clock.monotonic()!r} without reaching the goal",
            f"runnable: {', '.join(runnable) or 'none'}",
            f"deliveries so far: {describe_busiest(self._live.values())}",
            *self.blocked(),
            *self.trace.last()[-20:],
        ]
        return "\n".join(lines)

    # -- called by the inboxes, futures and actors of this runtime -------------------------------

    def _allocate_seq(self) -> int:
        return next(self._seqs)

    def _make_ready(self, inbox: SimInbox) -> None:
        inbox.state = READY
        insort(self._ready, inbox.seq)

    def _start(self, actor: SimActorBase) -> None:
        if threading.get_ident() != self._thread_id:
            raise RuntimeError("a SimRuntime runs only on the thread that created it")
        inbox = actor.actor_inbox
        address = getattr(actor, "actor_address", None)
        inbox.name = str(address) if address is not None else f"{type(actor).__name__}#{inbox.seq}"
        inbox.ref = actor.actor_ref
        runner = ActorGreenlet(run=partial(run_actor_loop, actor), parent=self._loop_greenlet or getcurrent())
        runner.sim_inbox = inbox
        inbox.greenlet = runner
        self._live[inbox.seq] = inbox
        self._make_ready(inbox)
        self.trace.record("spawn", self.clock.monotonic(), inbox.name)

    def _forget(self, inbox: SimInbox) -> None:
        if inbox.state != DISCARDED:
            inbox.state = DEAD
        self._live.pop(inbox.seq, None)

    def _own_inbox(self, current: greenlet) -> SimInbox | None:
        inbox: SimInbox | None = getattr(current, "sim_inbox", None)
        return inbox if inbox is not None and inbox.runtime is self else None

    def _await(self, future: SimFuture[Any], timeout: float | None) -> None:
        if timeout is not None and timeout <= 0:
            raise pykka.Timeout(f"{timeout} seconds")  # as ThreadingFuture: no wait at all
        inbox = self._own_inbox(getcurrent())
        if inbox is not None:
            self._park_on(inbox, future, timeout)
        else:
            self._drive_until_set(future, timeout)

    def _park_on(self, inbox: SimInbox, future: SimFuture[Any], timeout: float | None) -> None:
        if future._sim_waiters is None:
            future._sim_waiters = [inbox]
        else:
            future._sim_waiters.append(inbox)
        inbox.state = WAITING
        inbox.waiting_on = future
        if timeout is None:
            inbox.wait_timer = None
            cycle = find_cycle(inbox, len(self._live) + 1)
            if cycle is not None:
                self._pending = DeadlockError("ask cycle:\n" + "\n".join(map(describe_wait, cycle)))
        else:
            inbox.wait_timer = self.clock.call_later(timeout, self._expire_wait, inbox, future)
        inbox.park()
        inbox.state = RUNNING
        inbox.waiting_on = None
        if future._sim_result is None:  # woken by the timer
            assert future._sim_waiters is not None
            future._sim_waiters.remove(inbox)
            self.trace.record("timeout", self.clock.monotonic(), inbox.name)
            raise pykka.Timeout(f"{timeout} seconds")
        if inbox.wait_timer is not None:
            inbox.wait_timer.cancel()

    def _expire_wait(self, inbox: SimInbox, future: SimFuture[Any]) -> None:
        if inbox.state == WAITING and inbox.waiting_on is future:
            self._make_ready(inbox)

    def _wake(self, future: SimFuture[Any]) -> None:
        assert future._sim_waiters is not None
        for inbox in future._sim_waiters:
            if inbox.state == WAITING and inbox.waiting_on is future:
                self._make_ready(inbox)
        future._sim_waiters = None

    def _drive_until_set(self, future: SimFuture[Any], timeout: float | None) -> None:
        deadline = None if timeout is None else self.clock.monotonic() + timeout
        outcome = self._drive(future.done, deadline, self.max_steps_per_wait)
        if outcome == _TIMEOUT:
            raise pykka.Timeout(f"{timeout} seconds")
        if outcome == _QUIESCENT:
            lines = [
                f"nothing can run at t={self.clock.monotonic()!r} and the driver waits for "
                f"{describe_future(future)}",
                *self.blocked(),
            ]
            raise DeadlockError("\n".join(lines))

    def _raise_in_driver(self, exc: BaseException) -> None:
        if not isinstance(self._pending, KeyboardInterrupt):
            self._pending = exc

    def _discard(self, inbox: SimInbox) -> None:
        inbox.state = DISCARDED
        inbox.queue.clear()
        if inbox.ref is not None:
            inbox.ref.actor_stopped.set()
            pykka.ActorRegistry.unregister(inbox.ref)

    def _unwind(self, inbox: SimInbox) -> None:
        """End a discarded actor's greenlet now, so that nothing of it runs later.

        Left parked, it would be unwound whenever it is garbage collected, in the middle of some
        later run. Unwinding runs `finally` blocks of the frames it was in; no handler runs.
        """
        runner = inbox.greenlet
        if runner is None or runner.dead or not runner:
            return  # never started (dropping it runs nothing) or already ended
        current = getcurrent()
        outer = self._loop_greenlet
        self._loop_greenlet = current  # where it parks if a handler swallows the unwinding
        try:
            for _ in range(3):
                runner.parent = current
                runner.throw(Discarded)
                if runner.dead:
                    return
        finally:
            self._loop_greenlet = outer
        log.error("%s swallowed its crash; its greenlet is kept so it never resumes", inbox.name)
        self._zombies.append(runner)
