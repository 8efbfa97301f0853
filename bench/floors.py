"""The physical floor of "an order update arrives → the state change is durable → the next order is
sent": one pykka tell round trip between two ThreadingActors plus one durable LMDB commit (sync +
metasync) of a batch the size of a reversal's (leg snapshot, child snapshot, intent).

Actor A stamps the time and tells B; B commits the batch through `Store.commit` and tells A back;
A stamps again. Samples are taken one at a time, interleaved with the reaction events, so the floor
sees the same machine the measurement does.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from typing import Any

import pykka

from runtime.config import StorageConfig
from storage.batch import Batch
from storage.env import close_env, open_env
from storage.store import Store

WAIT_S = 10.0


@dataclass(frozen=True)
class ReversalShape:
    """The bodies a reversal commits, copied from a real one: the floor commits the same bytes."""

    leg_body: dict[str, Any]
    child_body: dict[str, Any]
    intent_body: dict[str, Any]


@dataclass(frozen=True)
class _Go:
    seq: int
    commit: bool


@dataclass(frozen=True)
class _Back:
    seq: int


class _Committer(pykka.ThreadingActor):
    def __init__(self, store: Store, shape: ReversalShape) -> None:
        super().__init__()
        self.store = store
        self.shape = shape

    def on_receive(self, message: Any) -> None:
        go, reply_to = message
        if go.commit:
            shape = self.shape
            batch = (
                Batch()
                .put_snapshot("floor/l", go.seq, shape.leg_body)
                .put_snapshot("floor/c", go.seq, shape.child_body)
                .put_intent(f"FLOOR{go.seq}", shape.intent_body)
            )
            result = self.store.commit(batch)
            if not result.ok:
                raise RuntimeError(str(result))
        reply_to.tell(_Back(go.seq))


class _Stamps:
    """Shared between the stamping actor and the bench thread that waits for it."""

    def __init__(self) -> None:
        self.started_ns = 0
        self.elapsed_ns = 0
        self.done = threading.Event()


class _Stamper(pykka.ThreadingActor):
    def __init__(self, peer: pykka.ActorRef[Any], stamps: _Stamps) -> None:
        super().__init__()
        self.peer = peer
        self.stamps = stamps

    def on_receive(self, message: Any) -> None:
        if isinstance(message, _Go):
            self.stamps.started_ns = time.perf_counter_ns()
            self.peer.tell((message, self.actor_ref))
        elif isinstance(message, _Back):
            self.stamps.elapsed_ns = time.perf_counter_ns() - self.stamps.started_ns
            self.stamps.done.set()


class Floor:
    """Two actors and a store of their own, on the same disk as the bench's data directory."""

    def __init__(self, directory: str, shape: ReversalShape) -> None:
        self.env = open_env(StorageConfig(path=os.path.join(directory, "floor"), map_size=1 << 28))
        self.stamps = _Stamps()
        self.committer = _Committer.start(Store(self.env), shape)
        self.stamper = _Stamper.start(self.committer, self.stamps)
        self.seq = 0
        self.samples_ns: list[int] = []  # round trip + commit
        self.tell_only_ns: list[int] = []
        self.commit_only_ns: list[int] = []
        self._store = Store(self.env)
        self._shape = shape

    def sample(self) -> None:
        """One floor sample, plus one bare round trip and one bare commit (the parts of the floor)."""
        self.samples_ns.append(self._round_trip(commit=True))
        self.tell_only_ns.append(self._round_trip(commit=False))
        self.seq += 1
        shape = self._shape
        batch = (
            Batch()
            .put_snapshot("solo/l", self.seq, shape.leg_body)
            .put_snapshot("solo/c", self.seq, shape.child_body)
            .put_intent(f"SOLO{self.seq}", shape.intent_body)
        )
        began = time.perf_counter_ns()
        self._store.commit(batch)
        self.commit_only_ns.append(time.perf_counter_ns() - began)

    def _round_trip(self, *, commit: bool) -> int:
        self.seq += 1
        self.stamps.done.clear()
        self.stamper.tell(_Go(self.seq, commit))
        if not self.stamps.done.wait(WAIT_S):
            raise TimeoutError("floor round trip did not come back")
        return self.stamps.elapsed_ns

    def close(self) -> None:
        self.stamper.stop()
        self.committer.stop()
        close_env(self.env)
