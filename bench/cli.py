"""`legguard bench [--json] [--quick]`: every figure of issue 7 in one run, each next to its floor.

Order of the run: simulation speed first (pinned to one core, nothing else alive), then one
threaded service over a fresh LMDB directory for reaction, overhead, throughput and the in-flight
build (memory), then that service stopped and a new `api.service.Service` recovering its directory.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench.environment import load_average, machine
from bench.report import judge, render_json, render_table


@dataclass(frozen=True)
class Plan:
    sim_seeds: int
    reaction_events: int
    overhead_groups: int
    throughput_groups: int
    in_flight_groups: int


FULL = Plan(sim_seeds=200, reaction_events=1000, overhead_groups=1000, throughput_groups=2000,
            in_flight_groups=1000)
QUICK = Plan(sim_seeds=20, reaction_events=150, overhead_groups=100, throughput_groups=200,
             in_flight_groups=200)

KEYS = (
    "reaction_p50_us",
    "reaction_p99_us",
    "reaction_floor_p99_us",
    "overhead_p99_us",
    "throughput_groups_per_s",
    "max_groups_in_flight",
    "recovery_1000_groups_s",
    "rss_per_group_kb",
    "sim_seeds_per_s",
)


def run_bench(args: Any) -> int:
    from runtime.config import load_settings

    plan = QUICK if args.quick else FULL
    results = collect(plan, load_settings(args.config), quick=bool(args.quick))
    print(render_json(results) if args.json else render_table(results), flush=True)
    return 1 if results["errors"] else 0


def collect(plan: Plan, base_settings: Any, *, quick: bool) -> dict[str, Any]:
    results: dict[str, Any] = dict.fromkeys(KEYS)
    results.update(
        mode="quick" if quick else "full",
        date=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        machine=machine(),
        plan=plan.__dict__,
        limits_note=_limits_note(),
        errors=[],
        notes=[],
    )
    began = time.perf_counter()
    _step(results, "simulation speed", lambda: _sim(plan))
    with tempfile.TemporaryDirectory(prefix="legguard-bench-") as root:
        run = ServiceRun.start(base_settings, root)
        try:
            run.measure(results, plan)
        finally:
            run.close()
        results["notes"] += run.notes
        results["errors"] += run.errors
    if plan.in_flight_groups != 1000:
        results["notes"].append(
            f"recovery_1000_groups_s holds the time for {plan.in_flight_groups} groups "
            f"({results['mode']} run)"
        )
    results["bench_wall_s"] = round(time.perf_counter() - began, 1)
    results["machine"]["load_average_at_end"] = load_average()
    results["goals"] = judge(results)
    return results


def _limits_note() -> str:
    from bench.rig import BENCH_FUNDS, BENCH_RULES, RISK_FILL_TIMEOUT_S

    return (
        f"account limits raised for the bench (settings and simulated exchange): "
        f"{BENCH_RULES.orders_per_second:,} orders/s, {BENCH_RULES.orders_per_minute:,}/min, "
        f"{BENCH_RULES.orders_per_day:,}/day, emergency lane 100,000/s, open groups 1,000,000, "
        f"funds {BENCH_FUNDS:.0e}; risk-phase fill timeout {RISK_FILL_TIMEOUT_S:.0f} s; "
        f"exchange: zero latency, scripted deep books, no RMS margin check"
    )


def _sim(plan: Plan) -> dict[str, Any]:
    from bench.simspeed import measure_sim_speed

    return measure_sim_speed(plan.sim_seeds)


def _step(results: dict[str, Any], name: str, measure: Callable[[], dict[str, Any]]) -> bool:
    """Run one measurement; a failure is reported with its traceback, and the others still run."""
    try:
        results.update(measure())
        return True
    except Exception as exc:  # the bench reports what broke and goes on
        results["errors"].append(f"{name}: {exc!r}\n{traceback.format_exc(limit=6)}")
        return False


@dataclass
class ServiceRun:
    """The threaded service under test, its exchange and clock, and what the steps hand on."""

    settings: Any
    clock: Any
    exchange: Any
    data_dir: str
    root: str
    rig: Any = None
    condor: Any = None
    prices: dict[str, float] = field(default_factory=dict)
    group_ids: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @classmethod
    def start(cls, base_settings: Any, root: str) -> ServiceRun:
        from bench.rig import bench_exchange, bench_settings
        from runtime.clock import SystemClock

        settings = bench_settings(base_settings)
        clock = SystemClock()
        return cls(settings, clock, bench_exchange(clock, settings), os.path.join(root, "service"), root)

    def measure(self, results: dict[str, Any], plan: Plan) -> None:
        """Reaction, overhead and the in-flight build on one rig; recovery of its directory by a new
        Service; throughput last, on a fresh rig (so the memory figure is taken before a thousand-
        group burst has grown the heap, and throughput does not share the CPU with held groups)."""
        from bench.payloads import scripted_condor
        from bench.sequential import Sequencer, measure_overhead, measure_reaction

        self.rig = self._new_rig("service")
        try:
            wait_ready(self.rig)
            self.condor, self.prices = scripted_condor(self.exchange)
            seq = Sequencer(self.rig, self.condor, self.prices)
            _step(results, "reaction", lambda: measure_reaction(seq, plan.reaction_events, self.root))
            _step(results, "overhead", lambda: measure_overhead(seq, plan.overhead_groups))
            _derive_overhead_floor(results)
            if seq.bad_outcomes:
                results["errors"].append(f"groups with an unexpected outcome: {seq.bad_outcomes[:5]}")
            built = _step(results, "in-flight build", lambda: self._build(plan.in_flight_groups))
        finally:
            self.notes += self.rig.stop()
        if built:
            _step(results, "memory floor", lambda: _memory_floor(results, plan.in_flight_groups))
            _step(results, "recovery", self._recover)
        _step(results, "throughput", lambda: self._throughput(plan.throughput_groups))

    def _new_rig(self, name: str) -> Any:
        from bench.rig import Rig

        return Rig(self.settings, self.exchange, self.clock, os.path.join(self.root, name)).start()

    def _throughput(self, groups: int) -> dict[str, Any]:
        from bench.throughput import measure_throughput

        rig = self._new_rig("throughput")
        try:
            wait_ready(rig)
            return measure_throughput(rig, self.condor, self.prices, groups)
        finally:
            self.notes += rig.stop()

    def _build(self, groups: int) -> dict[str, Any]:
        from bench.inflight import build_in_flight

        built = build_in_flight(self.rig, self.condor, self.prices, groups)
        self.group_ids = built.pop("group_ids")
        return built

    def _recover(self) -> dict[str, Any]:
        from bench.inflight import cancel_held_shorts, measure_recovery, recovery_floor

        cancelled = cancel_held_shorts(self.exchange, self.condor)
        floor = recovery_floor(self.data_dir, self.exchange)
        measured = measure_recovery(self.exchange, self.condor, self.group_ids, self.new_service)
        if measured["recovery_net_units_moved"] != measured["recovery_net_units_expected"]:
            # Over- or under-reversal: the figures stand, and the run reports the safety failure.
            self.errors.append(f"recovery: the exchange ledger moved {measured['recovery_net_units_moved']}, "
                               f"expected {measured['recovery_net_units_expected']}")
        self.notes += measured.pop("recovery_close_notes")
        if measured["recovery_all_flat_s"] is None:
            self.notes.append(f"recovery: groups left open after the figure: {measured['recovery_left_open']}")
        return {**measured, **floor, "recovery_shorts_cancelled_while_down": cancelled}

    def new_service(self, broker: Any) -> Any:
        """The real `api.service.Service` over the stopped rig's directory and the same exchange."""
        from api.service import Service
        from bench.rig import MAP_SIZE

        return Service(self.settings, broker=broker, universe=self.exchange.universe, data_dir=self.data_dir,
                       clock=self.clock, map_size=MAP_SIZE)

    def close(self) -> None:
        self.exchange.close()
        self.clock.close()


def wait_ready(rig: Any, timeout: float = 30.0) -> None:
    """Until the risk actor is up and not recovering: submissions before that would be refused."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        risk = rig.system.describe("risk")
        if risk is not None and not risk["recovering"]:
            return
        time.sleep(0.01)
    raise TimeoutError("the service did not become ready")


def _derive_overhead_floor(results: dict[str, Any]) -> None:
    # Five durable commits lie in sequence between submit and the fourth order: the acceptance, the
    # protection phase, the wings' intents, the risk phase, the shorts' intents.
    for share in ("p50", "p99"):
        floor = results.get(f"reaction_floor_{share}_us")
        results[f"overhead_floor_{share}_us"] = round(5 * floor, 1) if floor is not None else None


def _memory_floor(results: dict[str, Any], groups: int) -> dict[str, Any]:
    from bench.memfloor import rss_of_idle_actors

    actors = round(results["actors_per_group"] * groups)
    return {"rss_threads_per_group_kb": round(rss_of_idle_actors(actors) / groups / 1024, 1)}
