"""Simulation speed: deterministic seeds per second of one 4-leg group with faults, on one core.

Each seed is `sim.scenarios.execution.iron_condor` (the real actor classes on the deterministic
runtime, real LMDB files, the simulated exchange) with two seeded fault sources:

- exchange faults (`FaultConfig`): partial fills, duplicated, reordered and dropped updates, sends
  whose outcome is unknown, on the default heavy-tailed latencies;
- actor crashes (`sim.faults.SeededFaults`): each injection site switched on with p 0.25, firing
  with p 0.25 per visit. Two sites stay quiet, the ones whose crash loses the answer to the
  scenario's single `submit` (the scenario driver does not resubmit; the drill's does).

A seed that ends in an error (a deadlock of the driver) still counts: its time is in the figure.
The fault-free seed rate is reported next to it, with the process pinned to the same one core.
"""

from __future__ import annotations

import os
import random
import time
from typing import Any

import psutil

from sim.exchange.config import ExchangeConfig, FaultConfig
from sim.faults import SeededFaults
from sim.scenarios.execution import iron_condor

EXCHANGE_FAULTS = FaultConfig(
    partial_fills=(1, 3),
    duplicate_rate=0.1,
    reorder_rate=0.1,
    drop_rate=0.05,
    unknown_outcome_rate=0.05,
)
QUIET_SITES = frozenset({"risk.before_accept_commit", "writer.before_commit"})


class ScenarioFaults(SeededFaults):
    def hit(self, site: str) -> None:
        if site not in QUIET_SITES:
            super().hit(site)


def _plan(seed: int) -> Any:
    return lambda _harness: ScenarioFaults(rng=random.Random(seed))


def run_seeds(first: int, count: int, *, faults: bool) -> dict[str, Any]:
    violations = errors = 0
    outcomes: dict[str, int] = {}
    started = time.perf_counter()
    for seed in range(first, first + count):
        try:
            if faults:
                config = ExchangeConfig(faults=EXCHANGE_FAULTS)
                result = iron_condor(seed, faults=_plan(seed), exchange=config)
            else:
                result = iron_condor(seed)
        except Exception:  # a failing seed is counted (its time is in the figure), not fatal
            errors += 1
            continue
        violations += bool(result.violations)
        outcomes[result.outcome or "UNSETTLED"] = outcomes.get(result.outcome or "UNSETTLED", 0) + 1
    elapsed = time.perf_counter() - started
    return {
        "per_s": round(count / elapsed, 2), "violations": violations, "errors": errors, "outcomes": outcomes
    }


def measure_sim_speed(seeds: int, fault_free_seeds: int | None = None) -> dict[str, Any]:
    pinned = _pin_one_core()
    try:
        with_faults = run_seeds(1, seeds, faults=True)
        fault_free = run_seeds(1, fault_free_seeds or max(5, seeds // 4), faults=False)
    finally:
        if pinned is not None:
            os.sched_setaffinity(0, pinned)
    return {
        "sim_seeds_per_s": with_faults["per_s"],
        "sim_seeds": seeds,
        "sim_seeds_with_violations": with_faults["violations"],
        "sim_seeds_errored": with_faults["errors"],
        "sim_outcomes": with_faults["outcomes"],
        "sim_fault_free_seeds_per_s": fault_free["per_s"],
    }


def _pin_one_core() -> set[int] | None:
    """Pin the process to its least busy CPU for the measurement; the previous mask, to restore."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    before = os.sched_getaffinity(0)
    busy = psutil.cpu_percent(interval=0.2, percpu=True)
    os.sched_setaffinity(0, {min(before, key=lambda cpu: busy[cpu] if cpu < len(busy) else 100.0)})
    return before
