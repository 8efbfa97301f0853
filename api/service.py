"""The service: one process, one broker account, the actor system on threads, LMDB in a directory.

This is the façade the HTTP API and the process drills talk to. `build_broker` picks the broker:
the simulated exchange in-process on the real clock (the embedded default), or Kite (or the Kite
protocol served by `legguard sim-exchange`) through the official client.
"""

from __future__ import annotations

import contextlib
import secrets
import threading
from dataclasses import dataclass
from typing import Any

import pykka

from actors.messages import FailGroup, GroupAccepted
from actors.system import System, start_system
from domain.errors import Denied
from domain.instruments import InstrumentUniverse
from runtime.actors import ThreadRuntime
from runtime.clock import SystemClock
from runtime.config import Settings, StorageConfig
from runtime.faults import FaultPlan, NoFaults
from runtime.ids import IdGen, new_instance_id
from storage.env import close_env, open_env
from storage.store import Store
from supervision.context import ActorContext
from supervision.directory import Directory
from supervision.messages import WhichChildren


@dataclass
class BrokerChoice:
    broker: Any
    universe: InstrumentUniverse
    close: Any = None


def build_broker(settings: Settings, clock: SystemClock, *, seed: int = 1) -> BrokerChoice:
    if settings.broker == "kite":
        from brokers.kite import KiteBroker, KitePushChannel

        push = KitePushChannel(settings.kite, clock=clock)
        broker = KiteBroker(settings.kite, rules=settings.rules, clock=clock, push=push)
        freeze = {u.name: u.freeze_quantity for u in settings.underlyings}
        universe = InstrumentUniverse(broker.instruments(freeze))
        return BrokerChoice(broker, universe, broker.close)
    from runtime.rng import RandomStreams
    from sim.broker import SimBroker
    from sim.exchange import Exchange
    from sim.exchange.config import ExchangeConfig

    exchange = Exchange(clock, RandomStreams(seed), config=ExchangeConfig(rules=settings.rules))
    return BrokerChoice(SimBroker(exchange), exchange.universe, exchange.close)


class Service:
    def __init__(
        self,
        settings: Settings,
        *,
        broker: Any,
        universe: InstrumentUniverse,
        data_dir: str,
        clock: SystemClock | None = None,
        faults: FaultPlan | None = None,
        map_size: int | None = None,
        on_root_gave_up: Any = None,
    ) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        self.runtime = ThreadRuntime(clock=self.clock, pool_workers=settings.execution.actor_pool_workers)
        storage = StorageConfig(path=data_dir, map_size=map_size or settings.storage.map_size)
        self.env = open_env(storage)
        self.store = Store(self.env)
        self.boot = self.store.next_boot()
        self.ctx = ActorContext(
            runtime=self.runtime,
            settings=settings,
            directory=Directory(),
            ids=IdGen(self.boot, self.store.instance_id(lambda: new_instance_id(secrets.randbits(64)))),
            store=self.store,
            universe=universe,
            faults=faults or NoFaults(),
            extras={"broker": broker, "on_root_gave_up": on_root_gave_up or self._tree_gave_up},
        )
        self.system: System = start_system(self.ctx)
        self._closed = threading.Event()

    def _tree_gave_up(self, reason: str) -> None:
        self.gave_up = reason

    gave_up: str = ""

    # ------------------------------------------------------------------ what the API calls

    def submit_and_wait(self, payload: Any, timeout: float) -> GroupAccepted:
        future = self.system.submit(payload)
        try:
            accepted: GroupAccepted = future.get(timeout=timeout)
        except Denied:
            raise
        return accepted

    def submit_intent_and_wait(self, payload: Any, timeout: float) -> GroupAccepted:
        accepted: GroupAccepted = self.system.submit_intent(payload).get(timeout=timeout)
        return accepted

    def cancel(self, group_id: str, reason: str) -> None:
        self.ctx.directory.tell(f"group/{group_id}", FailGroup(reason))

    def kill_switch(self, engaged: bool, reason: str) -> dict[str, Any]:
        from actors.messages import KillSwitch

        future = self.system.ask("risk", KillSwitch(engaged, reason))
        return dict(future.get(timeout=10.0))

    def health(self) -> dict[str, Any]:
        risk = self.system.describe("risk")
        if risk is None:
            # The gate is not up yet (or restarting): nothing is being accepted.
            return {"boot": self.boot, "recovering": True, "trading_state": None, "open_groups": None}
        return {
            "boot": self.boot,
            "recovering": bool(risk.get("recovering")) or bool(risk.get("broker_reconciling")),
            "trading_state": risk.get("trading_state"),
            "open_groups": risk.get("open_groups"),
            # Workers of the actor pool: live, idle, blocked on a future, actors ready to run.
            "actor_pool": self.runtime.pool.describe() if self.runtime.pool is not None else None,
        }

    def tree(self, address: str = "root") -> dict[str, Any]:
        ref = self.ctx.directory.lookup(address)
        if ref is None:
            return {"address": address, "alive": False}
        node: dict[str, Any] = {"address": address, "alive": True}
        try:
            children = ref.ask(WhichChildren(), timeout=5.0)
        except (pykka.Timeout, pykka.ActorDeadError):
            return node
        if isinstance(children, list):
            node["children"] = [
                {
                    "restarts": c.restarts,
                    "restart": c.restart.value,
                    "class": c.actor_class,
                    **(self.tree(c.address) if c.is_supervisor else {"address": c.address, "alive": c.alive}),
                }
                for c in children
            ]
        return node

    def wait_recovered(self, timeout: float = 60.0) -> bool:
        deadline = self.clock.monotonic() + timeout
        while self.clock.monotonic() < deadline:
            if not self.health()["recovering"]:
                return True
            self._closed.wait(0.01)  # a bounded wait between two asks, on the service's own clock
        return False

    def close(self) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        try:
            root = self.system.root
            if root.is_alive():
                with contextlib.suppress(pykka.Timeout):
                    root.stop(block=True, timeout=15.0)
            with contextlib.suppress(pykka.Timeout):
                pykka.ActorRegistry.stop_all(block=True, timeout=5.0)
        finally:
            self.runtime.close()
            close_env(self.env)
