"""The pooled runtime (runtime.pool): pykka actors on a few worker threads.

Every wait below has a timeout; nothing sleeps.
"""

from __future__ import annotations

import threading
from typing import Any

import pykka
import pytest

from runtime.actors import ThreadRuntime, new_future

WAIT = 10.0


class Recorder(pykka.Actor):
    """Records what it handled and whether two of its messages ever ran at once."""

    def __init__(self, sink: list[Any], done: threading.Event, expect: int) -> None:
        super().__init__()
        self.sink = sink
        self.done = done
        self.expect = expect
        self.busy = False
        self.overlaps = 0

    def on_receive(self, message: Any) -> Any:
        if self.busy:
            self.overlaps += 1
        self.busy = True
        try:
            if message == "overlaps":
                return self.overlaps
            if message == "thread":
                return threading.get_ident()
            self.sink.append(message)
            if len(self.sink) == self.expect:
                self.done.set()
            return None
        finally:
            self.busy = False


class Asker(pykka.Actor):
    """Blocks its worker on an ask to another pooled actor."""

    def __init__(self, target: pykka.ActorRef[Any]) -> None:
        super().__init__()
        self.target = target

    def on_receive(self, message: Any) -> Any:
        return ("got", self.target.ask("thread", timeout=WAIT))


class Fragile(pykka.Actor):
    def __init__(self, failed: threading.Event) -> None:
        super().__init__()
        self.failed = failed

    def on_receive(self, message: Any) -> Any:
        if message == "boom":
            raise RuntimeError("boom")
        return message

    def on_failure(self, *exc_info: Any) -> None:
        self.failed.set()


class Dedicated(pykka.Actor):
    dedicated_thread = True

    def on_receive(self, message: Any) -> Any:
        return threading.get_ident()


@pytest.fixture
def runtime():
    rt = ThreadRuntime(pool_workers=2)
    yield rt
    pykka.ActorRegistry.stop_all(block=True, timeout=WAIT)
    rt.close()


def test_a_thousand_actors_run_on_the_pool_workers_each_in_order_and_never_two_messages_at_once(runtime):
    before = threading.active_count()
    sinks, events, refs = [], [], []
    for _ in range(1000):
        sink: list[Any] = []
        done = threading.Event()
        refs.append(runtime.spawn(Recorder, sink, done, 20))
        sinks.append(sink)
        events.append(done)
    for n in range(20):
        for ref in refs:
            ref.tell(n)
    assert all(done.wait(WAIT) for done in events)
    assert all(sink == list(range(20)) for sink in sinks)
    assert sum(ref.ask("overlaps", timeout=WAIT) for ref in refs) == 0
    # No thread per actor: the pool's workers (and at most a spare or two) carry all of them.
    assert threading.active_count() - before <= runtime.pool.workers + 2
    workers = {ref.ask("thread", timeout=WAIT) for ref in refs}
    assert 1 <= len(workers) <= runtime.pool.peak_workers


def test_an_actor_blocked_on_an_ask_to_another_pooled_actor_does_not_starve_it_on_a_single_worker():
    runtime = ThreadRuntime(pool_workers=1)
    try:
        target = runtime.spawn(Recorder, [], threading.Event(), 0)
        askers = [runtime.spawn(Asker, target) for _ in range(5)]
        futures = [asker.ask("go", block=False) for asker in askers]
        answers = [runtime.wait(future, WAIT) for future in futures]
        assert all(kind == "got" for kind, _ in answers)
        # The blocked workers were compensated by spares, which retire when idle again.
        assert runtime.pool.peak_workers > 1
    finally:
        pykka.ActorRegistry.stop_all(block=True, timeout=WAIT)
        runtime.close()


def test_a_future_from_the_runtime_is_waited_on_from_a_worker_without_deadlock(runtime):
    target = runtime.spawn(Recorder, [], threading.Event(), 0)

    class Waiter(pykka.Actor):
        def on_receive(self, message: Any) -> Any:
            future = new_future(runtime)
            threading.Thread(target=lambda: future.set(target.ask("thread", timeout=WAIT)), daemon=True).start()
            return future.get(timeout=WAIT)

    waiters = [runtime.spawn(Waiter) for _ in range(4)]
    futures = [w.ask("go", block=False) for w in waiters]
    results = [runtime.wait(future, WAIT) for future in futures]
    assert all(isinstance(r, int) for r in results)
    # Four workers' worth of waiting on a pool of two: spares ran the target meanwhile.
    assert runtime.pool.peak_workers > runtime.pool.workers


def test_a_failing_handler_stops_the_actor_calls_on_failure_and_fails_queued_asks(runtime):
    failed = threading.Event()
    fragile = runtime.spawn(Fragile, failed)
    assert fragile.ask("ok", timeout=WAIT) == "ok"
    fragile.tell("boom")
    assert failed.wait(WAIT)
    assert fragile.actor_stopped.wait(WAIT)
    with pytest.raises(pykka.ActorDeadError):
        fragile.ask("after", timeout=WAIT)


def test_an_ask_that_raises_returns_the_exception_and_the_actor_lives_on(runtime):
    fragile = runtime.spawn(Fragile, threading.Event())
    with pytest.raises(RuntimeError, match="boom"):
        fragile.ask("boom", timeout=WAIT)
    assert fragile.ask("still here", timeout=WAIT) == "still here"


def test_stop_runs_on_stop_and_answers_the_stopper(runtime):
    stopped = threading.Event()

    class Stoppable(pykka.Actor):
        def on_stop(self) -> None:
            stopped.set()

    ref = runtime.spawn(Stoppable)
    assert ref.stop(block=True, timeout=WAIT) is True
    assert stopped.is_set() and not ref.is_alive()


def test_a_dedicated_thread_actor_keeps_a_thread_of_its_own(runtime):
    dedicated = runtime.spawn(Dedicated)
    pooled = runtime.spawn(Recorder, [], threading.Event(), 0)
    assert dedicated.ask("thread", timeout=WAIT) != pooled.ask("thread", timeout=WAIT)
    assert runtime.bind(Dedicated).__mro__[1].__name__ == "Dedicated"
    assert issubclass(runtime.bind(Dedicated), pykka.ThreadingActor)
    assert not issubclass(runtime.bind(Recorder), pykka.ThreadingActor)
