"""legguard's supervised actors on SimRuntime: restarts work, and a process crash reports nothing.

SupervisedActor contains BaseExceptions as ordinary failures unless the runtime marks them as an
unwinding (`legguard_unwind`): a simulated process crash must not look like a child failing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pykka
import pytest

from runtime.actors import new_future
from runtime.config import Settings
from runtime.ids import IdGen
from sim.runtime import ProcessCrashed, SimRuntime
from supervision import ActorContext, ChildSpec, Directory, SupervisedActor, Supervisor, handles


@dataclass(frozen=True)
class Fail:
    pass


@dataclass(frozen=True)
class Block:
    pass


@dataclass(frozen=True)
class CrashProcess:
    pass


@dataclass(frozen=True)
class Ping:
    pass


class Child(SupervisedActor):
    def __init__(
        self,
        ctx: ActorContext,
        address: str,
        supervisor: str,
        log: list[str],
        *,
        block_on_start: bool = False,
        **base: Any,
    ) -> None:
        super().__init__(ctx, address, supervisor, **base)
        self._log = log
        self._block_on_start = block_on_start

    def started(self) -> None:
        self._log.append(f"{self.actor_address} started {self.incarnation}")
        if self._block_on_start:
            new_future(self.ctx.runtime).get()

    def stopping(self) -> None:
        self._log.append(f"{self.actor_address} stopping")

    def on_failure(self, *exc_info: Any) -> None:
        super().on_failure(*exc_info)
        self._log.append(f"{self.actor_address} failed")

    @handles(Fail)
    def on_fail(self, _message: Fail) -> None:
        raise RuntimeError("boom")

    @handles(Block)
    def on_block(self, _message: Block) -> None:
        new_future(self.ctx.runtime).get()

    @handles(CrashProcess)
    def on_crash_process(self, _message: CrashProcess) -> None:
        # What a simulated fault plan does at a durable boundary.
        runtime = self.ctx.runtime
        assert isinstance(runtime, SimRuntime)
        runtime.crash()
        self._log.append(f"{self.actor_address} survived the crash")

    @handles(Ping)
    def on_ping(self, _message: Ping) -> str:
        return f"{self.actor_address}:{self.incarnation}"


@pytest.fixture(params=[3, 4], ids=lambda seed: f"seed{seed}")
def sim(request: pytest.FixtureRequest) -> Iterator[SimRuntime]:
    runtime = SimRuntime(seed=request.param)
    yield runtime
    runtime.crash()


@pytest.fixture
def log() -> list[str]:
    return []


@pytest.fixture
def ctx(sim: SimRuntime, log: list[str]) -> ActorContext:
    ctx = ActorContext(
        runtime=sim,
        settings=Settings(),
        directory=Directory(),
        ids=IdGen(),
        store=None,
        universe=None,  # type: ignore[arg-type]
    )
    children = tuple(ChildSpec(name, Child, args=(log,)) for name in ("a", "b"))
    supervisor = sim.spawn(Supervisor, ctx, "sup", None, max_restarts=3, max_seconds=60.0, children=children)
    ctx.directory.register("sup", supervisor)
    assert sim.run_until_idle()
    return ctx


def test_a_failed_child_restarts_under_its_address(
    sim: SimRuntime, ctx: ActorContext, log: list[str]
) -> None:
    old = ctx.directory.lookup("a")
    ctx.directory.tell("a", Fail())

    assert sim.run_until_idle()

    new = ctx.directory.lookup("a")
    assert old is not None and new is not None
    assert not old.is_alive()
    assert sim.wait(new.ask(Ping(), block=False), timeout=1.0) == "a:2"
    assert sorted(log) == ["a failed", "a started 1", "a started 2", "b started 1"]


def test_a_process_crash_reports_nothing_to_supervisors(
    sim: SimRuntime, ctx: ActorContext, log: list[str]
) -> None:
    refs = [ctx.directory.lookup(address) for address in ("sup", "a", "b")]
    ctx.directory.tell("b", Block())
    sim.run_until_idle()
    assert len(sim.blocked()) == 1
    events = sim.trace.events
    log.clear()

    sim.crash()
    assert sim.run_until_idle()

    assert log == []
    assert sim.trace.events == events + 1  # the crash itself, then nothing delivered
    assert not any(ref is not None and ref.is_alive() for ref in refs)
    assert not set(refs) & set(pykka.ActorRegistry.get_all())


def test_a_crash_while_starting_tells_the_supervisor_nothing(
    sim: SimRuntime, ctx: ActorContext, log: list[str]
) -> None:
    sim.spawn(Child, ctx, "c", "sup", log, block_on_start=True)
    sim.run_until_idle()
    log.clear()

    sim.crash()

    # A failure in on_start would be reported to "sup", whose dead ref makes the directory hold it.
    assert ctx.directory.held_count("sup") == 0
    assert log == []


def test_a_crash_at_a_fault_point_ends_the_handler_and_the_run(
    sim: SimRuntime, ctx: ActorContext, log: list[str]
) -> None:
    log.clear()
    ctx.directory.tell("a", CrashProcess())

    with pytest.raises(ProcessCrashed):
        sim.run_until_idle()

    assert log == []
    assert sim.actor_names() == []
