"""The actor-kill drill: Poison to random actors of a running threaded service while groups execute.

The service is the real one (`api.service.Service`: pykka threads, LMDB, the real clock) against the
simulated exchange in-process, so the invariants are checked against the exchange's own ledger.
Targets come from the supervision directory: child orders, legs, groups, group supervisors, and the
root's children (gateway, writer, risk, the groups supervisor, ...). Kills are paced under the
restart limits the tree is configured with (a group's supervisor gives up past 5 restarts in 10 s,
the root past 10 in 10 s): going past them on purpose is the restart-storm drill, not this one.

After the last kill every group must settle (COMPLETE, FLAT or ESCALATED) with every invariant held.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from api.service import Service
from domain.errors import Denied
from domain.instruments import UnderlyingSpec
from runtime.clock import SystemClock
from runtime.config import Settings
from runtime.rng import RandomStreams
from sim.broker import SimBroker
from sim.drill.checks import check_run, group_finished, group_record, stored_group_ids
from sim.drill.params import GroupPlan
from sim.drill.workload import MarketView, group_payload
from sim.exchange import Exchange
from sim.exchange.config import ExchangeConfig, FaultConfig, Latency, LatencyConfig
from sim.exchange.universe import build_universe, default_listings
from supervision.messages import Poison

ROOT_CHILDREN = ("writer", "gateway", "escalation", "margin", "market", "exposure", "stops", "groups", "risk")
ROOT_LIMIT = (6, 10.0)  # at most 6 root-level kills in any 10 s (the root gives up past 10)
GROUP_LIMIT = (4, 10.0)  # at most 4 kills per group in any 10 s (its supervisor gives up past 5)
SETTLE_TIMEOUT_S = 60.0
SUBMIT_TIMEOUT_S = 3.0
ALL_TARGETS = ("child", "leg", "group", "groupsup", *ROOT_CHILDREN)


class _CheckingBroker(SimBroker):
    """Invariant 4 at the moment of sending: the intent must already be durable."""

    store: Any = None

    def __init__(self, exchange: Exchange, violations: list[str]) -> None:
        super().__init__(exchange)
        self._violations = violations

    def place_order(self, request: Any) -> str:
        if self.store is not None and self.store.intent(request.tag) is None:
            self._violations.append(f"I4 tag {request.tag} sent before its intent was durable")
        return super().place_order(request)


@dataclass
class ActorKillResult:
    seed: int
    kills_planned: int
    targets: tuple[str, ...] = ()
    kills: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    groups: dict[str, str] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0
    orders: int = 0

    @property
    def ok(self) -> bool:
        return not self.violations and not self.errors

    def replay_command(self) -> str:
        narrowed = "" if set(self.targets) == set(ALL_TARGETS) else f"  # targets: {','.join(self.targets)}"
        return f"legguard drill --actor-kills {self.kills_planned} --first-seed {self.seed}{narrowed}"

    def as_dict(self) -> dict[str, Any]:
        outcomes: dict[str, int] = {}
        for state in self.groups.values():
            outcomes[state] = outcomes.get(state, 0) + 1
        return {
            "kind": "actor_kills",
            "ok": self.ok,
            "seed": self.seed,
            "kills": self.kills,
            "kills_by_target": dict(sorted(self.by_kind.items())),
            "groups": len(self.groups),
            "outcomes": dict(sorted(outcomes.items())),
            "orders": self.orders,
            "elapsed_s": round(self.elapsed_s, 2),
            "violations": self.violations,
            "errors": self.errors,
            "replay": self.replay_command(),
        }


def _exchange(clock: SystemClock, seed: int) -> Exchange:
    listings = [
        dataclasses.replace(item, spec=UnderlyingSpec("SCEN", lot_size=10, freeze_quantity=20, strike_step=100))
        if item.spec.name == "SCEN"
        else item
        for item in default_listings()
    ]
    config = ExchangeConfig(
        latency=LatencyConfig(Latency(mean_s=0.003), Latency(mean_s=0.001), Latency(mean_s=0.01)),
        faults=FaultConfig(reject_rate=0.08, partial_fills=(1, 4), duplicate_rate=0.2, reorder_rate=0.1),
    )
    return Exchange(clock, RandomStreams(seed), config=config, universe=build_universe(listings, clock.now()))


class _Pacer:
    """Sliding-window budgets so that kills stay under the tree's restart limits."""

    def __init__(self, clock: SystemClock) -> None:
        self.clock = clock
        self.root: deque[float] = deque()
        self.groups: dict[str, deque[float]] = {}

    def allows(self, target: str) -> bool:
        now = self.clock.monotonic()
        window, limit_s = self._window(target)
        while window and now - window[0] > limit_s:
            window.popleft()
        return len(window) < (ROOT_LIMIT[0] if target in ROOT_CHILDREN else GROUP_LIMIT[0])

    def record(self, target: str) -> None:
        self._window(target)[0].append(self.clock.monotonic())

    def _window(self, target: str) -> tuple[deque[float], float]:
        if target in ROOT_CHILDREN:
            return self.root, ROOT_LIMIT[1]
        group_id = target.split("/")[1]
        return self.groups.setdefault(group_id, deque()), GROUP_LIMIT[1]


