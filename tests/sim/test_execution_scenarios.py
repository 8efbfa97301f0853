"""The supervised-actor cases of the design documents, each with its numbers, on the deterministic
runtime against the simulated exchange (real LMDB files, real actor classes)."""

from __future__ import annotations

from collections import Counter

import pytest

from sim.faults import CrashAtVisit
from sim.harness import is_exchange_timer
from sim.scenarios import run_scenario
from sim.scenarios.execution import iron_condor

SEEDS = (1, 2, 3)


def _entries(result, leg_id):
    return [o for o in result.extra["orders"] if o["leg"] == leg_id and o["purpose"] == "entry"]


def _reversals(result, leg_id):
    return [o for o in result.extra["orders"] if o["leg"] == leg_id and o["purpose"] != "entry"]


@pytest.mark.parametrize("seed", SEEDS)
def test_iron_condor_completes_with_protection_filled_before_any_risk_leg_is_sent(seed):
    result = run_scenario("iron-condor", seed)
    assert result.violations == []
    assert (result.final_state, result.outcome) == ("HEDGED", "COMPLETE")
    assert result.extra["protection_filled_before_risk_sent"] is True
    assert sorted(result.net_position.values()) == [-65, -65, 65, 65]
    assert result.orders_sent == 4 and result.duplicate_orders == 0


@pytest.mark.parametrize("seed", SEEDS)
def test_rejected_second_leg_after_the_first_filled_ends_flat_by_a_reverse_trade(seed):
    result = run_scenario("leg-reject-reversal", seed)
    assert result.violations == []
    assert result.outcome == "FLAT"
    (sold,) = _entries(result, "L0")
    (bought,) = _entries(result, "L1")
    # SELL 50 calls filled at 100; the BUY was rejected; the short was closed by a BUY 50, not a cancel.
    assert (sold["side"], sold["filled"], sold["status"], sold["average_price"]) == ("SELL", 50, "COMPLETE", 100.0)
    assert sold["cancel_requested"] is False
    assert (bought["status"], bought["filled"]) == ("REJECTED", 0)
    reversal = _reversals(result, "L0")
    assert [(o["side"], o["filled"]) for o in reversal] == [("BUY", 50)]
    assert set(result.net_position.values()) == {0}


@pytest.mark.parametrize("seed", SEEDS)
def test_a_partial_fill_is_reversed_by_exactly_the_filled_quantity(seed):
    result = run_scenario("partial-fill-reversal", seed)
    assert result.violations == []
    assert result.outcome == "FLAT"
    by_symbol = {leg["symbol"]: leg for leg in result.legs}
    partial = [leg for leg in by_symbol.values() if leg["filled"] == 30]
    assert len(partial) == 1 and partial[0]["reversed"] == 30
    for leg in result.legs:
        assert leg["reversed"] == leg["filled"]
    assert set(result.net_position.values()) == {0}


@pytest.mark.parametrize("seed", SEEDS)
def test_freeze_split_children_one_rejected_one_pending_filled_ones_reversed_pending_cancelled(seed):
    result = run_scenario("freeze-split-child-reject", seed)
    assert result.violations == []
    assert result.outcome == "FLAT"
    entries = _entries(result, "L0")
    assert [o["quantity"] for o in entries] == [20] * 5
    statuses = Counter(o["status"] for o in entries)
    assert statuses == Counter({"COMPLETE": 3, "REJECTED": 1, "CANCELLED": 1})
    (pending,) = [o for o in entries if o["status"] == "CANCELLED"]
    assert pending["cancel_requested"] and pending["filled"] == 0
    reversed_units = sum(o["filled"] for o in _reversals(result, "L0"))
    assert reversed_units == 60 == sum(o["filled"] for o in entries)
    assert all(o["quantity"] <= 20 for o in _reversals(result, "L0"))


@pytest.mark.parametrize("seed", SEEDS)
def test_crash_after_protection_filled_before_risk_sent_recovers_without_duplicates(seed):
    result = run_scenario("crash-mid-execution", seed)
    assert result.violations == []
    assert result.extra["process_crashes"] == 1
    assert result.outcome in ("COMPLETE", "FLAT")
    assert result.duplicate_orders == 0
    assert len({o["tag"] for o in result.extra["orders"]}) == result.orders_sent


def test_same_seed_same_trace_hash_other_seed_other_hash():
    first = run_scenario("partial-fill-reversal", 11)
    again = run_scenario("partial-fill-reversal", 11)
    other = run_scenario("partial-fill-reversal", 12)
    assert first.trace_hash == again.trace_hash
    assert first.trace_hash != other.trace_hash


def _durable_boundaries(seed: int) -> int:
    holder = {}

    def never():
        raise AssertionError("not planned")

    def counting(h):
        holder["plan"] = CrashAtVisit("none", 1, never)
        return holder["plan"]

    iron_condor(seed, faults=counting)
    return holder["plan"].visits["writer.after_commit"]


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
def test_a_process_crash_at_every_durable_boundary_of_a_four_leg_group_keeps_every_invariant(seed):
    boundaries = _durable_boundaries(seed)
    assert boundaries >= 8  # accept, phase commits, leg intents, transitions, settle
    for visit in range(1, boundaries + 1):
        holder = {}

        def crash_process(holder=holder):
            holder["h"].runtime.crash(keep_timers=is_exchange_timer)

        def plan(h, visit=visit, holder=holder, crash_process=crash_process):
            holder["h"] = h
            if h.process_crashes:
                return CrashAtVisit("none", 1, crash_process)
            return CrashAtVisit("writer.after_commit", visit, crash_process)

        result = iron_condor(seed, faults=plan)
        context = f"seed {seed}, crash at durable boundary {visit}/{boundaries}"
        assert result.violations == [], context
        assert result.extra["process_crashes"] == 1, context
        assert result.outcome in ("COMPLETE", "FLAT"), context
        assert result.duplicate_orders == 0, context
