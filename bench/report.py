"""The goals of issue 7, and the two ways the results are printed: one JSON object, or a table."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Goal:
    key: str
    text: str
    met: Callable[[dict[str, Any]], bool]


def _le(key: str, bound: float) -> Callable[[dict[str, Any]], bool]:
    return lambda r: r.get(key) is not None and r[key] <= bound


def _ge(key: str, bound: float) -> Callable[[dict[str, Any]], bool]:
    return lambda r: r.get(key) is not None and r[key] >= bound


def _reaction_goal(r: dict[str, Any]) -> bool:
    p99, floor = r.get("reaction_p99_us"), r.get("reaction_floor_p99_us")
    return p99 is not None and floor is not None and p99 <= 2 * floor and p99 <= 1000.0


GOALS = (
    Goal("reaction_p99_us", "<= 2x floor p99 and <= 1000 us", _reaction_goal),
    Goal("overhead_p99_us", "<= 5000 us", _le("overhead_p99_us", 5000.0)),
    Goal("throughput_groups_per_s", ">= 500 groups/s", _ge("throughput_groups_per_s", 500.0)),
    Goal("recovery_1000_groups_s", "<= 2 s", _le("recovery_1000_groups_s", 2.0)),
    Goal("rss_per_group_kb", "<= 300 KB", _le("rss_per_group_kb", 300.0)),
    Goal("sim_seeds_per_s", ">= 100 seeds/s", _ge("sim_seeds_per_s", 100.0)),
)


def judge(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {goal.key: {"goal": goal.text, "met": goal.met(results)} for goal in GOALS}


# (label, figure key, floor or comparison key, unit) for the table
ROWS = (
    ("reaction p50", "reaction_p50_us", "reaction_floor_p50_us", "us"),
    ("reaction p99", "reaction_p99_us", "reaction_floor_p99_us", "us"),
    ("reaction max", "reaction_max_us", "reaction_floor_max_us", "us"),
    ("overhead p50", "overhead_p50_us", "overhead_floor_p50_us", "us"),
    ("overhead p99", "overhead_p99_us", "overhead_floor_p99_us", "us"),
    ("throughput", "throughput_groups_per_s", "throughput_cpu_bound_groups_per_s", "groups/s"),
    ("max groups in flight", "max_groups_in_flight", None, ""),
    ("recovery", "recovery_1000_groups_s", "recovery_floor_s", "s"),
    ("RSS per in-flight group", "rss_per_group_kb", "rss_threads_per_group_kb", "KB"),
    ("simulation seeds/s (faults)", "sim_seeds_per_s", "sim_fault_free_seeds_per_s", "seeds/s"),
)

FLOOR_NOTES = {
    "reaction_floor_p50_us": "tell round trip + durable commit",
    "reaction_floor_p99_us": "tell round trip + durable commit",
    "reaction_floor_max_us": "tell round trip + durable commit",
    "overhead_floor_p50_us": "5 x reaction floor (5 commits in sequence)",
    "overhead_floor_p99_us": "5 x reaction floor (5 commits in sequence)",
    "throughput_cpu_bound_groups_per_s": "1 / CPU per group (one GIL)",
    "recovery_floor_s": "read the recovery set + one book fetch",
    "rss_threads_per_group_kb": "idle threads, as many as a group's actors",
    "sim_fault_free_seeds_per_s": "the same seeds without faults",
}


def render_json(results: dict[str, Any]) -> str:
    return json.dumps(results, sort_keys=False)


def render_table(results: dict[str, Any]) -> str:
    lines = [
        f"legguard bench ({results.get('mode')}) {results.get('date')} "
        f"on {results.get('machine', {}).get('summary', '?')}",
        f"  {results.get('limits_note', '')}",
        "",
        f"{'figure':<28} {'measured':>12} {'floor / reference':>18}  {'unit':<9} floor is",
    ]
    for label, key, floor_key, unit in ROWS:
        value = results.get(key)
        floor = results.get(floor_key) if floor_key else None
        lines.append(
            f"{label:<28} {_fmt(value):>12} {_fmt(floor):>18}  {unit:<9} "
            f"{FLOOR_NOTES.get(floor_key or '', '')}"
        )
    lines += ["", "goals (issue 7):"]
    for key, verdict in results.get("goals", {}).items():
        lines.append(f"  {'met   ' if verdict['met'] else 'MISSED'} {key:<26} {verdict['goal']}")
    if results.get("notes"):
        lines += ["", "notes:", *(f"  - {note}" for note in results["notes"])]
    if results.get("errors"):
        lines += ["", "errors:", *(f"  - {error}" for error in results["errors"])]
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) >= 10 else f"{value:,.3f}"
    return str(value)