def _kind(address: str) -> str:
    return address.split("/", 1)[0] if "/" in address else address


def run_actor_kill_drill(
    kills: int, seed: int = 1, *, targets: tuple[str, ...] = ALL_TARGETS, log: Any = None
) -> ActorKillResult:
    """`targets` narrows what is killed (child, leg, group, groupsup, root): the CI range."""
    result = ActorKillResult(seed=seed, kills_planned=kills, targets=targets)
    rng = RandomStreams(seed).stream("drill.actors")
    clock = SystemClock()
    started = clock.monotonic()
    data_dir = tempfile.mkdtemp(prefix="legguard-actor-drill-")
    exchange = _exchange(clock, seed)
    broker = _CheckingBroker(exchange, result.violations)
    settings = Settings()
    service = Service(
        settings, broker=broker, universe=exchange.universe, data_dir=data_dir, clock=clock, map_size=1 << 28
    )
    broker.store = service.store
    view = MarketView(exchange.universe, exchange.spot, lambda s: exchange.ltp([s])[s])
    accepted: dict[str, str] = {}
    stop = threading.Event()
    workload = RandomStreams(seed).stream("drill.actors.workload")
    submitter = threading.Thread(
        target=_submit_loop, args=(service, view, workload, accepted, result, stop), name="drill-submitter", daemon=True
    )
    try:
        if not service.wait_recovered(30.0):
            result.errors.append("the service did not finish its startup recovery")
            return result
        submitter.start()
        pacer = _Pacer(clock)
        wake = threading.Event()
        while result.kills < kills and clock.monotonic() - started < 120.0:
            wake.wait(rng.uniform(0.02, 0.15))  # the kill point: a seeded random moment
            target = _pick(service, rng, pacer, targets)
            if target is None:
                continue
            service.ctx.directory.tell(target, Poison(f"drill kill {result.kills + 1}"))
            pacer.record(target)
            result.kills += 1
            result.by_kind[_kind(target)] = result.by_kind.get(_kind(target), 0) + 1
        if log is not None:
            log(f"  {result.kills} actor kills in {clock.monotonic() - started:.1f}s: {result.by_kind}")
        stop.set()
        submitter.join(SUBMIT_TIMEOUT_S + 5.0)
        _settle(service, clock, wake)
        _verdict(result, service, exchange, accepted)
    finally:
        stop.set()
        service.close()
        exchange.close()
        result.elapsed_s = clock.monotonic() - started
        clock.close()
        shutil.rmtree(data_dir, ignore_errors=True)
    return result


