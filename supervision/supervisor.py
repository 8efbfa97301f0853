"""Supervisors with OTP semantics.

Strategies one_for_one / one_for_all / rest_for_one; children permanent, transient or temporary; at
most `max_restarts` restarts within `max_seconds` (of the injected monotonic clock), beyond which the
supervisor stops its children in reverse start order and escalates to its own supervisor. Children
are started in order, shut down in reverse order, each within its shutdown timeout.
"""

from __future__ import annotations

import contextlib
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import pykka

from supervision.base import SupervisedActor, handles
from supervision.context import ActorContext
from supervision.messages import (
    ChildExited,
    ChildFailed,
    ChildGaveUp,
    ChildInfo,
    ChildSpec,
    Restart,
    RestartChild,
    StartChild,
    StopChild,
    Strategy,
    WhichChildren,
)


@dataclass
class _Child:
    spec: ChildSpec
    ref: pykka.ActorRef[Any] | None = None
    urn: str = ""
    restarts: int = 0
    consecutive: int = 0
    generation: int = 0
    alive: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


class Supervisor(SupervisedActor):
    def __init__(
        self,
        ctx: ActorContext,
        address: str,
        supervisor: str | None = None,
        *,
        strategy: Strategy = Strategy.ONE_FOR_ONE,
        max_restarts: int = 3,
        max_seconds: float = 5.0,
        children: tuple[ChildSpec, ...] = (),
        **base: Any,
    ) -> None:
        super().__init__(ctx, address, supervisor, **base)
        self.strategy = strategy
        self.max_restarts = max_restarts
        self.max_seconds = max_seconds
        self._initial = children
        self._children: dict[str, _Child] = {}  # in start order
        self._restart_times: deque[float] = deque()
        self._gave_up = False

    # ------------------------------------------------------------------ lifecycle

    def started(self) -> None:
        for spec in self._initial:
            self._start(spec)

    def stopping(self) -> None:
        self._stop_and_release_children()

    def on_failure(self, exception_type: Any, exception_value: Any, traceback: Any) -> None:
        # A supervisor's children do not outlive it (OTP links them): left running, they would act
        # beside whatever its own supervisor does about the failure (a group's escalation).
        # They are stopped and their addresses released *before* the failure is reported: once our
        # supervisor hears of it, a successor may start the same addresses anew, and a late release
        # from us would unregister the successor's children.
        self._stop_and_release_children()
        super().on_failure(exception_type, exception_value, traceback)

    def describe(self) -> dict[str, Any]:
        return {
            "address": self.actor_address,
            "strategy": self.strategy.value,
            "children": [self._info(c).__dict__ for c in self._children.values()],
        }

    # ------------------------------------------------------------------ messages

    @handles(StartChild)
    def on_start_child(self, message: StartChild) -> str:
        existing = self._children.get(message.spec.address)
        if existing is not None and existing.alive:
            return message.spec.address
        self._start(message.spec)
        return message.spec.address

    @handles(StopChild)
    def on_stop_child(self, message: StopChild) -> bool:
        if message.address not in self._children:
            return False
        self._stop_children([message.address])
        self._forget(message.address)
        return True

    @handles(WhichChildren)
    def on_which_children(self, _message: WhichChildren) -> list[ChildInfo]:
        return [self._info(c) for c in self._children.values()]

    @handles(ChildExited)
    def on_child_exited(self, message: ChildExited) -> None:
        child = self._current(message.address, message.urn)
        if child is None:
            return
        child.alive = False
        if child.spec.restart is Restart.PERMANENT:
            self._restart_after_failure(child, "permanent child exited")
        else:
            self._forget(message.address)

    @handles(ChildFailed)
    def on_child_failed(self, message: ChildFailed) -> None:
        child = self._current(message.address, message.urn)
        if child is None:
            return
        child.alive = False
        self.log.warning("child_failed", child=message.address, reason=message.reason, during=message.during)
        if child.spec.escalate_to is not None:
            self._forget(message.address)
            self.tell(child.spec.escalate_to, ChildGaveUp(message.address, message.reason))
            return
        if child.spec.restart is Restart.TEMPORARY:
            self._forget(message.address)
            return
        self._restart_after_failure(child, message.reason)

    @handles(RestartChild)
    def on_restart_child(self, message: RestartChild) -> None:
        child = self._children.get(message.address)
        if child is None or child.generation != message.generation or child.alive:
            return
        self._respawn(child)

    # ------------------------------------------------------------------ restart policy

    def _restart_after_failure(self, child: _Child, reason: str) -> None:
        if self._gave_up:
            return
        now = self.ctx.clock.monotonic()
        self._restart_times.append(now)
        while self._restart_times and now - self._restart_times[0] > self.max_seconds:
            self._restart_times.popleft()
        if len(self._restart_times) == 1:
            # A quiet window has passed since the last restart: backoff starts over.
            for entry in self._children.values():
                entry.consecutive = 0
        if len(self._restart_times) > self.max_restarts:
            self._give_up(f"restart intensity exceeded ({self.max_restarts} in {self.max_seconds}s): {reason}")
            return
        affected = self._affected_by(child.spec.address)
        # Stop the siblings the strategy takes down with it, newest first.
        self._stop_children([a for a in affected if a != child.spec.address])
        for address in affected:
            target = self._children[address]
            target.restarts += 1
            target.consecutive += 1
            if target.spec.backoff_s > 0:
                delay = min(target.spec.backoff_max_s, target.spec.backoff_s * 2 ** (target.consecutive - 1))
                self.ctx.directory.reserve(address)
                self.after(delay, RestartChild(address, target.generation))
            else:
                self._respawn(target)

    def _affected_by(self, address: str) -> list[str]:
        order = list(self._children)
        if self.strategy is Strategy.ONE_FOR_ALL:
            return order
        if self.strategy is Strategy.REST_FOR_ONE:
            return order[order.index(address) :]
        return [address]

    def _give_up(self, reason: str) -> None:
        self._gave_up = True
        self.log.error("supervisor_gave_up", reason=reason)
        self._stop_and_release_children()
        if self.supervisor_address is not None:
            self.tell(self.supervisor_address, ChildFailed(self.actor_address, self.actor_urn, reason, "receive"))
            # Stop without reporting a normal exit: the failure above is what the parent must see.
            self.supervisor_address = None
        else:
            # The top of the tree gave up: the process is no longer whole. Its owner restarts it
            # (systemd in the service, the harness in the simulator) and recovery takes over.
            on_root_gave_up = self.ctx.extras.get("on_root_gave_up")
            if on_root_gave_up is not None:
                on_root_gave_up(reason)
        self.actor_ref.tell(pykka.messages._ActorStop())

    # ------------------------------------------------------------------ mechanics

    def _start(self, spec: ChildSpec) -> None:
        child = _Child(spec=spec)
        self._children[spec.address] = child
        self._respawn(child)

    def _respawn(self, child: _Child) -> None:
        spec = child.spec
        self.ctx.directory.reserve(spec.address)
        child.generation += 1
        ref = self.ctx.runtime.spawn(
            spec.actor_class,
            self.ctx,
            spec.address,
            self.actor_address,
            *spec.args,
            incarnation=child.generation,
            **dict(spec.kwargs),
        )
        child.ref = ref
        child.urn = ref.actor_urn
        child.alive = True
        self.ctx.directory.register(spec.address, ref)

    def _stop_children(self, addresses: list[str]) -> None:
        for address in reversed(addresses):
            child = self._children.get(address)
            if child is None or child.ref is None or not child.alive:
                continue
            child.alive = False
            # Hold messages while it is down; a restart delivers them, a forget dead-letters them.
            self.ctx.directory.reserve(address)
            with contextlib.suppress(pykka.Timeout):
                child.ref.stop(block=True, timeout=child.spec.shutdown_timeout_s)
            # stop() answers False both for a timeout and for an actor that was already gone.
            if child.ref.is_alive():
                self.log.error("child_shutdown_timeout", child=address)

    def _stop_and_release_children(self) -> None:
        """All children stopped and their addresses released: they are gone with this supervisor,
        and whoever starts the work again (a restarted parent, recovery) starts them anew instead
        of finding messages held for a successor that will never come."""
        self._stop_children(list(self._children))
        for address in list(self._children):
            self._forget(address)

    def _forget(self, address: str) -> None:
        self._children.pop(address, None)
        self.ctx.directory.release(address)

    def _current(self, address: str, urn: str) -> _Child | None:
        """The child entry if the report comes from its current instance (stale reports are ignored)."""
        child = self._children.get(address)
        if child is None or child.urn != urn:
            return None
        return child

    def _info(self, child: _Child) -> ChildInfo:
        return ChildInfo(
            address=child.spec.address,
            actor_class=child.spec.actor_class.__name__,
            restart=child.spec.restart,
            restarts=child.restarts,
            alive=bool(child.alive and child.ref is not None and child.ref.is_alive()),
            is_supervisor=issubclass(child.spec.actor_class, Supervisor),
        )
