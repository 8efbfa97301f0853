"""pykka's Future on the simulated runtime.

`get()` never blocks a thread. Inside an actor it parks the actor's greenlet until the future is
set or a virtual-time timer expires; from the driver it runs the scheduler until then (see
`_parking`). Each runtime has its own subclass carrying `_scheduler`, because pykka builds
derived futures (join, map, filter, reduce, the converter of `ActorRef.stop`) with
`self.__class__()`.
"""

from __future__ import annotations

import queue
import sys
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import pykka

from sim.runtime._parking import await_future, wake

if TYPE_CHECKING:
    from pykka._future import GetHookFunc
    from pykka._types import OptExcInfo

    from sim.runtime._inbox import SimInbox
    from sim.runtime._scheduler import Scheduler

T = TypeVar("T")


class SimFuture(pykka.Future[T]):
    _scheduler: ClassVar[Scheduler]

    def __init__(self) -> None:
        super().__init__()
        self._sim_result: tuple[Any, OptExcInfo | None] | None = None
        self._sim_waiters: list[SimInbox] | None = None
        self._sim_setter: SimInbox | None = None  # the actor whose inbox holds the ask
        self._sim_request: Any = None  # the ask's message, for deadlock reports

    def get(self, *, timeout: float | None = None) -> Any:
        if self._get_hook is not None:
            return super().get(timeout=timeout)
        if self._sim_result is None:
            await_future(self, timeout)
        value, exc_info = self._sim_result  # type: ignore[misc]
        if exc_info is None:
            return value
        exc_type, exc_value, exc_traceback = exc_info
        assert exc_type is not None
        if exc_value is None:
            exc_value = exc_type()
        if exc_value.__traceback__ is not exc_traceback:
            raise exc_value.with_traceback(exc_traceback)
        raise exc_value

    def set(self, value: Any | None = None) -> None:
        self._settle((value, None))

    def set_exception(self, exc_info: OptExcInfo | None = None) -> None:
        assert exc_info is None or len(exc_info) == 3
        self._settle((None, exc_info if exc_info is not None else sys.exc_info()))

    def set_get_hook(self, func: GetHookFunc[T]) -> None:
        if self._sim_result is not None:
            raise queue.Full  # as ThreadingFuture: a future is settled once
        super().set_get_hook(func)

    def done(self) -> bool:
        """Whether a value or an exception is set (a hook future is never done)."""
        return self._sim_result is not None

    def _settle(self, result: tuple[Any, OptExcInfo | None]) -> None:
        if self._sim_result is not None or self._get_hook is not None:
            raise queue.Full  # as ThreadingFuture: a future is settled once
        self._sim_result = result
        if self._sim_waiters:
            wake(self)
