"""The fault plan of a drill seed: one object for the whole seed, across every simulated boot.

`sim.faults.SeededFaults` is rebuilt per boot, so its visit counts start over after each process
crash; a drill wants its crash points counted over the seed ("the 23rd durable commit of the run"),
its sites switched on once per seed, and one switch that stops every fault at once (liveness is
judged only after faults stop).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from runtime.faults import InjectedCrash


@dataclass
class DrillFaults:
    rng: random.Random
    site_p: float
    fire_p: float
    crash_process: Callable[[], None]
    process_crash_at: Iterable[tuple[str, int]] = ()
    quiet_sites: Iterable[str] = ()
    max_crashes: int = 50
    active: bool = True
    enabled: dict[str, bool] = field(default_factory=dict)
    visits: Counter[str] = field(default_factory=Counter)
    crashes: Counter[str] = field(default_factory=Counter)
    process_crashes: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self._due: dict[str, set[int]] = {}
        self._quiet = frozenset(self.quiet_sites)
        for site, visit in self.process_crash_at:
            self._due.setdefault(site, set()).add(visit)

    def hit(self, site: str) -> None:
        self.visits[site] += 1
        if not self.active or self.site_p <= 0.0:
            return
        on = self.enabled.get(site)
        if on is None:
            on = self.enabled[site] = self.rng.random() < self.site_p and site not in self._quiet
        if on and sum(self.crashes.values()) < self.max_crashes and self.rng.random() < self.fire_p:
            self.crashes[site] += 1
            raise InjectedCrash(site)

    def process_crash_due(self, site: str) -> bool:
        self.visits[site] += 1
        if not self.active or self.visits[site] not in self._due.get(site, ()):
            return False
        self.process_crashes[site] += 1
        self.crash_process()
        return True

    def stop(self) -> None:
        """No fault fires from now on; visits are still counted (for coverage)."""
        self.active = False
