"""Many simulation seeds: each one checked, 1 % run twice for an identical trace (invariant 11), and
coverage (invariant 13) summed over the set."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from runtime.config import Settings
from sim.drill.coverage import Coverage
from sim.drill.params import DrillMix
from sim.drill.seed import SeedResult, run_seed

RERUN_EVERY = 100  # seeds divisible by this are run twice


def reruns(first: int, count: int, skip: Collection[int] = ()) -> set[int]:
    """The seeds run twice: every hundredth, and the first one of a run shorter than that."""
    seeds = [s for s in range(first, first + count) if s not in skip]
    chosen = {s for s in seeds if s % RERUN_EVERY == 0}
    return chosen or set(seeds[:1])


@dataclass
class RunSummary:
    first_seed: int
    seeds: int
    elapsed_s: float
    failures: list[SeedResult]
    coverage: Coverage
    reruns: list[int]
    mix: str
    process_crashes: int = 0
    actor_crashes: int = 0
    groups: int = 0
    virtual_s: float = 0.0
    outcomes: dict[str, int] = field(default_factory=dict)
    skipped: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def seeds_per_s(self) -> float:
        return self.seeds / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": "simulation",
            "ok": self.ok,
            "first_seed": self.first_seed,
            "seeds": self.seeds,
            "elapsed_s": round(self.elapsed_s, 3),
            "seeds_per_s": round(self.seeds_per_s, 2),
            "mix": self.mix,
            "groups": self.groups,
            "outcomes": dict(sorted(self.outcomes.items())),
            "process_crashes": self.process_crashes,
            "actor_crashes": self.actor_crashes,
            "virtual_s": round(self.virtual_s, 1),
            "determinism_reruns": self.reruns,
            "skipped": self.skipped,
            "failures": [f.as_dict() for f in self.failures],
            "coverage": self.coverage.as_dict(),
        }


def run_seeds(
    first: int,
    count: int,
    mix: DrillMix | None = None,
    *,
    on_result: Callable[[SeedResult], None] | None = None,
    settings: Settings | None = None,
    skip: Collection[int] = (),
) -> RunSummary:
    """Seeds `first` .. `first + count - 1`, except those in `skip` (known failures, by class)."""
    mix = mix or DrillMix()
    coverage = Coverage()
    failures: list[SeedResult] = []
    twice = reruns(first, count, skip)
    seeds = [s for s in range(first, first + count) if s not in skip]
    summary = RunSummary(first, len(seeds), 0.0, failures, coverage, sorted(twice), mix.describe())
    summary.skipped = sorted(set(range(first, first + count)) - set(seeds))
    started = time.perf_counter()
    for seed in seeds:
        result = run_seed(seed, mix, settings)
        if seed in twice:
            _check_determinism(result, run_seed(seed, mix, settings))
        coverage.merge(result.coverage)
        summary.process_crashes += result.process_crashes
        summary.actor_crashes += result.actor_crashes
        summary.groups += len(result.groups)
        summary.virtual_s += result.virtual_s
        for state in result.groups.values():
            summary.outcomes[state] = summary.outcomes.get(state, 0) + 1
        if not result.ok:
            failures.append(result)
        if on_result is not None:
            on_result(result)
    summary.elapsed_s = time.perf_counter() - started
    return summary


def _check_determinism(first: SeedResult, again: SeedResult) -> None:
    """I11: the same seed gives the same trace hash (and the exchange the same event digest)."""
    if (first.trace_hash, first.exchange_digest) != (again.trace_hash, again.exchange_digest):
        first.violations.append(
            f"I11 seed {first.seed}: trace {first.trace_hash} then {again.trace_hash}, "
            f"exchange digest {first.exchange_digest[:16]} then {again.exchange_digest[:16]}"
        )
    first.coverage.events["determinism_reruns"] += 1
