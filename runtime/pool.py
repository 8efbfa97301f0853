"""Pooled dispatch for pykka actors: many actors, a few threads.

`pykka.ThreadingActor` gives every actor a thread of its own. legguard keeps one actor per order
group, leg and child order (about ten per four-leg group), so a thousand groups in flight meant ten
thousand threads: every message a thread switch, every actor start a thread start and a handshake,
and the interpreter's time going to threads waking and waiting for the GIL rather than to work.

Here an actor keeps its own mailbox and its one-message-at-a-time guarantee, but it runs on a small
pool of worker threads (the dispatcher model of Akka and Erlang's schedulers): a message put into
an idle actor's mailbox schedules the actor; a worker takes the actor, handles up to `BATCH`
messages, and puts it back at the end of the ready queue if more are waiting. An actor never runs
on two workers at once; a worker that handles a message whose reply goes to another actor usually
runs that actor next, on the same thread, with no switch at all.

Actors that block on I/O for real (the LMDB writer's fsync, the gateway's broker calls) keep a
thread of their own: `dedicated_thread = True` on the class. Actors that block on a future (a
restarted actor's writer barrier, a supervisor stopping its children, the risk gate asking margin)
are compensated: `PoolFuture.get` on a worker tells the pool, which starts a spare worker while it
waits, so that what the blocked actor waits for can still run (Java's ForkJoinPool does the same
for its managed blockers). Spare workers retire when they are idle again.

Failure handling is pykka's own, message for message: `_handle_receive`, `_handle_failure`,
`on_failure`, `_actor_loop_setup` and `_actor_loop_teardown` are pykka's (and legguard's overrides
of them); only the loop around them is replaced.
"""

from __future__ import annotations

import contextlib
import sys
import threading  # runtime-ok: this module is the service's thread runtime
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

import pykka
from pykka import ActorRegistry

BATCH = 64  # messages an actor handles before it yields its worker to the next ready actor

_local = threading.local()


class ActorPool:
    def __init__(self, workers: int, *, name: str = "legguard-actor") -> None:
        if workers < 1:
            raise ValueError("an actor pool needs at least one worker")
        self.workers = workers
        self._name = name
        self._ready: deque[Callable[[], None]] = deque()
        self._cond = threading.Condition(threading.Lock())
        self._live = 0  # worker threads alive
        self._idle = 0  # of which waiting for work
        self._blocked = 0  # of which waiting on a future
        self._spawned = 0
        self._closed = False
        self.peak_workers = 0

    # ------------------------------------------------------------------ scheduling

    def schedule(self, task: Callable[[], None]) -> None:
        with self._cond:
            self._ready.append(task)
            if self._idle:
                self._cond.notify()
            elif self._live - self._blocked < self.workers:
                self._spawn_locked()

    @contextlib.contextmanager
    def blocking(self) -> Iterator[None]:
        """Around a wait on a worker: a spare worker runs the ready actors meanwhile."""
        with self._cond:
            self._blocked += 1
            if self._ready and not self._idle and self._live - self._blocked < self.workers:
                self._spawn_locked()
        try:
            yield
        finally:
            with self._cond:
                self._blocked -= 1

    def describe(self) -> dict[str, int]:
        with self._cond:
            return {
                "workers": self.workers,
                "live": self._live,
                "idle": self._idle,
                "blocked": self._blocked,
                "ready": len(self._ready),
                "peak": self.peak_workers,
            }

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    # ------------------------------------------------------------------ workers

    def _spawn_locked(self) -> None:
        if self._closed:
            return
        self._live += 1
        self._spawned += 1
        self.peak_workers = max(self.peak_workers, self._live)
        thread = threading.Thread(target=self._work, name=f"{self._name}-{self._spawned}", daemon=True)
        thread.start()

    def _work(self) -> None:
        _local.pool = self
        cond = self._cond
        while True:
            with cond:
                while not self._ready:
                    # A spare started while another worker was blocked retires once it is idle
                    # and the blocked one is back.
                    if self._closed or self._live - self._blocked > self.workers:
                        self._live -= 1
                        return
                    self._idle += 1
                    cond.wait()
                    self._idle -= 1
                task = self._ready.popleft()
            task()


