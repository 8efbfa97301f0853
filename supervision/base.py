"""The supervised actor base class: every failure becomes a message to the supervisor.

pykka's own behaviour, and what this class does about each case:

- a `tell` handler raises: pykka stops the actor, drops its queued tells, fails its queued asks and
  calls `on_failure` → we report `ChildFailed` to the supervisor, which restarts per its strategy;
- `on_start` raises: pykka only logs and stops → we report `ChildFailed(during="start")` first;
- a BaseException (SystemExit, an injected hard crash): pykka would stop *every* actor in the
  process → we contain it as an ordinary failure of this one actor. greenlet's GreenletExit is let
  through: the simulator uses it to discard actors in a simulated process crash.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

import pykka
import structlog
from greenlet import GreenletExit

from runtime.faults import InjectedCrash
from supervision.context import ActorContext
from supervision.messages import ChildExited, ChildFailed, Describe, Poison

M = TypeVar("M")


def _is_unwind(exc: BaseException) -> bool:
    """A runtime unwinding an actor on purpose (greenlet exit, a simulated process crash)."""
    return isinstance(exc, GreenletExit) or bool(getattr(type(exc), "legguard_unwind", False))


class ContainedFailure(Exception):
    """A BaseException raised in an actor, turned into an ordinary failure of that actor."""


def handles(*message_types: type[Any]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Mark a method as the handler of the given message types."""

    def mark(method: Callable[..., Any]) -> Callable[..., Any]:
        method._legguard_handles = message_types  # type: ignore[attr-defined]
        return method

    return mark


class SupervisedActor(pykka.Actor):
    _handlers: ClassVar[dict[type[Any], str]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        table: dict[type[Any], str] = {}
        for klass in reversed(cls.__mro__):
            for name, member in vars(klass).items():
                for message_type in getattr(member, "_legguard_handles", ()):
                    table[message_type] = name
        cls._handlers = table

    def __init__(self, ctx: ActorContext, address: str, supervisor: str | None = None, *, incarnation: int = 1) -> None:
        self.ctx = ctx
        self.actor_address = address
        self.supervisor_address = supervisor
        # 1 for the first start; a supervisor restart passes 2, 3, ...: the actor must rehydrate.
        self.incarnation = incarnation
        self._failed = False
        self.log = structlog.get_logger(type(self).__name__).bind(address=address)
        super().__init__()

    # ------------------------------------------------------------------ hooks for subclasses

    def started(self) -> None:
        """Runs in the actor's own context before any message: rehydrate, reconcile, arm timers."""

    def stopping(self) -> None:
        """Runs when the actor stops normally."""

    def describe(self) -> dict[str, Any]:
        return {"address": self.actor_address}

    @property
    def restarted(self) -> bool:
        return self.incarnation > 1

    # ------------------------------------------------------------------ pykka hooks

    def on_start(self) -> None:
        try:
            self.started()
        except Exception as exc:
            self._report_failure(exc, during="start")
            raise
        except BaseException as exc:
            if _is_unwind(exc):
                raise
            self._report_failure(exc, during="start")
            raise ContainedFailure(repr(exc)) from exc

    def on_receive(self, message: Any) -> Any:
        name = self._handlers.get(type(message))
        if name is None:
            if isinstance(message, Describe):
                return self.describe()
            if isinstance(message, Poison):
                raise InjectedCrash(f"poison: {message.reason}")
            self.log.warning("unhandled_message", message_type=type(message).__name__)
            return None
        try:
            return getattr(self, name)(message)
        except Exception:
            raise
        except BaseException as exc:
            if _is_unwind(exc):
                raise
            raise ContainedFailure(repr(exc)) from exc

    def on_failure(self, exception_type: Any, exception_value: Any, traceback: Any) -> None:
        if exception_value is not None and _is_unwind(exception_value):
            return
        self._report_failure(exception_value, during="receive")

    def on_stop(self) -> None:
        try:
            self.stopping()
        finally:
            if self.supervisor_address is not None:
                self.ctx.tell(self.supervisor_address, ChildExited(self.actor_address, self.actor_urn))

    # ------------------------------------------------------------------ helpers

    def tell(self, address: str, message: Any) -> bool:
        return self.ctx.directory.tell(address, message)

    def tell_self(self, message: Any) -> None:
        self.actor_ref.tell(message)

    def after(self, delay: float, message: Any) -> Any:
        """Deliver `message` to this actor after `delay` seconds of the injected clock."""
        ref = self.actor_ref

        def fire() -> None:
            # A timer armed by an instance that has since died is dropped: its successor re-arms.
            with contextlib.suppress(pykka.ActorDeadError):
                ref.tell(message)

        return self.ctx.clock.call_later(delay, fire)

    def _actor_loop_teardown(self) -> None:
        """pykka drops the tells still queued when an actor dies. After a failure we hand them to
        the directory instead, ahead of anything sent since, so the successor gets them in order;
        asks are failed as pykka does (their callers hear of it). After a normal stop they go."""
        salvaged: list[Any] = []
        while not self.actor_inbox.empty():
            envelope = self.actor_inbox.get()
            if envelope.reply_to is not None:
                if isinstance(envelope.message, pykka.messages._ActorStop):
                    envelope.reply_to.set(None)
                else:
                    dead = pykka.ActorDeadError(f"{self.actor_ref} stopped before handling the message")
                    envelope.reply_to.set_exception(exc_info=(pykka.ActorDeadError, dead, None))
            elif self._failed and not isinstance(envelope.message, pykka.messages._ActorStop):
                salvaged.append(envelope.message)
        if salvaged:
            self.ctx.directory.salvage(self.actor_address, salvaged)

    def _report_failure(self, exc: BaseException | None, *, during: str) -> None:
        self._failed = True
        reason = repr(exc) if exc is not None else "unknown"
        self.log.error("actor_failed", during=during, reason=reason)
        if self.supervisor_address is not None:
            self.ctx.tell(self.supervisor_address, ChildFailed(self.actor_address, self.actor_urn, reason, during))
