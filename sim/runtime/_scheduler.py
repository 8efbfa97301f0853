"""The scheduler: which actor greenlet runs next, and when virtual time moves.

It runs in whichever greenlet drives it (the test or the simulator's main loop, outside every
actor). Each step picks one runnable actor with the seeded "scheduler" stream, among the runnable
ones ordered by spawn sequence, and switches to it; the actor runs until it parks (for its next
message, or on a future). With nothing runnable, the clock jumps to the next timer and fires it.
With no timer either, the run is quiescent.
"""

from __future__ import annotations

import itertools
import logging
import threading
from bisect import insort
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Literal

from greenlet import getcurrent, greenlet

from sim.runtime._actor import run_actor_loop
from sim.runtime._errors import RuntimeStepLimit, SimRuntimeError
from sim.runtime._states import DEAD, DISCARDED, READY, ActorGreenlet
from sim.runtime._waits import describe_blocked, describe_busiest

if TYPE_CHECKING:
    from sim.clock import VirtualClock
    from sim.runtime._actor import SimActorBase
    from sim.runtime._inbox import SimInbox
    from sim.trace import TraceRecorder

log = logging.getLogger("sim.runtime")

Outcome = Literal["done", "quiescent", "timeout"]


class Scheduler:
    def __init__(
        self, clock: VirtualClock, trace: TraceRecorder, pick: Callable[[], float], max_steps_per_wait: int
    ) -> None:
        self.clock = clock
        self.trace = trace
        self.max_steps_per_wait = max_steps_per_wait
        self.steps = 0  # over the scheduler's life: deliveries, wake-ups, timers fired
        self.timer_errors = 0
        self.live: dict[int, SimInbox] = {}  # actors whose greenlet has not ended, by spawn sequence
        self.loop_greenlet: greenlet | None = None  # the greenlet running the scheduler now
        self._pick = pick
        self._seqs = itertools.count()
        self._ready: list[int] = []  # sequence numbers of runnable actors, sorted
        self._depth = 0  # drives in progress: a timer callback may wait, which drives again
        self._pending: BaseException | None = None  # raised to the driver after the current step
        self._thread_id = threading.get_ident()

    # -- actors ---------------------------------------------------------------------------------

    def allocate_seq(self) -> int:
        return next(self._seqs)

    def make_ready(self, inbox: SimInbox) -> None:
        inbox.state = READY
        insort(self._ready, inbox.seq)

    def start(self, actor: SimActorBase) -> None:
        self._check_thread()
        inbox = actor.actor_inbox
        address = getattr(actor, "actor_address", None)
        inbox.name = str(address) if address is not None else f"{type(actor).__name__}#{inbox.seq}"
        inbox.ref = actor.actor_ref
        runner = ActorGreenlet(run=partial(run_actor_loop, actor), parent=self.loop_greenlet or getcurrent())
        runner.sim_inbox = inbox
        inbox.greenlet = runner
        self.live[inbox.seq] = inbox
        self.make_ready(inbox)
        self.trace.record("spawn", self.clock.monotonic(), inbox.name)

    def forget(self, inbox: SimInbox) -> None:
        if inbox.state != DISCARDED:
            inbox.state = DEAD
        self.live.pop(inbox.seq, None)

    def forget_all(self) -> list[SimInbox]:
        """Stop scheduling every live actor; the caller discards them."""
        inboxes = list(self.live.values())
        self.live.clear()
        self._ready.clear()
        return inboxes

    def own_inbox(self, current: greenlet) -> SimInbox | None:
        """The inbox of the actor whose greenlet `current` is, if it is one of this scheduler's."""
        inbox: SimInbox | None = getattr(current, "sim_inbox", None)
        return inbox if inbox is not None and inbox.scheduler is self else None

    def blocked(self) -> list[str]:
        return describe_blocked(self.live.values())

    # -- driving --------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._depth > 0

    def raise_later(self, exc: BaseException) -> None:
        """Raise `exc` in the driver once the current step hands control back.

        The first reason stands, except that a Ctrl-C overrides anything else.
        """
        if self._pending is None or (
            isinstance(exc, KeyboardInterrupt) and not isinstance(self._pending, KeyboardInterrupt)
        ):
            self._pending = exc

    def drive(self, done: Callable[[], bool], deadline: float | None, max_steps: int) -> Outcome:
        """Step until `done()`, until nothing can happen, or until virtual time would pass `deadline`."""
        current = self._enter_driver()
        outer = self.loop_greenlet
        self.loop_greenlet = current
        self._depth += 1
        try:
            return self._loop(current, done, deadline, max_steps)
        finally:
            self.loop_greenlet = outer
            self._depth -= 1

    def advance_to(self, deadline: float) -> None:
        now = self.clock.monotonic()
        if deadline > now:
            self.clock.advance(deadline - now)

    def _loop(self, current: greenlet, done: Callable[[], bool], deadline: float | None, max_steps: int) -> Outcome:
        ready, live, clock, pick = self._ready, self.live, self.clock, self._pick
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
                        return "quiescent"
                    if deadline is not None and when > deadline:
                        self.advance_to(deadline)
                        return "timeout"
                    self._fire_next_timer()
                if self._pending is not None:
                    pending, self._pending = self._pending, None
                    raise pending
            return "done"
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

    def _enter_driver(self) -> greenlet:
        self._check_thread()
        current = getcurrent()
        if self.own_inbox(current) is not None:
            raise RuntimeError("an actor cannot drive its own runtime; Future.get() parks it instead")
        return current

    def _check_thread(self) -> None:
        if threading.get_ident() != self._thread_id:
            raise RuntimeError("a SimRuntime runs only on the thread that created it")

    def _describe_livelock(self, steps: int) -> str:
        runnable = [self.live[seq].name for seq in self._ready]
        lines = [
            f"{steps} scheduler steps at t={self.clock.monotonic()!r} without reaching the goal",
            f"runnable: {', '.join(runnable) or 'none'}",
            f"deliveries so far: {describe_busiest(self.live.values())}",
            *self.blocked(),
            *self.trace.last()[-20:],
        ]
        return "\n".join(lines)
