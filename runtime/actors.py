"""Actor runtimes: how the same pykka actor classes are run.

An actor class in legguard derives from `pykka.Actor` (abstract) and never from a concrete runtime.
A runtime binds it: `ThreadRuntime` to `pykka.ThreadingActor` for the service, `sim.runtime.SimRuntime`
to greenlets under one seeded scheduler for the simulator. Both implement `ActorRuntime`.
"""

from __future__ import annotations

from typing import Any, Protocol, TypeVar

import pykka

from runtime.clock import Clock, SystemClock
from runtime.pool import ActorPool, DedicatedThreadActor, PooledActor
from runtime.rng import RandomStreams

A = TypeVar("A", bound=pykka.Actor)


class Trace(Protocol):
    def record(self, kind: str, *fields: object) -> None: ...


class NullTrace:
    """The service keeps no trace; the simulator hashes one."""

    def record(self, kind: str, *fields: object) -> None:
        return None


class ActorRuntime(Protocol):
    clock: Clock
    rng: RandomStreams
    trace: Trace

    def spawn(self, actor_class: type[A], *args: Any, **kwargs: Any) -> pykka.ActorRef[A]: ...

    def bind(self, actor_class: type[A]) -> type[A]: ...

    def wait(self, future: pykka.Future[Any], timeout: float) -> Any:
        """Wait for a future from outside any actor (tests, main): real time or virtual time."""
        ...


class ThreadRuntime:
    """The service's runtime: real threads and the real clock.

    With `pool_workers` > 0 (the service's default) actors run on a pool of that many worker
    threads (`runtime.pool`), except those marked `dedicated_thread = True` (blocking I/O: the
    writer, the gateway), which keep a thread each. With 0, every actor has a thread of its own
    (pykka's ThreadingActor), as before the pool existed.
    """

    def __init__(self, *, clock: Clock | None = None, seed: int = 0, pool_workers: int = 0) -> None:
        self.clock: Clock = clock or SystemClock()
        self.rng = RandomStreams(seed)
        self.trace: Trace = NullTrace()
        self._bound: dict[type[Any], type[Any]] = {}
        self.pool: ActorPool | None = ActorPool(pool_workers) if pool_workers > 0 else None

    def bind(self, actor_class: type[A]) -> type[A]:
        bound = self._bound.get(actor_class)
        if bound is None:
            # The actor's own methods come first in the MRO; the runtime class only supplies the hooks.
            if self.pool is None:
                bound = type(actor_class.__name__, (actor_class, pykka.ThreadingActor), {"use_daemon_thread": True})
            elif getattr(actor_class, "dedicated_thread", False):
                bound = type(actor_class.__name__, (actor_class, DedicatedThreadActor), {})
            else:
                bound = type(actor_class.__name__, (actor_class, PooledActor), {"actor_pool": self.pool})
            self._bound[actor_class] = bound
        return bound

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()

    def spawn(self, actor_class: type[A], *args: Any, **kwargs: Any) -> pykka.ActorRef[A]:
        return self.bind(actor_class).start(*args, **kwargs)

    def wait(self, future: pykka.Future[Any], timeout: float) -> Any:
        return future.get(timeout=timeout)


class _FutureSource(pykka.Actor):
    """Never started: only its runtime-bound class is used, to make futures of the right kind."""


def new_future(runtime: ActorRuntime) -> pykka.Future[Any]:
    """A future that works in `runtime` (a threading future, or one the simulator can park on)."""
    future: pykka.Future[Any] = runtime.bind(_FutureSource)._create_future()
    return future
