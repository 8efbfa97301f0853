"""Coverage of a run set (invariant 13): which fault sites fired, which rare states were reached.

States are observed where they become durable: every snapshot the writer commits passes through
`CommitObserver`, so a child that was UNKNOWN for a moment and then resolved still counts, which
the final snapshots would not show.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from domain.lifecycle import ChildState, GroupState, LegState
from storage.batch import Batch, CommitResult, PutSnapshot
from storage.records import read_snapshot

# Rare states a run set must reach (RELIABILITY.md, invariant 13). Common ones are counted too.
RARE_STATES: tuple[str, ...] = (
    "child:UNKNOWN",
    "child:LOST",
    "child:CANCEL_REQUESTED",
    "child:CANCELLED",
    "child:REJECTED",
    "leg:FAILED",
    "leg:REVERSING",
    "leg:FLAT",
    "group:PARTIALLY_EXPOSED",
    "group:FAILED",
    "group:EMERGENCY_HEDGED",
    "group:RECOVERING",
    "group:ESCALATED",
    "outcome:COMPLETE",
    "outcome:FLAT",
    "outcome:ESCALATED",
)

KILL_SWITCH_KEY = "risk/killswitch"
_SITE = re.compile(r"faults\.(hit|process_crash_due)\(\s*f?\"([^\"]+)\"")
_PHASES = ("protection", "risk")


def known_sites(root: Path | None = None) -> tuple[list[str], list[str]]:
    """(actor-crash sites, process-crash sites) named in the actors' source, so that a site added
    later is reported as never reached rather than silently left out."""
    base = root or Path(__file__).resolve().parents[2]
    crash: set[str] = set()
    process: set[str] = set()
    for path in sorted((base / "actors").glob("*.py")) + sorted((base / "supervision").glob("*.py")):
        for kind, site in _SITE.findall(path.read_text()):
            names = [site.replace("{phase.value}", p) for p in _PHASES] if "{" in site else [site]
            (crash if kind == "hit" else process).update(names)
    return sorted(crash), sorted(process)


def every_state() -> list[str]:
    return (
        [f"child:{s.value}" for s in ChildState]
        + [f"leg:{s.value}" for s in LegState]
        + [f"group:{s.value}" for s in GroupState]
        + ["outcome:COMPLETE", "outcome:FLAT", "outcome:ESCALATED"]
    )


class CommitObserver:
    """Wraps a store's `commit_many`: each committed leg and child snapshot's state is counted in
    `states` and handed to `on_state(key, state)` (the transition check), in commit order."""

    def __init__(
        self,
        commit_many: Callable[[Sequence[Batch]], list[CommitResult]],
        states: Counter[str],
        on_state: Callable[[str, str], None] | None = None,
        now: Callable[[], float] | None = None,
    ) -> None:
        self._commit_many = commit_many
        self.states = states
        self._on_state = on_state
        self._now = now
        # (time of the commit, trading state) for every durable kill-switch change, in order
        self.kill_switch: list[tuple[float, str]] = []
        self.accepted_at: dict[str, float] = {}  # group id -> time its intent was first committed

    def __call__(self, batches: Sequence[Batch]) -> list[CommitResult]:
        results = self._commit_many(batches)
        for batch, result in zip(batches, results, strict=False):
            if result.ok:
                self._observe(batch)
        return results

    def _observe(self, batch: Batch) -> None:
        for op in batch.ops:
            if type(op) is not PutSnapshot:
                continue
            if self._now is not None:
                if op.key == KILL_SWITCH_KEY:
                    body = read_snapshot(op.key, op.record, "snapshots").body
                    self.kill_switch.append((self._now(), str(body.get("trading_state"))))
                    continue
                if op.key.count("/") == 1 and op.key.startswith("g/") and op.seq == 1:
                    self.accepted_at.setdefault(op.key[2:], self._now())
                    continue
            kind = "child" if "/c/" in op.key else "leg" if "/l/" in op.key else None
            if kind is None:
                continue
            state = read_snapshot(op.key, op.record, "snapshots").body.get("state")
            if state:
                self.states[f"{kind}:{state}"] += 1
                if self._on_state is not None:
                    self._on_state(op.key, state)


@dataclass
class Coverage:
    """Counts over a run set; `merge` adds one seed's counts."""

    sites: Counter[str] = field(default_factory=Counter)  # actor crashes fired per site
    process_sites: Counter[str] = field(default_factory=Counter)  # process crashes per site
    visits: Counter[str] = field(default_factory=Counter)  # every site visit (fired or not)
    states: Counter[str] = field(default_factory=Counter)
    denials: Counter[str] = field(default_factory=Counter)
    events: Counter[str] = field(default_factory=Counter)

    def merge(self, other: Coverage) -> None:
        for name in ("sites", "process_sites", "visits", "states", "denials", "events"):
            getattr(self, name).update(getattr(other, name))

    def gaps(
        self, *, crash_sites: Iterable[str] | None = None, process_sites: Iterable[str] | None = None
    ) -> dict[str, list[str]]:
        """What was never reached: fault sites that never fired, rare and other states never seen."""
        if crash_sites is None or process_sites is None:
            found_crash, found_process = known_sites()
            crash_sites = found_crash if crash_sites is None else crash_sites
            process_sites = found_process if process_sites is None else process_sites
        return {
            "crash_sites": sorted(s for s in crash_sites if not self.sites[s]),
            "process_crash_sites": sorted(s for s in process_sites if not self.process_sites[s]),
            "rare_states": [s for s in RARE_STATES if not self.states[s]],
            "other_states": [s for s in every_state() if s not in RARE_STATES and not self.states[s]],
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "actor_crashes_by_site": dict(sorted(self.sites.items())),
            "process_crashes_by_site": dict(sorted(self.process_sites.items())),
            "site_visits": dict(sorted(self.visits.items())),
            "states": dict(sorted(self.states.items())),
            "denials": dict(sorted(self.denials.items())),
            "events": dict(sorted(self.events.items())),
            "never_reached": self.gaps(),
        }