class _Mailbox:
    """An actor's inbox (pykka's `ActorInbox` protocol) that schedules its actor on the pool."""

    __slots__ = ("_actor", "_lock", "_pool", "_queue", "_scheduled")

    def __init__(self) -> None:
        self._queue: deque[Any] = deque()
        self._lock = threading.Lock()
        self._scheduled = True  # until the actor's first slice (on_start) has run
        self._actor: PooledActor | None = None
        self._pool: ActorPool | None = None

    def put(self, envelope: Any, block: bool = True, timeout: float | None = None) -> None:
        with self._lock:
            self._queue.append(envelope)
            if self._scheduled:
                return
            self._scheduled = True
        assert self._pool is not None and self._actor is not None
        self._pool.schedule(self._actor._pool_slice)

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        with self._lock:
            return self._queue.popleft()

    def empty(self) -> bool:
        return not self._queue

    def qsize(self) -> int:
        return len(self._queue)

    def _next_or_idle(self) -> Any:
        """The next envelope, or None after marking the actor idle (its next put schedules it)."""
        with self._lock:
            if self._queue:
                return self._queue.popleft()
            self._scheduled = False
            return None


class PoolFuture(pykka.ThreadingFuture[Any]):
    """A threading future whose wait, on a pool worker, lets the pool start a spare worker."""

    def get(self, *, timeout: float | None = None) -> Any:
        pool = getattr(_local, "pool", None)
        if pool is None:
            return super().get(timeout=timeout)
        with pool.blocking():
            return super().get(timeout=timeout)


class PooledActor(pykka.Actor):
    """A pykka actor run in slices on an `ActorPool` (set on the bound class by the runtime)."""

    actor_pool: ActorPool

    @staticmethod
    def _create_actor_inbox() -> Any:
        return _Mailbox()

    @staticmethod
    def _create_future() -> pykka.Future[Any]:
        return PoolFuture()

    def _start_actor_loop(self) -> None:
        mailbox: _Mailbox = self.actor_inbox  # type: ignore[assignment]
        mailbox._actor = self
        mailbox._pool = self.actor_pool
        self._pool_started = False
        self.actor_pool.schedule(self._pool_slice)

    def _pool_slice(self) -> None:
        mailbox: _Mailbox = self.actor_inbox  # type: ignore[assignment]
        if not self._pool_started:
            self._pool_started = True
            self._actor_loop_setup()
        for _ in range(BATCH):
            if self.actor_stopped.is_set():
                self._actor_loop_teardown()
                return  # stays "scheduled" for good: later puts only queue, as for a dead thread
            envelope = mailbox._next_or_idle()
            if envelope is None:
                return
            self._pool_handle(envelope)
        if self.actor_stopped.is_set():
            self._actor_loop_teardown()
            return
        self.actor_pool.schedule(self._pool_slice)  # more may be waiting: back of the line

    def _pool_handle(self, envelope: Any) -> None:
        """One turn of pykka's `_actor_loop_running`."""
        try:
            response = self._handle_receive(envelope.message)
            if envelope.reply_to is not None:
                envelope.reply_to.set(response)
        except Exception:
            if envelope.reply_to is not None:
                envelope.reply_to.set_exception()
            else:
                self._handle_failure(*sys.exc_info())
                try:
                    self.on_failure(*sys.exc_info())
                except Exception:
                    self._handle_failure(*sys.exc_info())
        except BaseException:
            # pykka's rule for a BaseException escaping an actor: the process is no longer whole.
            self._stop()
            ActorRegistry.stop_all()


class DedicatedThreadActor(pykka.ThreadingActor):
    """A thread of its own (blocking I/O), with futures the pool knows how to wait on."""

    use_daemon_thread = True

    @staticmethod
    def _create_future() -> pykka.Future[Any]:
        return PoolFuture()
