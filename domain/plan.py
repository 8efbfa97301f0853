"""The execution plan of a group: what is sent when, what a partial state exposes, where it stands.

Protection legs go first and must be filled before any risk leg is sent. On failure the reversal
runs the other way round: risk legs are flattened first and protection last, so the book is never
left short without its wings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from domain.execution import LegProgress
from domain.instruments import InstrumentKind, InstrumentUniverse
from domain.lifecycle import GroupState, LegState, apply_group
from domain.model import GroupSpec, LegRole, Side, group_from_record, group_to_record


class Phase(StrEnum):
    PROTECTION = "protection"
    RISK = "risk"
    DONE = "done"
    REVERSING = "reversing"


def plan_phases(spec: GroupSpec) -> list[tuple[Phase, tuple[str, ...]]]:
    """The entry phases in order, each with its legs; a phase with no legs is skipped."""
    phases = [
        (Phase.PROTECTION, tuple(leg.leg_id for leg in spec.protection_legs)),
        (Phase.RISK, tuple(leg.leg_id for leg in spec.risk_legs)),
    ]
    return [(phase, legs) for phase, legs in phases if legs]


def next_phase(spec: GroupSpec, current: Phase | None) -> Phase:
    order = [phase for phase, _ in plan_phases(spec)]
    if current is None:
        return order[0] if order else Phase.DONE
    if current in order and order.index(current) + 1 < len(order):
        return order[order.index(current) + 1]
    return Phase.DONE


def phase_legs(spec: GroupSpec, phase: Phase) -> tuple[str, ...]:
    for candidate, legs in plan_phases(spec):
        if candidate is phase:
            return legs
    return ()


def naked_short(spec: GroupSpec, progress: Mapping[str, LegProgress], universe: InstrumentUniverse) -> dict[str, int]:
    """Short option units not covered by long options of the same kind (CE/PE), per underlying kind.

    A long call at any strike caps the loss of a short call (and likewise for puts), so coverage is
    counted by kind. This is what makes a partial state PARTIALLY_EXPOSED rather than PARTIALLY_FILLED.
    """
    long_units: dict[str, int] = {}
    short_units: dict[str, int] = {}
    for leg in spec.legs:
        leg_progress = progress.get(leg.leg_id)
        net = leg_progress.net if leg_progress is not None else 0
        if net == 0:
            continue
        inst = universe[leg.tradingsymbol]
        if inst.kind is InstrumentKind.FUT:
            continue
        bucket = f"{inst.underlying}:{inst.kind.value}"
        if leg.side is Side.BUY:
            long_units[bucket] = long_units.get(bucket, 0) + net
        else:
            short_units[bucket] = short_units.get(bucket, 0) + net
    return {
        bucket: short - long_units.get(bucket, 0)
        for bucket, short in sorted(short_units.items())
        if short > long_units.get(bucket, 0)
    }


def derive_group_state(
    spec: GroupSpec,
    progress: Mapping[str, LegProgress],
    universe: InstrumentUniverse,
    *,
    phase: Phase,
    sent: bool,
) -> GroupState:
    legs = [progress.get(leg.leg_id) for leg in spec.legs]
    if phase is Phase.REVERSING:
        flat = all(p is not None and p.state is LegState.FLAT for p in legs)
        return GroupState.EMERGENCY_HEDGED if flat else GroupState.FAILED
    if legs and all(p is not None and p.state is LegState.FILLED for p in legs):
        return GroupState.FILLED
    if any(p is not None and p.filled > 0 for p in legs):
        if naked_short(spec, progress, universe):
            return GroupState.PARTIALLY_EXPOSED
        return GroupState.PARTIALLY_FILLED
    return GroupState.SUBMITTED if sent else GroupState.VALIDATED


def failed_legs(spec: GroupSpec, progress: Mapping[str, LegProgress]) -> list[str]:
    return [
        leg.leg_id for leg in spec.legs if (p := progress.get(leg.leg_id)) is not None and p.state is LegState.FAILED
    ]


def phase_filled(spec: GroupSpec, phase: Phase, progress: Mapping[str, LegProgress]) -> bool:
    legs = phase_legs(spec, phase)
    return all((p := progress.get(leg_id)) is not None and p.state is LegState.FILLED for leg_id in legs)


def reversal_order(spec: GroupSpec) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(risk legs, protection legs): flatten the risk first, keep the wings until it is done."""
    risk = tuple(leg.leg_id for leg in spec.legs if leg.role is LegRole.RISK)
    protection = tuple(leg.leg_id for leg in spec.legs if leg.role is LegRole.PROTECTION)
    return risk, protection


class Outcome(StrEnum):
    PENDING = ""
    COMPLETE = "COMPLETE"  # every leg filled as intended
    FLAT = "FLAT"  # failed and reversed: net zero per instrument
    ESCALATED = "ESCALATED"


@dataclass(frozen=True, slots=True)
class GroupRecord:
    spec: GroupSpec
    state: GroupState = GroupState.VALIDATED
    phase: Phase | None = None
    seq: int = 1
    created_at: float = 0.0
    phase_started_at: float = 0.0
    failure_reason: str = ""
    reverse_protection: bool = False  # the second stage of a reversal has begun
    unhedged_since: float | None = None
    max_unhedged_s: float = 0.0
    settled: bool = False
    outcome: Outcome = Outcome.PENDING
    extra: dict[str, Any] = field(default_factory=dict)

    def moved_to(self, state: GroupState, **changes: Any) -> GroupRecord:
        return replace(self, state=apply_group(self.state, state), seq=self.seq + 1, **changes)

    def with_changes(self, **changes: Any) -> GroupRecord:
        return replace(self, seq=self.seq + 1, **changes)

    def to_record(self) -> dict[str, Any]:
        return {
            "spec": group_to_record(self.spec),
            "state": self.state.value,
            "phase": self.phase.value if self.phase is not None else None,
            "seq": self.seq,
            "created_at": self.created_at,
            "phase_started_at": self.phase_started_at,
            "failure_reason": self.failure_reason,
            "reverse_protection": self.reverse_protection,
            "unhedged_since": self.unhedged_since,
            "max_unhedged_s": self.max_unhedged_s,
            "settled": self.settled,
            "outcome": self.outcome.value,
            "extra": dict(self.extra),
        }

    @classmethod
    def from_record(cls, rec: Mapping[str, Any]) -> GroupRecord:
        return cls(
            spec=group_from_record(rec["spec"]),
            state=GroupState(rec["state"]),
            phase=Phase(rec["phase"]) if rec["phase"] is not None else None,
            seq=int(rec["seq"]),
            created_at=float(rec["created_at"]),
            phase_started_at=float(rec["phase_started_at"]),
            failure_reason=str(rec["failure_reason"]),
            reverse_protection=bool(rec["reverse_protection"]),
            unhedged_since=rec["unhedged_since"],
            max_unhedged_s=float(rec["max_unhedged_s"]),
            settled=bool(rec["settled"]),
            outcome=Outcome(rec["outcome"]),
            extra=dict(rec.get("extra") or {}),
        )


# Market protection of successive attempts at an exit that did not fill: the broker's automatic
# setting first, then wider and wider. A protected market order is a limit at the protection price,
# and on a cheap option a few percent can be less than one tick (0.05 → 0.0515 never meets an ask of
# 0.10): an exit that must happen widens until it does.
EXIT_PROTECTION_LADDER = (5, 10, 20, 50, 100)


def exit_protection(attempt: int, default: int) -> int:
    if attempt <= 0:
        return default
    return EXIT_PROTECTION_LADDER[min(attempt, len(EXIT_PROTECTION_LADDER)) - 1]
