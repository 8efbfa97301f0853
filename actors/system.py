"""The supervision tree of one legguard process, built from injected services.

root (one_for_one)
├── writer        the only LMDB writer (group commit)
├── gateway       the only broker caller (restarted with backoff: it fronts an external resource)
├── escalation    the safe state for groups whose supervisor gave up
├── margin        worst-case margin of every partial-fill state; reservations for groups in flight
├── market        last good price per instrument, fanned out to who watches it
├── exposure      interim delta of partly filled groups; hedges past the limit
├── stops         the hybrid stop of every completed leg that carries one
├── groups        one supervisor per order group → group, legs, child orders
└── risk          the pre-trade gate; drives recovery at startup, so it starts last
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pykka

from actors.escalation import EscalationActor
from actors.exposure import ExposureActor
from actors.gateway import GatewayActor
from actors.groups import GroupsSupervisor
from actors.margin import MarginActor
from actors.market import MarketActor
from actors.messages import SubmitGroup, SubmitIntent
from actors.risk import RiskActor
from actors.stop_loss import StopsSupervisor
from actors.writer import WriterActor
from runtime.actors import new_future
from supervision.context import ActorContext
from supervision.messages import ChildSpec, Describe, Restart, Strategy
from supervision.supervisor import Supervisor

ROOT = "root"


def root_children(ctx: ActorContext, extra: tuple[ChildSpec, ...] = ()) -> tuple[ChildSpec, ...]:
    return (
        ChildSpec("writer", WriterActor, restart=Restart.PERMANENT),
        ChildSpec("gateway", GatewayActor, restart=Restart.PERMANENT, backoff_s=0.2, backoff_max_s=10.0),
        ChildSpec("escalation", EscalationActor, restart=Restart.PERMANENT),
        ChildSpec("margin", MarginActor, restart=Restart.PERMANENT),
        ChildSpec("market", MarketActor, restart=Restart.PERMANENT),
        ChildSpec("exposure", ExposureActor, restart=Restart.PERMANENT),
        ChildSpec(
            "stops",
            StopsSupervisor,
            kwargs={"strategy": Strategy.ONE_FOR_ONE, "max_restarts": 100, "max_seconds": 1.0},
            restart=Restart.PERMANENT,
        ),
        ChildSpec(
            "groups",
            GroupsSupervisor,
            kwargs={"strategy": Strategy.ONE_FOR_ONE, "max_restarts": 1000, "max_seconds": 1.0},
            restart=Restart.PERMANENT,
        ),
        *extra,
        ChildSpec("risk", RiskActor, restart=Restart.PERMANENT),
    )


@dataclass
class System:
    ctx: ActorContext
    root: pykka.ActorRef[Any]

    def submit(self, payload: dict[str, Any]) -> Any:
        """Submit a group; returns a future resolved with GroupAccepted or failed with Denied."""
        future = new_future(self.ctx.runtime)
        if not self.ctx.directory.tell("risk", SubmitGroup(payload, future=future)):
            future.set_exception((RuntimeError, RuntimeError("the gate is not running"), None))
        return future

    def submit_intent(self, payload: dict[str, Any]) -> Any:
        """Submit a strategy's intent (lot ratios and a confidence); risk sizes it."""
        future = new_future(self.ctx.runtime)
        if not self.ctx.directory.tell("risk", SubmitIntent(payload, future=future)):
            future.set_exception((RuntimeError, RuntimeError("the gate is not running"), None))
        return future

    def ask(self, address: str, message: Any) -> Any:
        """A future for `message` asked of the actor at `address` (fails if none is there)."""
        ref = self.ctx.directory.lookup(address)
        if ref is None:
            future = new_future(self.ctx.runtime)
            future.set_exception((LookupError, LookupError(f"no actor at {address}"), None))
            return future
        return ref.ask(message, block=False)

    def describe(self, address: str, timeout: float = 5.0) -> Any:
        ref = self.ctx.directory.lookup(address)
        if ref is None:
            return None
        return self.ctx.runtime.wait(ref.ask(Describe(), block=False), timeout)

    def stop(self, timeout: float = 10.0) -> None:
        if self.root.is_alive():
            self.root.stop(block=False)


def start_system(ctx: ActorContext, extra: tuple[ChildSpec, ...] = ()) -> System:
    # Claim every top-level address first: a request or a push that arrives while the tree is still
    # starting is held for its actor, never dropped.
    for spec in root_children(ctx, extra):
        ctx.directory.reserve(spec.address)
    root = ctx.runtime.spawn(
        Supervisor,
        ctx,
        ROOT,
        None,
        strategy=Strategy.ONE_FOR_ONE,
        max_restarts=10,
        max_seconds=10.0,
        children=root_children(ctx, extra),
    )
    ctx.directory.register(ROOT, root)
    return System(ctx, root)
