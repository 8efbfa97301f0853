"""What a simulated run raises to its driver when it cannot do what the driver asked."""

from __future__ import annotations


class SimRuntimeError(RuntimeError):
    """A simulated run stopped for a reason of the run itself, not of an actor's code."""


class DeadlockError(SimRuntimeError):
    """Actors wait on each other's asks, or the driver waits on a future nothing can set."""


class RuntimeStepLimit(SimRuntimeError):
    """The run took more scheduler steps than allowed: a livelock, or a budget set too low."""


class ProcessCrashed(SimRuntimeError):
    """`crash()` was called from inside the run (an actor or a timer).

    Every actor is gone; the driver runs the real startup path next.
    """
