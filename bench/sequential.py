"""Reaction and overhead: groups one at a time, so that each measured event has the system to itself.

reaction  a condor whose short put the exchange rejects REJECT_AFTER_S after it was placed, by
          which time the short call has filled and every actor is idle. Measured: the gateway
          receives the REJECTED update → the first reversal order of that group leaves the gateway
          (the buy-back of the filled short call). One floor sample follows each event.
overhead  a condor that fills at once. Measured: the caller's `System.submit` → the fourth order of
          the group leaves the gateway (two wings, then, once both are filled, the two shorts).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from bench.floors import Floor, ReversalShape
from bench.payloads import Condor
from bench.rig import Rig
from bench.stats import summary_us
from sim.exchange import OrderRule, match, reject
from storage import keys

REJECT_AFTER_S = 0.02
WAIT_S = 30.0


@dataclass
class Sequencer:
    rig: Rig
    condor: Condor
    prices: dict[str, float]
    runs: int = 0
    bad_outcomes: list[str] = field(default_factory=list)

    def run_one(self, expect: str) -> tuple[str, int]:
        """Submit one condor, wait until it has settled; (group id, submit time in ns)."""
        self.runs += 1
        self._wait_idle()
        payload = self.condor.payload(f"seq-{self.runs}-{time.time_ns()}", self.prices)
        self.rig.probe.clear()
        submitted = time.perf_counter_ns()
        accepted = self.rig.submit(payload).get(timeout=WAIT_S)
        if not self.rig.board.wait_group(accepted.group_id, WAIT_S):
            raise TimeoutError(f"group {accepted.group_id} did not settle within {WAIT_S} s")
        outcome = self.rig.board.settled[accepted.group_id][2]
        if outcome != expect:
            self.bad_outcomes.append(f"{accepted.group_id}: {outcome}")
        return accepted.group_id, submitted

    def _wait_idle(self) -> None:
        """Each group starts on an idle service: the previous group's actors have all stopped (the
        groups supervisor answers only after its blocking stops, so its count is exact)."""
        assert self.rig.system is not None
        deadline = time.monotonic() + WAIT_S
        while self.rig.system.describe("groups")["groups"] and time.monotonic() < deadline:
            time.sleep(0.001)


def _intent(rig: Rig, tag: str) -> dict[str, Any]:
    assert rig.store is not None
    return rig.store.intent(tag) or {}


def reversal_shape(rig: Rig, group_id: str) -> ReversalShape:
    """The leg snapshot, child snapshot and intent of this group's first reversal, as committed."""
    assert rig.store is not None
    store = rig.store
    child = next(
        s.body for s in store.scan_snapshots(keys.child_prefix(group_id))
        if s.body.get("purpose") == "reversal"
    )
    found = store.snapshot(keys.leg_key(group_id, child["leg_id"]))
    assert found is not None
    return ReversalShape(found[1], child, _intent(rig, child["tag"]))


def measure_reaction(seq: Sequencer, events: int, data_root: str) -> dict[str, Any]:
    rig = seq.rig
    rule = rig.exchange.add_rule(
        OrderRule(
            match(tradingsymbol=seq.condor.short_put, side="SELL"),
            reject("RMS: bench", after_s=REJECT_AFTER_S),
            once=False,
        )
    )
    samples: list[int] = []
    unclean = 0
    try:
        group_id, _ = seq.run_one("FLAT")  # warm-up, and the shape of a real reversal for the floor
        floor = Floor(data_root, reversal_shape(rig, group_id))
        try:
            while len(samples) < events:
                group_id, _ = seq.run_one("FLAT")
                sample, clean = _reaction_sample(rig, group_id)
                samples.append(sample)
                unclean += not clean
                floor.sample()
        finally:
            floor.close()
    finally:
        rig.exchange.remove_rule(rule)
    reaction = summary_us(samples)
    floor_all = summary_us(floor.samples_ns)
    return {
        "reaction_p50_us": reaction["p50"],
        "reaction_p99_us": reaction["p99"],
        "reaction_max_us": reaction["max"],
        "reaction_events": reaction["n"],
        "reaction_unclean_events": unclean,
        "reaction_floor_p50_us": floor_all["p50"],
        "reaction_floor_p99_us": floor_all["p99"],
        "reaction_floor_max_us": floor_all["max"],
        "floor_tell_round_trip_p50_us": summary_us(floor.tell_only_ns)["p50"],
        "floor_tell_round_trip_p99_us": summary_us(floor.tell_only_ns)["p99"],
        "floor_durable_commit_p50_us": summary_us(floor.commit_only_ns)["p50"],
        "floor_durable_commit_p99_us": summary_us(floor.commit_only_ns)["p99"],
    }


def _reaction_sample(rig: Rig, group_id: str) -> tuple[int, bool]:
    """REJECTED at the gateway → the group's first reversal leaving it; clean when no other update
    reached the gateway in between."""
    probe = rig.probe
    rejected = next(
        (t, tag) for tag, status, _, t in probe.arrivals
        if status == "REJECTED" and _intent(rig, tag).get("group_id") == group_id
    )
    left = next(t for tag, t in probe.departures if t > rejected[0] and _is_reversal_of(rig, tag, group_id))
    others = [a for a in probe.arrivals if rejected[0] < a[3] < left]
    return left - rejected[0], not others


def _is_reversal_of(rig: Rig, tag: str, group_id: str) -> bool:
    body = _intent(rig, tag)
    return body.get("group_id") == group_id and body.get("purpose") == "reversal"


def measure_overhead(seq: Sequencer, groups: int) -> dict[str, Any]:
    samples: list[int] = []
    first: list[int] = []
    margin_checks: list[int] = []
    margin_states = 0
    seq.run_one("COMPLETE")  # warm-up
    assert seq.rig.system is not None
    for _ in range(groups):
        _, submitted = seq.run_one("COMPLETE")
        # The worst-case margin check of this group: every prefix of its send order and the partial
        # fills of the leg in flight, each priced by the broker's basket margin.
        margin = seq.rig.system.describe("margin")
        margin_checks.append(int(margin["last_check_ms"] * 1_000_000))
        margin_states = margin["last_states"]
        departures = seq.rig.probe.departures
        if len(departures) != 4:
            raise RuntimeError(f"expected 4 orders of one condor, the gateway sent {len(departures)}")
        samples.append(departures[3][1] - submitted)
        first.append(departures[0][1] - submitted)
    overhead = summary_us(samples)
    return {
        "overhead_p50_us": overhead["p50"],
        "overhead_p99_us": overhead["p99"],
        "overhead_max_us": overhead["max"],
        "overhead_groups": overhead["n"],
        "overhead_first_order_p50_us": summary_us(first)["p50"],
        "margin_check_p50_us": summary_us(margin_checks)["p50"],
        "margin_check_p99_us": summary_us(margin_checks)["p99"],
        "margin_check_states": margin_states,
    }
