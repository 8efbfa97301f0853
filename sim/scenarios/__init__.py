"""Named scenarios: each one of the design documents' cases, runnable from the command line.

    legguard sim --scenario NAME --seed S --json

Every scenario must reach its outcome for any seed: the seed moves the market, the latencies and
the scheduler's interleavings, never the scripted fault that defines the case.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sim.scenarios.base import ScenarioResult
from sim.scenarios.execution import (
    crash_mid_execution,
    freeze_split_child_reject,
    iron_condor,
    leg_reject_reversal,
    partial_fill_reversal,
)
from sim.scenarios.risk import kill_switch_mid_group, margin_shock
from sim.scenarios.stops import pending_leg_exposure, sl_gap_through

SCENARIOS: dict[str, Callable[..., ScenarioResult]] = {
    "iron-condor": iron_condor,
    "leg-reject-reversal": leg_reject_reversal,
    "partial-fill-reversal": partial_fill_reversal,
    "freeze-split-child-reject": freeze_split_child_reject,
    "crash-mid-execution": crash_mid_execution,
    "margin-shock": margin_shock,
    "kill-switch-mid-group": kill_switch_mid_group,
    "sl-gap-through": sl_gap_through,
    "pending-leg-exposure": pending_leg_exposure,
}


def run_scenario(name: str, seed: int, **options: Any) -> ScenarioResult:
    try:
        scenario = SCENARIOS[name]
    except KeyError:
        raise ValueError(f"unknown scenario {name!r}; known: {', '.join(sorted(SCENARIOS))}") from None
    return scenario(seed, **options)


__all__ = ["SCENARIOS", "ScenarioResult", "run_scenario"]