def _pick(service: Service, rng: Any, pacer: _Pacer, targets: tuple[str, ...]) -> str | None:
    """A live actor of a kind drawn by weight among the kinds that have one the pacer allows."""
    directory = service.ctx.directory
    addresses = directory.addresses()
    pools = {
        "child": [a for a in addresses if a.startswith("child/")],
        "leg": [a for a in addresses if a.startswith("leg/")],
        "group": [a for a in addresses if a.startswith("group/")],
        "groupsup": [a for a in addresses if a.startswith("groupsup/")],
        **{name: [name] for name in ROOT_CHILDREN if name in addresses},
    }
    weights = {"child": 0.32, "leg": 0.25, "group": 0.15, "groupsup": 0.08, **dict.fromkeys(ROOT_CHILDREN, 0.20 / 9)}
    allowed = {
        kind: [a for a in pools.get(kind, ()) if pacer.allows(a) and directory.lookup(a) is not None]
        for kind in weights
        if kind in targets
    }
    kinds = [kind for kind, found in allowed.items() if found]
    if not kinds:
        return None
    kind = rng.choices(kinds, [weights[k] for k in kinds])[0]
    return str(rng.choice(allowed[kind]))


def _submit_loop(
    service: Service,
    view: MarketView,
    rng: Any,
    accepted: dict[str, str],
    result: ActorKillResult,
    stop: threading.Event,
) -> None:
    index = 0
    while not stop.is_set():
        # No short straddles: their unhedged window is the known I2 failure class of the simulation drill.
        strategy = rng.choice(("iron_condor", "iron_condor", "vertical_spread"))
        short = rng.randint(0, 2)
        # Half the groups rest (limits far from the market): they live until their fill timeout and
        # send few orders, so there is always something to kill without crowding the order budget.
        resting = rng.random() < 0.5
        plan = GroupPlan(
            key=f"ak-{index}",
            strategy=strategy,
            underlying=rng.choice(("NIFTY", "BANKNIFTY", "SCEN")),
            lots=rng.randint(1, 3),
            order_type="LIMIT" if resting else rng.choice(("LIMIT", "MARKET")),
            market_protection=-1,
            short_offset=short + (1 if strategy == "iron_condor" else 0),
            wing_offset=short + rng.randint(3, 5),
            kind=rng.choice(("CE", "PE")),
            slack=-0.5 if resting else rng.uniform(0.05, 0.3),
            submit_at=0.0,
        )
        index += 1
        payload = group_payload(view, plan)
        last = "no answer"
        for _ in range(20):  # a client: resubmit under the same key until answered
            try:
                accepted[plan.key] = service.submit_and_wait(payload, SUBMIT_TIMEOUT_S).group_id
                break
            except Denied as denied:
                if denied.code.value not in ("RECOVERING", "THROTTLED"):
                    break
                last = denied.code.value
            except Exception as exc:  # a timeout while the risk actor restarts: ask again
                last = type(exc).__name__
                continue
            if stop.wait(0.05):
                break
        else:
            result.errors.append(f"I10 request {plan.key} not accepted after 20 attempts (last: {last})")
        # Well inside the account's 10 orders/s: a backlog at the gateway is its own failure class (see the report).
        if stop.wait(rng.uniform(0.2, 0.7)):
            return


def _settle(service: Service, clock: SystemClock, wake: threading.Event) -> None:
    deadline = clock.monotonic() + SETTLE_TIMEOUT_S
    store = service.store
    while clock.monotonic() < deadline:
        if all(group_finished(store, g) for g in stored_group_ids(store)):
            return
        wake.wait(0.1)


def _verdict(result: ActorKillResult, service: Service, exchange: Exchange, accepted: dict[str, str]) -> None:
    store = service.store
    result.violations += check_run(
        store,
        exchange,
        unhedged_bound_s=service.settings.execution.unhedged_bound_s,
        accepted=accepted,
        denials=(),
    )
    for group_id in stored_group_ids(store):
        record = group_record(store, group_id)
        assert record is not None
        result.groups[group_id] = f"{record.state.value}/{record.outcome.value or '-'}"
    result.orders = len(exchange.all_orders())
