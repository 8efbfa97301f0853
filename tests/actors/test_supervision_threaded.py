"""Supervisor behaviour in the style of OTP's own suite, on the threaded runtime."""

from __future__ import annotations

import queue
from dataclasses import dataclass
from typing import Any

import pytest

from runtime.actors import ThreadRuntime
from runtime.config import Settings
from runtime.ids import IdGen
from supervision import (
    ActorContext,
    ChildSpec,
    Directory,
    Restart,
    Strategy,
    SupervisedActor,
    Supervisor,
    WhichChildren,
    handles,
)
from supervision.messages import ChildGaveUp

WAIT = 5.0


@dataclass(frozen=True)
class Crash:
    pass


@dataclass(frozen=True)
class Ping:
    pass


class Recorder(SupervisedActor):
    """Reports every start (with its rehydrated value) to the test through a queue."""

    def __init__(self, ctx, address, supervisor, events: queue.Queue, state: dict, **base) -> None:
        super().__init__(ctx, address, supervisor, **base)
        self.events = events
        self.state = state

    def started(self) -> None:
        # Rehydrate: the "snapshot" survives restarts, the instance does not.
        self.state[self.actor_address] = self.state.get(self.actor_address, 0) + 1
        self.events.put(("started", self.actor_address, self.state[self.actor_address]))

    def on_failure(self, *exc_info) -> None:
        super().on_failure(*exc_info)
        # The report is in the supervisor's inbox before the test hears of the failure.
        self.events.put(("failed", self.actor_address))

    @handles(Crash)
    def on_crash(self, _m: Crash) -> None:
        raise RuntimeError("boom")

    @handles(Ping)
    def on_ping(self, _m: Ping) -> str:
        return f"{self.actor_address}:{self.state[self.actor_address]}"


class Sink(SupervisedActor):
    def __init__(self, ctx, address, supervisor, events: queue.Queue, **base) -> None:
        super().__init__(ctx, address, supervisor, **base)
        self.events = events

    @handles(ChildGaveUp)
    def on_gave_up(self, m: ChildGaveUp) -> None:
        self.events.put(("gave_up", m.address, m.reason))


def _ctx() -> ActorContext:
    return ActorContext(
        runtime=ThreadRuntime(), settings=Settings(), directory=Directory(), ids=IdGen(), store=None, universe=None
    )


def _next(events: queue.Queue, kind: str) -> tuple[Any, ...]:
    while True:
        event = events.get(timeout=WAIT)
        if event[0] == kind:
            return event


def _settle(ctx) -> None:
    """Wait until the supervisor finished its current handler (it registers restarted children there)."""
    ctx.directory.lookup("sup").ask(WhichChildren(), timeout=WAIT)


def _spec(name: str, events: queue.Queue, state: dict, restart: Restart = Restart.PERMANENT) -> ChildSpec:
    return ChildSpec(name, Recorder, args=(events, state), restart=restart)


def _start_sup(ctx, names, events, state, strategy=Strategy.ONE_FOR_ONE, max_restarts=3):
    specs = tuple(_spec(n, events, state) for n in names)
    ref = ctx.runtime.spawn(Supervisor, ctx, "sup", None, strategy=strategy, max_restarts=max_restarts,
                            max_seconds=60.0, children=specs)
    ctx.directory.register("sup", ref)
    for _ in names:
        _next(events, "started")
    return ref


def test_killed_child_restarts_and_rehydrates_under_the_same_address():
    ctx, events, state = _ctx(), queue.Queue(), {}
    _start_sup(ctx, ["a", "b"], events, state)
    old = ctx.directory.lookup("a")
    ctx.directory.tell("a", Crash())
    assert _next(events, "started") == ("started", "a", 2)
    _settle(ctx)
    new = ctx.directory.lookup("a")
    assert new is not None and new.actor_urn != old.actor_urn
    assert not old.is_alive()
    assert new.ask(Ping(), timeout=WAIT) == "a:2"
    # b was not touched by one_for_one.
    assert state["b"] == 1


