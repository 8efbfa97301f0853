"""A group watcher: one more name in `group_watchers`, so the bench hears every group transition.

The group actor publishes `GroupChanged` to its watchers (risk, and here "bench"); this actor keeps
when each group was first seen and when it settled, and how many were in flight at most. It adds
one tell per transition to the system under test, the same as any other watcher would.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pykka

from actors.messages import GroupChanged

WATCHER = "bench"


class GroupWatcher(pykka.Actor):
    def __init__(self, board: WatchBoard) -> None:
        super().__init__()
        self.board = board

    def on_receive(self, message: Any) -> None:
        if isinstance(message, GroupChanged):
            self.board.changed(message)


class WatchBoard:
    """Shared with the bench's own thread: a condition guards the counts it waits on."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.first_seen: dict[str, int] = {}
        self.settled: dict[str, tuple[int, str, str]] = {}  # group id -> (ns, state, outcome)
        self.in_flight = 0
        self.max_in_flight = 0

    def changed(self, message: GroupChanged) -> None:
        now = time.perf_counter_ns()
        with self._cond:
            if message.group_id not in self.first_seen:
                self.first_seen[message.group_id] = now
                self.in_flight += 1
                self.max_in_flight = max(self.max_in_flight, self.in_flight)
            if message.outcome and message.group_id not in self.settled:
                self.settled[message.group_id] = (now, message.state, message.outcome)
                self.in_flight -= 1
                self._cond.notify_all()

    def wait_settled(self, count: int, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: len(self.settled) >= count, timeout)

    def wait_group(self, group_id: str, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: group_id in self.settled, timeout)

    def reset_peak(self) -> None:
        with self._cond:
            self.max_in_flight = self.in_flight
