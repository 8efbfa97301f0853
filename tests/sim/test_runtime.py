"""The deterministic actor runtime: scheduling, futures, deadlocks, pykka failures, crashes, parity.

Every wait here is on virtual time and bounded; the only real-time waits are the ThreadRuntime
ones, bounded too.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pykka
import pytest

from runtime.actors import ActorRuntime, ThreadRuntime
from sim.runtime import DeadlockError, ProcessCrashed, RuntimeStepLimit, SimFuture, SimRuntime

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(params=[7, 8, 9], ids=lambda seed: f"seed{seed}")
def runtime(request: pytest.FixtureRequest) -> Iterator[SimRuntime]:
    # Several seeds: what a test asserts must hold whatever order the scheduler picks.
    sim = SimRuntime(seed=request.param, keep_last=200)
    yield sim
    sim.crash()  # whatever state a test left, nothing of it stays registered or runs later
    assert sim.actor_names() == []


# -- a small scenario: a coordinator hands out jobs, workers ask a ledger, some answer by timer ---


@dataclass(frozen=True)
class Job:
    n: int


@dataclass(frozen=True)
class JobDone:
    worker: str
    n: int
    ticket: int
    at: float


class Ledger(pykka.Actor):
    """Hands out tickets in arrival order, so tickets record the interleaving."""

    actor_address = "ledger"

    def __init__(self) -> None:
        super().__init__()
        self._next = 0

    def on_receive(self, message: Any) -> int:
        self._next += 1
        return self._next


class Worker(pykka.Actor):
    def __init__(
        self,
        address: str,
        coordinator: pykka.ActorRef[Any],
        ledger: pykka.ActorRef[Any],
        runtime: ActorRuntime,
        random_delays: bool,
    ) -> None:
        super().__init__()
        self.actor_address = address
        self._coordinator = coordinator
        self._ledger = ledger
        self._clock = runtime.clock
        self._rng = runtime.rng.stream("workload") if random_delays else None

    def on_receive(self, message: Any) -> None:
        ticket = int(self._ledger.ask(("ticket", self.actor_address), block=True, timeout=5.0))
        delay = self._rng.choice([0.0, 0.0, 0.25]) if self._rng is not None else 0.5
        done = JobDone(self.actor_address, message.n, ticket, self._clock.monotonic() + delay)
        self._clock.call_later(delay, self._coordinator.tell, done)


class Coordinator(pykka.Actor):
    actor_address = "coordinator"

    def __init__(self, jobs_per_worker: int) -> None:
        super().__init__()
        self._jobs_per_worker = jobs_per_worker
        self._workers: dict[str, pykka.ActorRef[Any]] = {}
        self.arrivals: list[tuple[str, int, int]] = []

    def begin(self, workers: dict[str, pykka.ActorRef[Any]]) -> None:
        self._workers = workers
        for ref in workers.values():
            ref.tell(Job(0))

    def on_receive(self, message: Any) -> None:
        self.arrivals.append((message.worker, message.n, message.ticket))
        if message.n + 1 < self._jobs_per_worker:
            self._workers[message.worker].tell(Job(message.n + 1))

    def finished(self) -> bool:
        return len(self.arrivals) == self._jobs_per_worker * len(self._workers)


def run_scenario(seed: int, *, random_delays: bool = True) -> tuple[str, list[tuple[str, int, int]]]:
    sim = SimRuntime(seed)
    ledger = sim.spawn(Ledger)
    coordinator = sim.spawn(Coordinator, 3)
    workers = {f"w{i}": sim.spawn(Worker, f"w{i}", coordinator, ledger, sim, random_delays) for i in range(4)}
    coordinator.proxy().begin(workers)
    assert sim.run_until_idle()
    assert sim.wait(coordinator.proxy().finished(), timeout=1.0)
    arrivals = sim.wait(coordinator.proxy().arrivals, timeout=1.0)
    digest = sim.trace.hexdigest()
    assert sim.shutdown() == []
    return digest, arrivals


def test_one_seed_gives_one_trace_hash_and_another_seed_another() -> None:
    first, first_arrivals = run_scenario(11)
    again, again_arrivals = run_scenario(11)
    other, _ = run_scenario(12)

    assert first == again
    assert first_arrivals == again_arrivals
    assert len(first_arrivals) == 12
    assert other != first


def test_interleaving_follows_the_scheduler_stream() -> None:
    # Fixed delays: only the scheduler's seeded choices order the workers' asks to the ledger.
    orders = {tuple(run_scenario(seed, random_delays=False)[1]) for seed in range(6)}

    assert len(orders) > 1


def test_trace_hash_does_not_depend_on_python_hash_seed() -> None:
    program = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('scenario', {str(Path(__file__))!r})\n"
        "module = sys.modules['scenario'] = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(module)\n"
        "print(module.run_scenario(11)[0])\n"
    )
    digests = set()
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed, "PYTHONPATH": str(REPO)}
        done = subprocess.run(
            [sys.executable, "-c", program],
            check=False,
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        digests.add(done.stdout.strip())

    assert digests == {run_scenario(11)[0]}


# -- asks, futures and proxies ----------------------------------------------------------------------


class Adder(pykka.Actor):
    def __init__(self) -> None:
        super().__init__()
        self.total = 0

    def add(self, a: int, b: int) -> int:
        self.total += a + b
        return a + b

    def numbers(self) -> list[int]:
        return [3, 14, 15, 92]


class Relay(pykka.Actor):
    """Answers by asking the next actor and blocking on the answer."""

    def __init__(self, next_hop: pykka.ActorRef[Any]) -> None:
        super().__init__()
        self._next = next_hop

    def add(self, a: int, b: int) -> int:
        return int(self._next.proxy().add(a, b).get()) * 10


class Forwarder(pykka.Actor):
    def __init__(self, target: pykka.ActorRef[Any]) -> None:
        super().__init__()
        self._target = target

    def on_receive(self, message: Any) -> Any:
        return self._target.ask(message)


def test_actor_blocks_on_an_ask_while_others_run(runtime: SimRuntime) -> None:
    adder = runtime.spawn(Adder)
    inner = runtime.spawn(Relay, adder)
    outer = runtime.spawn(Relay, inner)

    assert runtime.wait(outer.proxy().add(1, 2), timeout=1.0) == 300
    assert runtime.wait(adder.proxy().total, timeout=1.0) == 3
    assert runtime.clock.monotonic() == 0.0  # nothing waited on a timer


def test_proxy_attributes_and_derived_futures(runtime: SimRuntime) -> None:
    proxy = runtime.spawn(Adder).proxy()

    assert proxy.add(2, 3).get() == 5
    proxy.total = 40  # a blocking ProxySetAttr
    assert proxy.total.get() == 40
    assert proxy.add(1, 1).join(proxy.add(2, 2), proxy.total).get() == [2, 4, 46]
    assert proxy.add(5, 5).map(lambda n: n * 2).get() == 20
    assert list(proxy.numbers().filter(lambda n: n > 10).get()) == [14, 15, 92]
    assert proxy.numbers().reduce(lambda a, b: a + b).get() == 124
    assert list(pykka.get_all([proxy.add(0, 1), proxy.add(0, 2)], timeout=1.0)) == [1, 2]


class Patient(pykka.Actor):
    def __init__(self, runtime: SimRuntime, peer: pykka.ActorRef[Any] | None = None) -> None:
        super().__init__()
        self._runtime = runtime
        self._peer = peer

    def wait_for_nothing(self, timeout: float | None) -> tuple[str, float]:
        started = self._runtime.clock.monotonic()
        try:
            self._runtime.future().get(timeout=timeout)
        except pykka.Timeout:
            return "timed out", self._runtime.clock.monotonic() - started
        return "set", 0.0

    def ask_peer(self, timeout: float) -> tuple[str, float]:
        assert self._peer is not None
        started = self._runtime.clock.monotonic()
        try:
            self._peer.proxy().answer_late(10.0).get(timeout=timeout)
        except pykka.Timeout:
            return "timed out", self._runtime.clock.monotonic() - started
        return "answered", 0.0

    def on_receive(self, message: Any) -> None:
        if isinstance(message, BaseException):
            raise message

    def answer_late(self, delay: float) -> str:
        late = self._runtime.future()
        self._runtime.clock.call_later(delay, late.set, "late")
        return str(late.get())


def test_get_timeout_inside_an_actor_is_virtual_time(runtime: SimRuntime) -> None:
    runtime.run_for(1.0)  # start away from zero
    patient = runtime.spawn(Patient, runtime)
    asker = runtime.spawn(Patient, runtime, runtime.spawn(Patient, runtime))

    assert runtime.wait(patient.proxy().wait_for_nothing(2.5), timeout=10.0) == ("timed out", 2.5)
    assert runtime.clock.monotonic() == 3.5
    assert runtime.wait(asker.proxy().ask_peer(1.5), timeout=10.0) == ("timed out", 1.5)
    assert runtime.clock.monotonic() == 5.0


def test_driver_wait_times_out_on_virtual_time(runtime: SimRuntime) -> None:
    value = runtime.future()
    runtime.clock.call_later(10.0, value.set, "ten")

    with pytest.raises(pykka.Timeout):
        runtime.wait(value, timeout=4.0)
    assert runtime.clock.monotonic() == 4.0
    assert runtime.wait(value, timeout=10.0) == "ten"
    assert runtime.clock.monotonic() == 10.0


def test_run_until_returns_false_at_its_virtual_deadline(runtime: SimRuntime) -> None:
    runtime.clock.call_later(3.0, lambda: None)

    assert runtime.run_until(lambda: False, timeout=2.0) is False
    assert runtime.clock.monotonic() == 2.0
    assert runtime.run_until(lambda: runtime.clock.monotonic() >= 3.0, timeout=2.0) is True
    assert runtime.clock.monotonic() == 3.0
    assert runtime.run_until_idle() is True
    # Nothing left to happen: the wait still lasts its whole timeout, as it would threaded.
    assert runtime.run_until(lambda: False, timeout=2.0) is False
    assert runtime.clock.monotonic() == 5.0


def test_a_zero_timeout_does_not_wait_even_for_what_is_due_now(runtime: SimRuntime) -> None:
    value = runtime.future()
    runtime.clock.call_later(0.0, value.set, "now")

    with pytest.raises(pykka.Timeout):
        runtime.wait(value, timeout=0.0)  # ThreadingFuture raises at once if nothing is set yet
    assert runtime.wait(value, timeout=1.0) == "now"


# -- deadlocks and livelocks ------------------------------------------------------------------------


class Caller(pykka.Actor):
    """Asks its peer to call back, and blocks on the answer."""

    def __init__(self, address: str) -> None:
        super().__init__()
        self.actor_address = address
        self.peer: pykka.ActorRef[Any] | None = None

    def set_peer(self, peer: pykka.ActorRef[Any]) -> None:
        self.peer = peer

    def call_peer(self, hops: int) -> str:
        assert self.peer is not None
        if hops == 0:
            return self.actor_address
        return str(self.peer.proxy().call_peer(hops - 1).get())


def _heartbeat(runtime: SimRuntime) -> None:
    runtime.clock.call_later(1.0, _heartbeat, runtime)


def test_ask_cycle_is_reported_within_a_few_steps(runtime: SimRuntime) -> None:
    # A timer that re-arms forever: the run never goes quiet, the cycle must be seen directly.
    _heartbeat(runtime)
    alice = runtime.spawn(Caller, "alice")
    bob = runtime.spawn(Caller, "bob")
    alice.proxy().set_peer(bob).get()
    bob.proxy().set_peer(alice).get()
    assert runtime.wait(alice.proxy().call_peer(1), timeout=1.0) == "bob"  # one hop is no cycle
    steps_before = runtime.steps

    with pytest.raises(DeadlockError) as raised:
        runtime.wait(alice.proxy().call_peer(2), timeout=3600.0)

    assert runtime.steps - steps_before < 20
    assert runtime.clock.monotonic() == 0.0
    report = str(raised.value)
    assert "alice, handling ProxyCall(call_peer), waits for bob to answer ProxyCall(call_peer)" in report
    assert "bob, handling ProxyCall(call_peer), waits for alice to answer ProxyCall(call_peer)" in report


def test_driver_waiting_on_a_future_nobody_sets_is_a_deadlock(runtime: SimRuntime) -> None:
    with pytest.raises(DeadlockError, match="no actor was asked to set"):
        runtime.wait(runtime.future(), timeout=60.0)
    assert runtime.clock.monotonic() == 0.0  # reported at once, not after the timeout

    stuck = runtime.spawn(Patient, runtime)
    with pytest.raises(DeadlockError) as raised:
        runtime.wait(stuck.proxy().wait_for_nothing(None), timeout=60.0)
    assert "Patient#0 to answer ProxyCall(wait_for_nothing)" in str(raised.value)
    assert runtime.blocked() == [
        "Patient#0, handling ProxyCall(wait_for_nothing), waits for a future no actor was asked to set"
    ]


class Bouncer(pykka.Actor):
    def __init__(self) -> None:
        super().__init__()
        self.peer: pykka.ActorRef[Any] | None = None

    def on_receive(self, message: Any) -> None:
        if isinstance(message, pykka.ActorRef):
            self.peer = message
        else:
            assert self.peer is not None
            self.peer.tell(message + 1)


def test_livelock_hits_the_step_limit_with_diagnostics(runtime: SimRuntime) -> None:
    ping, pong = runtime.spawn(Bouncer), runtime.spawn(Bouncer)
    ping.tell(pong)
    pong.tell(ping)
    ping.tell(0)

    with pytest.raises(RuntimeStepLimit) as raised:
        runtime.run_until(lambda: False, timeout=10.0, max_steps=1000)

    report = str(raised.value)
    assert report.startswith("1000 scheduler steps at t=0.0")
    assert "Bouncer#0=" in report
    assert "Bouncer#1=" in report


# -- pykka's failure semantics ----------------------------------------------------------------------


class Fragile(pykka.Actor):
    def __init__(self, events: list[str], *, fail_on_start: bool = False) -> None:
        super().__init__()
        self._events = events
        self._fail_on_start = fail_on_start

    def on_start(self) -> None:
        if self._fail_on_start:
            raise ValueError("bad config")
        self._events.append("start")

    def on_receive(self, message: Any) -> str:
        if isinstance(message, BaseException):
            raise message
        self._events.append(f"got {message}")
        return f"ok {message}"

    def on_stop(self) -> None:
        self._events.append("stop")

    def on_failure(self, exception_type: Any, exception_value: Any, traceback: Any) -> None:
        self._events.append(f"failure {exception_value!r}")


def test_tell_handler_exception_stops_the_actor_and_calls_on_failure(runtime: SimRuntime) -> None:
    events: list[str] = []
    fragile = runtime.spawn(Fragile, events)
    fragile.tell(ValueError("boom"))
    queued = fragile.ask("queued", block=False)

    assert runtime.run_until_idle()
    assert not fragile.is_alive()
    assert events == ["start", "failure ValueError('boom')"]
    with pytest.raises(pykka.ActorDeadError):
        queued.get()


def test_ask_handler_exception_goes_to_the_caller(runtime: SimRuntime) -> None:
    events: list[str] = []
    fragile = runtime.spawn(Fragile, events)

    with pytest.raises(KeyError, match="missing"):
        runtime.wait(fragile.ask(KeyError("missing"), block=False), timeout=1.0)
    assert fragile.is_alive()
    assert runtime.wait(fragile.ask("next", block=False), timeout=1.0) == "ok next"


def test_on_start_exception_is_logged_and_the_actor_stops(
    runtime: SimRuntime, caplog: pytest.LogCaptureFixture
) -> None:
    events: list[str] = []
    with caplog.at_level(logging.ERROR, logger="pykka"):
        fragile = runtime.spawn(Fragile, events, fail_on_start=True)
        assert runtime.run_until_idle()

    assert not fragile.is_alive()
    assert events == []
    assert any("Unhandled exception" in record.message for record in caplog.records)
    assert fragile not in pykka.ActorRegistry.get_all()


def test_base_exception_in_a_handler_stops_every_actor_without_hanging(runtime: SimRuntime) -> None:
    events: list[str] = []
    bystanders = [runtime.spawn(Fragile, events) for _ in range(3)]
    culprit = runtime.spawn(Fragile, [])

    culprit.tell(SystemExit(3))
    assert runtime.run_until_idle()

    assert [ref.is_alive() for ref in [*bystanders, culprit]] == [False] * 4
    assert sorted(events) == ["start"] * 3 + ["stop"] * 3  # a bystander may start after the stop_all
    assert runtime.actor_names() == []


def test_base_exception_while_an_actor_waits_on_the_culprit_is_reported(runtime: SimRuntime) -> None:
    # pykka's stop_all blocks on each actor's stop; an actor blocked on the culprit never takes
    # its stop. Threaded, this hangs forever; here it is a reported deadlock.
    culprit = runtime.spawn(Patient, runtime)
    waiter = runtime.spawn(Forwarder, culprit)
    culprit.proxy().answer_late(10.0)  # busy until t=10
    culprit.tell(SystemExit(1))
    pending = waiter.ask("queued behind the SystemExit", block=False)

    with pytest.raises(DeadlockError, match="ask cycle"):
        runtime.run_until_idle()
    assert runtime.clock.monotonic() == 10.0
    assert isinstance(pending, SimFuture)
    assert not pending.done()


def test_keyboard_interrupt_reaches_the_driver(runtime: SimRuntime) -> None:
    fragile = runtime.spawn(Fragile, [])
    fragile.tell(KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        runtime.run_until_idle()

    def interrupt() -> None:
        raise KeyboardInterrupt

    runtime.clock.call_later(1.0, interrupt)
    with pytest.raises(KeyboardInterrupt):
        runtime.run_for(5.0)
    assert runtime.clock.monotonic() == 1.0


def test_a_failing_timer_callback_is_traced_and_the_run_goes_on(runtime: SimRuntime) -> None:
    gone = runtime.spawn(Fragile, [])
    gone.stop()
    runtime.clock.call_later(1.0, gone.tell, "late")
    runtime.clock.call_later(2.0, lambda: None)

    runtime.run_for(3.0)

    assert runtime.timer_errors == 1
    assert "timer_error | 1.0 | ActorDeadError" in runtime.trace.last()


# -- process crash and shutdown ---------------------------------------------------------------------


class Recorder(pykka.Actor):
    """Records everything that runs in it, arms timers, and can block mid-handler."""

    def __init__(self, runtime: SimRuntime, events: list[str], address: str) -> None:
        super().__init__()
        self.actor_address = address
        self._runtime = runtime
        self._events = events

    def on_receive(self, message: Any) -> str:
        self._events.append(f"{self.actor_address} got {message}")
        return str(message)

    def arm(self, delay: float) -> None:
        self._runtime.clock.call_later(delay, self.actor_ref.tell, "timer")

    def block(self) -> None:
        try:
            self._runtime.future().get()
        finally:
            self._events.append(f"{self.actor_address} unwound")

    def block_and_convert(self) -> None:
        try:
            self._runtime.future().get()
        except BaseException as exc:  # an actor that turns everything into an ordinary failure
            raise RuntimeError("converted") from exc

    def crash_process(self) -> None:
        self._events.append(f"{self.actor_address} crashing")
        self._runtime.crash()
        self._events.append(f"{self.actor_address} survived")  # must never run

    def on_stop(self) -> None:
        self._events.append(f"{self.actor_address} stop")

    def on_failure(self, *exc_info: Any) -> None:
        self._events.append(f"{self.actor_address} failure")


def test_crash_drops_every_actor_timer_and_message(runtime: SimRuntime) -> None:
    events: list[str] = []
    idle = runtime.spawn(Recorder, runtime, events, "idle")
    busy = runtime.spawn(Recorder, runtime, events, "busy")
    idle.proxy().arm(5.0).get()
    busy.proxy().block.defer()
    runtime.run_for(1.0)  # busy is parked mid-handler, idle's timer is pending
    assert runtime.blocked() == [
        "busy, handling ProxyCall(block), waits for a future no actor was asked to set"
    ]
    idle.tell("queued")
    events.clear()

    runtime.crash()

    assert not idle.is_alive()
    assert not busy.is_alive()
    assert not {idle, busy} & set(pykka.ActorRegistry.get_all())
    assert runtime.clock.pending() == 0
    assert runtime.clock.monotonic() == 1.0
    assert events == ["busy unwound"]  # its finally block ran as the frame unwound; no handler
    with pytest.raises(pykka.ActorDeadError):
        idle.tell("after")
    assert runtime.run_until_idle()
    assert events == ["busy unwound"]

    fresh = runtime.spawn(Recorder, runtime, events, "fresh")
    assert runtime.wait(fresh.ask("hello", block=False), timeout=1.0) == "hello"
    assert events == ["busy unwound", "fresh got hello"]


def test_crash_runs_no_failure_hook_even_if_a_handler_converts_the_unwinding(runtime: SimRuntime) -> None:
    events: list[str] = []
    converter = runtime.spawn(Recorder, runtime, events, "converter")
    converter.proxy().block_and_convert.defer()
    runtime.run_until_idle()

    runtime.crash()

    assert events == []
    assert not converter.is_alive()


def test_crash_from_inside_an_actor_ends_its_step_and_the_run(runtime: SimRuntime) -> None:
    events: list[str] = []
    other = runtime.spawn(Recorder, runtime, events, "other")
    crasher = runtime.spawn(Recorder, runtime, events, "crasher")
    other.tell("before")
    runtime.run_until_idle()

    with pytest.raises(ProcessCrashed):
        runtime.wait(crasher.proxy().crash_process(), timeout=5.0)

    assert events == ["other got before", "crasher crashing"]
    assert not other.is_alive()
    assert not crasher.is_alive()
    assert runtime.crashes == 1
    fresh = runtime.spawn(Recorder, runtime, events, "fresh")
    assert runtime.wait(fresh.ask("again", block=False), timeout=1.0) == "again"


def test_crash_keeps_the_timers_it_is_told_to_spare(runtime: SimRuntime) -> None:
    fired: list[str] = []

    def exchange_event() -> None:
        fired.append("exchange")

    runtime.clock.call_later(2.0, exchange_event)
    runtime.clock.call_later(1.0, fired.append, "process")

    runtime.crash(keep_timers=lambda timer: timer.fn is exchange_event)
    runtime.run_until_idle()

    assert fired == ["exchange"]


def test_shutdown_stops_actors_last_spawned_first(runtime: SimRuntime) -> None:
    events: list[str] = []
    refs = [runtime.spawn(Recorder, runtime, events, name) for name in ("first", "second", "third")]

    assert runtime.shutdown() == []

    assert not any(ref.is_alive() for ref in refs)
    assert events == ["third stop", "second stop", "first stop"]


def test_shutdown_discards_what_cannot_stop(runtime: SimRuntime) -> None:
    events: list[str] = []
    stuck = runtime.spawn(Recorder, runtime, events, "stuck")
    fine = runtime.spawn(Recorder, runtime, events, "fine")
    stuck.proxy().block.defer()
    runtime.run_until_idle()

    assert runtime.shutdown(timeout=5.0) == ["stuck"]

    assert not stuck.is_alive()
    assert events == ["fine stop", "stuck unwound"]
    assert fine not in pykka.ActorRegistry.get_all()


# -- one actor class, two runtimes ------------------------------------------------------------------


def test_bind_rejects_classes_that_already_have_a_runtime(runtime: SimRuntime) -> None:
    class Threaded(pykka.ThreadingActor):
        pass

    with pytest.raises(TypeError):
        runtime.bind(Threaded)
    assert runtime.bind(Adder) is runtime.bind(Adder)


def _answers(actor_runtime: ActorRuntime) -> list[Any]:
    adder = actor_runtime.spawn(Adder)
    relay = actor_runtime.spawn(Relay, adder)
    try:
        relayed = relay.proxy()
        direct = adder.proxy()
        return [
            actor_runtime.wait(relayed.add(1, 2), timeout=5.0),
            actor_runtime.wait(relayed.add(20, 22), timeout=5.0),
            actor_runtime.wait(direct.add(1, 1).join(direct.add(2, 2)), timeout=5.0),
            actor_runtime.wait(direct.total, timeout=5.0),
            actor_runtime.wait(adder.ask(("unexpected",), block=False), timeout=5.0),
        ]
    finally:
        for ref in (relay, adder):
            actor_runtime.wait(ref.stop(block=False), timeout=5.0)


def test_the_same_actor_classes_run_threaded_and_simulated(runtime: SimRuntime) -> None:
    threaded = ThreadRuntime()

    assert _answers(threaded) == _answers(runtime) == [30, 420, [2, 4], 51, None]
    assert runtime.run_until_idle()