def test_message_sent_while_restarting_is_delivered_to_the_successor():
    ctx, events, state = _ctx(), queue.Queue(), {}
    _start_sup(ctx, ["a"], events, state)
    replies: queue.Queue = queue.Queue()

    class Probe:
        pass

    ctx.directory.tell("a", Crash())
    # Whatever the timing, this message reaches an instance of "a" (old ones are dead after Crash).
    delivered = ctx.directory.tell("a", Ping())
    assert delivered
    _next(events, "started")
    _settle(ctx)
    ref = ctx.directory.lookup("a")
    assert ref is not None
    replies.put(ref.ask(Ping(), timeout=WAIT))
    assert replies.get(timeout=WAIT) == "a:2"


def test_rest_for_one_restarts_the_failed_child_and_those_started_after_it():
    ctx, events, state = _ctx(), queue.Queue(), {}
    _start_sup(ctx, ["a", "b", "c"], events, state, strategy=Strategy.REST_FOR_ONE)
    ctx.directory.tell("b", Crash())
    restarted = {_next(events, "started")[1], _next(events, "started")[1]}
    assert restarted == {"b", "c"}
    assert state == {"a": 1, "b": 2, "c": 2}


def test_one_for_all_restarts_every_child():
    ctx, events, state = _ctx(), queue.Queue(), {}
    _start_sup(ctx, ["a", "b", "c"], events, state, strategy=Strategy.ONE_FOR_ALL)
    ctx.directory.tell("c", Crash())
    restarted = {_next(events, "started")[1] for _ in range(3)}
    assert restarted == {"a", "b", "c"}


def test_exceeding_the_restart_limit_escalates():
    ctx, events, state = _ctx(), queue.Queue(), {}
    sink = ctx.runtime.spawn(Sink, ctx, "sink", None, events)
    ctx.directory.register("sink", sink)
    outer = ctx.runtime.spawn(
        Supervisor, ctx, "outer", None,
        children=(ChildSpec("inner", Supervisor, kwargs={"max_restarts": 2, "max_seconds": 60.0,
                                                         "children": (_spec("a", events, state),)},
                            escalate_to="sink"),),
    )
    ctx.directory.register("outer", outer)
    _next(events, "started")
    for expected in (2, 3):
        ctx.directory.tell("a", Crash())
        assert _next(events, "started")[2] == expected
    ctx.directory.tell("a", Crash())
    _kind, address, reason = _next(events, "gave_up")
    assert address == "inner" and "intensity" in reason
    assert outer.ask(WhichChildren(), timeout=WAIT) == []


def test_which_children_reports_restarts():
    ctx, events, state = _ctx(), queue.Queue(), {}
    sup = _start_sup(ctx, ["a", "b"], events, state)
    ctx.directory.tell("a", Crash())
    _next(events, "started")
    infos = {i.address: i for i in sup.ask(WhichChildren(), timeout=WAIT)}
    assert infos["a"].restarts == 1 and infos["b"].restarts == 0
    assert infos["a"].alive and infos["b"].alive


@pytest.mark.parametrize("restart,expect_restart", [(Restart.TRANSIENT, True), (Restart.TEMPORARY, False)])
def test_transient_restarts_after_failure_temporary_does_not(restart, expect_restart):
    ctx, events, state = _ctx(), queue.Queue(), {}
    sup = ctx.runtime.spawn(Supervisor, ctx, "sup", None, children=(_spec("a", events, state, restart),))
    ctx.directory.register("sup", sup)
    _next(events, "started")
    ctx.directory.tell("a", Crash())
    if expect_restart:
        assert _next(events, "started")[2] == 2
    else:
        _next(events, "failed")
        # The failure report was queued before this ask, and the supervisor's inbox is ordered.
        assert sup.ask(WhichChildren(), timeout=WAIT) == []
