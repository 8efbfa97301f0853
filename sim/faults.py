"""Fault plans for the simulator: scripted crashes at a named point, and seeded random ones.

A process crash is requested from inside the actor that reaches the point: the runtime discards
every actor at once (the caller's handler ends there) and the harness runs the real startup path.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from runtime.faults import InjectedCrash


@dataclass
class CrashAtVisit:
    """Crash the whole process at the `visit`-th time `site` is reached (once)."""

    site: str
    visit: int
    crash_process: Callable[[], None]
    visits: Counter[str] = field(default_factory=Counter)
    fired: bool = False

    def hit(self, site: str) -> None:
        return None

    def process_crash_due(self, site: str) -> bool:
        self.visits[site] += 1
        if not self.fired and site == self.site and self.visits[site] == self.visit:
            self.fired = True
            self.crash_process()
            return True
        return False


@dataclass
class SeededFaults:
    """Actor crashes at injection points: each site is switched on per run with probability
    `site_p`, and an enabled site fires per visit with probability `fire_p` (RELIABILITY.md)."""

    rng: random.Random
    site_p: float = 0.25
    fire_p: float = 0.25
    max_crashes: int = 50
    process_crash_at: Mapping[str, int] = field(default_factory=dict)  # site -> visit
    crash_process: Callable[[], None] | None = None
    enabled: dict[str, bool] = field(default_factory=dict)
    visits: Counter[str] = field(default_factory=Counter)
    crashes: Counter[str] = field(default_factory=Counter)
    process_crashes: int = 0

    def hit(self, site: str) -> None:
        self.visits[site] += 1
        on = self.enabled.get(site)
        if on is None:
            on = self.enabled[site] = self.rng.random() < self.site_p
        if on and sum(self.crashes.values()) < self.max_crashes and self.rng.random() < self.fire_p:
            self.crashes[site] += 1
            raise InjectedCrash(site)

    def process_crash_due(self, site: str) -> bool:
        self.visits[site] += 1
        if self.crash_process is None or self.process_crash_at.get(site) != self.visits[site]:
            return False
        self.process_crashes += 1
        self.crash_process()
        return True
