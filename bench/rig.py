"""The service under test: the same wiring as `api.service.Service` (threaded actors, real clock,
LMDB with sync + metasync in a data directory), over the in-process simulated exchange, plus the
bench's probe and watcher.

Service builds its ActorContext inside its constructor and starts the tree at once, so there is no
seam to hand the gateway a probe before it starts; `Rig.start` repeats those few lines with
`extras["probe"]` added, and must follow `Service.__init__` when it changes (proposed instead: a
`Service(extras=...)` argument, see docs/benchmarks.md).
"""

from __future__ import annotations

import contextlib
import dataclasses
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import pykka

from actors.system import System, start_system
from bench.probe import GatewayProbe
from bench.watcher import WATCHER, GroupWatcher, WatchBoard
from runtime.actors import ThreadRuntime
from runtime.clock import SystemClock
from runtime.config import ExchangeRules, Settings, StorageConfig
from runtime.ids import IdGen, new_instance_id
from runtime.rng import RandomStreams
from sim.broker import SimBroker
from sim.exchange import Exchange, ExchangeConfig, LatencyConfig, MarginConfig
from storage.env import StorageEnv, close_env, open_env
from storage.store import Store
from supervision.context import ActorContext
from supervision.directory import Directory

# Kite's 10 orders/s would cap a 4-leg bench at 2.5 groups/s; every figure here runs with the
# account limits raised (in the settings AND in the simulated exchange), and the output says so.
BENCH_RULES = ExchangeRules(
    orders_per_second=1_000_000, orders_per_minute=60_000_000, orders_per_day=1_000_000_000
)
BENCH_FUNDS = 1e13  # so the exchange's margin check never refuses a bench order
MAP_SIZE = 1 << 31


def watchers() -> tuple[str, ...]:
    """The group's own watchers (risk, margin, ...) with the bench's added, not replacing them."""
    import actors.group

    return (*getattr(actors.group, "GROUP_WATCHERS", ("risk",)), WATCHER)


# Held short legs must stay in flight while a thousand groups are built (the default 5 s would fail
# them and flatten them before the memory and recovery figures are taken).
RISK_FILL_TIMEOUT_S = 3600.0


def bench_settings(base: Settings | None = None) -> Settings:
    """`base` (defaults, or the --config file) with the account limits raised for the bench."""
    base = base or Settings()
    return base.replace(
        rules=dataclasses.replace(
            base.rules,
            orders_per_second=BENCH_RULES.orders_per_second,
            orders_per_minute=BENCH_RULES.orders_per_minute,
            orders_per_day=BENCH_RULES.orders_per_day,
        ),
        execution=dataclasses.replace(
            base.execution, emergency_lane_per_second=100_000, risk_fill_timeout_s=RISK_FILL_TIMEOUT_S
        ),
        risk=dataclasses.replace(base.risk, max_open_groups=1_000_000),
    )


def bench_exchange(clock: SystemClock, settings: Settings, *, seed: int = 7) -> Exchange:
    config = ExchangeConfig(
        rules=settings.rules,
        latency=LatencyConfig.zero(),
        margin=dataclasses.replace(MarginConfig(), funds=BENCH_FUNDS),
        # The exchange's own RMS margin check prices a SPAN grid per order on legguard's CPU (the
        # simulated exchange runs in-process); a real exchange does that on its own machines.
        check_margin=False,
    )
    return Exchange(clock, RandomStreams(seed), config=config)


@dataclass
class Rig:
    settings: Settings
    exchange: Exchange
    clock: SystemClock
    data_dir: str
    probe: GatewayProbe = field(default_factory=GatewayProbe)
    board: WatchBoard = field(default_factory=WatchBoard)
    broker: SimBroker | None = None
    env: StorageEnv | None = None
    store: Store | None = None
    ctx: ActorContext | None = None
    system: System | None = None
    spare: frozenset[str] = frozenset()
    gave_up: str = ""

    def start(self) -> Rig:
        """Service.__init__, step by step, with the probe and the watcher in the extras."""
        # Actors of an earlier service that are still winding down are not this rig's to wait for.
        self.spare = frozenset(ref.actor_urn for ref in pykka.ActorRegistry.get_all())
        self.broker = SimBroker(self.exchange)
        runtime = ThreadRuntime(clock=self.clock, pool_workers=self.settings.execution.actor_pool_workers)
        self.env = open_env(StorageConfig(path=self.data_dir, map_size=MAP_SIZE))
        self.store = Store(self.env)
        directory = Directory()
        directory.register(WATCHER, runtime.spawn(GroupWatcher, self.board))
        self.ctx = ActorContext(
            runtime=runtime,
            settings=self.settings,
            directory=directory,
            ids=IdGen(self.store.next_boot(), self.store.instance_id(lambda: new_instance_id(secrets.randbits(64)))),
            store=self.store,
            universe=self.exchange.universe,
            extras={
                "broker": self.broker,
                "on_root_gave_up": self._root_gave_up,
                "group_watchers": watchers(),
                "probe": self.probe,
            },
        )
        self.system = start_system(self.ctx)
        return self

    def _root_gave_up(self, reason: str) -> None:
        self.gave_up = reason

    def submit(self, payload: dict[str, Any]) -> Any:
        assert self.system is not None
        return self.system.submit(payload)

    def stop(self) -> list[str]:
        """Stop every actor and close LMDB. No actor writes on the way down (no `stopping` hook
        persists anything), so what is on disk is what a SIGKILL at this moment would leave.
        Returns notes on a slow shutdown (it never raises: the figures are already taken)."""
        if self.broker is not None:
            self.broker.close()  # the dead process's push channel goes with it
        notes: list[str] = []
        if self.system is not None and self.system.root.is_alive():
            try:
                self.system.root.stop(block=True, timeout=60.0)
            except pykka.Timeout:
                notes.append("the root supervisor did not stop within 60 s")
        notes += stop_every_actor(spare=self.spare)
        if self.ctx is not None:
            self.ctx.runtime.close()
        if self.env is not None:
            close_env(self.env)
            self.env = None
        return notes


def stop_every_actor(deadline_s: float = 60.0, *, spare: frozenset[str] = frozenset()) -> list[str]:
    """Stop the actors left (all but the urns in `spare`), without blocking on any one of them: a
    tree of thousands of actors stops child by child with blocking stops, and pykka's
    `stop_all(block=True)` raises on the first actor slower than its timeout. Returns notes."""
    began = time.monotonic()

    def left() -> list[pykka.ActorRef[Any]]:
        return [ref for ref in pykka.ActorRegistry.get_all() if ref.actor_urn not in spare]

    while left():
        for ref in reversed(left()):
            with contextlib.suppress(pykka.ActorDeadError):
                ref.stop(block=False)
        if time.monotonic() - began > deadline_s:
            names = sorted({ref.actor_class.__name__ for ref in left()})
            return [f"{len(left())} actors ({', '.join(names)}) still busy {deadline_s:.0f} s after stop; left behind"]
        time.sleep(0.2)
    elapsed = time.monotonic() - began
    return [f"stopping the remaining actors took {elapsed:.1f} s"] if elapsed > 5.0 else []
