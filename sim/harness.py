"""The simulator harness: the real actor system on the deterministic runtime, against the simulated
exchange, over real LMDB files.

A process crash drops every actor and everything in memory (directory, ids, the broker session) and
runs the real startup path again over the same data directory; the exchange, which in reality is
another process, keeps running.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pykka

from actors.messages import GroupAccepted
from actors.system import System, start_system
from domain.plan import GroupRecord
from runtime.config import Settings, StorageConfig
from runtime.faults import FaultPlan, NoFaults
from runtime.ids import IdGen, new_instance_id
from sim.broker import SimBroker
from sim.exchange import Exchange
from sim.exchange.config import ExchangeConfig
from sim.runtime import ProcessCrashed, SimRuntime
from storage import keys
from storage.env import close_env, open_env
from storage.store import Store
from supervision.context import ActorContext
from supervision.directory import Directory
from supervision.messages import Describe


class CheckingBroker(SimBroker):
    """SimBroker that checks invariant 4 at the moment of sending: the intent must already be durable."""

    def __init__(self, exchange: Exchange, store: Store, violations: list[str]) -> None:
        super().__init__(exchange)
        self._store = store
        self._violations = violations

    def place_order(self, request: Any) -> str:
        if self._store.intent(request.tag) is None:
            self._violations.append(f"I4 tag {request.tag} sent before its intent was durable")
        return super().place_order(request)


def is_exchange_timer(timer: Any) -> bool:
    """Timers the exchange armed: they belong to the other process and survive our crash."""
    return str(getattr(timer.fn, "__module__", "")).startswith("sim.exchange")


@dataclass
class HarnessOptions:
    settings: Settings = field(default_factory=Settings)
    exchange: ExchangeConfig = field(default_factory=ExchangeConfig)
    universe: Any = None
    map_size: int = 1 << 28


class Harness:
    def __init__(
        self,
        seed: int,
        data_dir: str | Path | None = None,
        *,
        options: HarnessOptions | None = None,
        faults: Callable[[Harness], FaultPlan] | None = None,
    ) -> None:
        self.seed = seed
        self.options = options or HarnessOptions()
        self._own_dir = data_dir is None
        self.data_dir = Path(data_dir) if data_dir is not None else Path(tempfile.mkdtemp(prefix="legguard-sim-"))
        self.runtime = SimRuntime(seed)
        self.exchange = Exchange(
            self.runtime.clock,
            self.runtime.rng,
            config=self.options.exchange,
            universe=self.options.universe,
            trace=self.runtime.trace,
        )
        self.env = open_env(StorageConfig(path=str(self.data_dir), map_size=self.options.map_size, sync=False))
        self.store = Store(self.env)
        self._fault_factory = faults
        self.process_crashes = 0
        self.root_give_ups = 0
        self.closing = False
        self.violations: list[str] = []
        self.broker: SimBroker | None = None
        self.system: System | None = None
        self.ctx: ActorContext | None = None
        self.boot()

    # ------------------------------------------------------------------ process lifecycle

    def boot(self) -> None:
        """The real startup path: a new boot number, directory, broker session and supervision tree."""
        self.broker = CheckingBroker(self.exchange, self.store, self.violations)
        faults = self._fault_factory(self) if self._fault_factory else NoFaults()
        self.ctx = ActorContext(
            runtime=self.runtime,
            settings=self.options.settings,
            directory=Directory(),
            ids=IdGen(
                self.store.next_boot(),
                # Seeded, so a run stays a pure function of its seed.
                self.store.instance_id(lambda: new_instance_id(self.runtime.rng.stream("ids").getrandbits(64))),
            ),
            store=self.store,
            universe=self.exchange.universe,
            faults=faults,
            extras={"broker": self.broker, "on_root_gave_up": self._root_gave_up},
        )
        self.system = start_system(self.ctx)

    def _root_gave_up(self, reason: str) -> None:
        """A restart storm took the whole tree down: like the platform restarting the process."""
        if self.closing:
            return
        self.root_give_ups += 1
        self.runtime.crash(keep_timers=is_exchange_timer)

    def crash(self) -> None:
        """kill -9 of the legguard process: the exchange and the disk stay."""
        self.process_crashes += 1
        if self.broker is not None:
            self.broker.close()
        self.runtime.crash(keep_timers=is_exchange_timer)
        self.boot()

    def close(self) -> None:
        self.closing = True
        try:
            # The tree first, top down, so no supervisor restarts a child that shutdown stopped.
            if self.system is not None and self.system.root.is_alive():
                with contextlib.suppress(Exception):
                    self.runtime.wait(self.system.root.stop(block=False), 30.0)
            self.runtime.shutdown(timeout=30.0)
        finally:
            close_env(self.env)
            if self._own_dir:
                shutil.rmtree(self.data_dir, ignore_errors=True)

    # ------------------------------------------------------------------ driving

    def run_until(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Run until `predicate` holds; a process crash raised by a fault point reboots and goes on."""
        deadline = self.runtime.clock.monotonic() + timeout
        while True:
            remaining = deadline - self.runtime.clock.monotonic()
            if remaining <= 0:
                return predicate()
            try:
                return self.runtime.run_until(predicate, timeout=remaining)
            except ProcessCrashed:
                self.crash()

    def run_for(self, seconds: float) -> None:
        self.run_until(lambda: False, seconds)

    def wait_recovered(self, timeout: float = 120.0) -> bool:
        return self.run_until(self.recovered, timeout)

    def recovered(self) -> bool:
        state = self.describe("risk")
        return bool(state) and not state["recovering"] and not state.get("broker_reconciling", False)

    def describe(self, address: str) -> Any:
        assert self.ctx is not None
        ref = self.ctx.directory.lookup(address)
        if ref is None:
            return None
        future = ref.ask(Describe(), block=False)
        try:
            return self.runtime.wait(future, 5.0)
        except ProcessCrashed:
            self.crash()
            return None
        except pykka.ActorDeadError:
            return None  # it died with the question in its inbox; ask again later

    def submit(self, payload: dict[str, Any], timeout: float = 30.0) -> GroupAccepted:
        """Submit through the gate and wait (virtual time) for the answer; raises Denied."""
        while True:
            assert self.system is not None
            future = self.system.submit(payload)
            try:
                return self.runtime.wait(future, timeout)  # type: ignore[no-any-return]
            except ProcessCrashed:
                self.crash()
                self.wait_recovered()

    def submit_intent(self, payload: dict[str, Any], timeout: float = 30.0) -> GroupAccepted:
        assert self.system is not None
        return self.runtime.wait(self.system.submit_intent(payload), timeout)  # type: ignore[no-any-return]

    def ask(self, address: str, message: Any, timeout: float = 30.0) -> Any:
        """Ask an actor from the driver (virtual time); a process crash meanwhile reboots and retries."""
        while True:
            assert self.system is not None
            try:
                return self.runtime.wait(self.system.ask(address, message), timeout)
            except ProcessCrashed:
                self.crash()
                self.wait_recovered()

    def group(self, group_id: str) -> GroupRecord | None:
        found = self.store.snapshot(keys.group_key(group_id))
        return GroupRecord.from_record(found[1]) if found else None

    def settled(self, group_id: str) -> bool:
        # The open-group index is cheap to read; the record is decoded only once it says settled.
        if group_id in self.store.open_groups():
            return False
        record = self.group(group_id)
        return record is not None and record.settled

    def run_until_settled(self, group_ids: list[str], timeout: float = 600.0) -> bool:
        return self.run_until(lambda: all(self.settled(g) for g in group_ids), timeout)
