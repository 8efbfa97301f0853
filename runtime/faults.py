"""Fault-injection points.

Actors call `faults.hit("child.before_send")` at every persist / send boundary. In the service the
plan is `NoFaults` and a hit costs one method call. The simulator and the drills inject a seeded plan
that crashes the actor (`InjectedCrash`, which its supervisor sees like any other failure) or asks
the runtime for a whole-process crash at that point.
"""

from __future__ import annotations

from typing import Protocol


class InjectedCrash(Exception):
    """An actor crash on purpose, at a named site."""

    def __init__(self, site: str) -> None:
        super().__init__(f"injected crash at {site}")
        self.site = site


class FaultPlan(Protocol):
    def hit(self, site: str) -> None:
        """Raise `InjectedCrash` (or request a process crash) if this site fires now."""
        ...

    def process_crash_due(self, site: str) -> bool:
        """True when the whole process should die at this durable boundary (simulation only)."""
        ...


class NoFaults:
    def hit(self, site: str) -> None:
        return None

    def process_crash_due(self, site: str) -> bool:
        return False
