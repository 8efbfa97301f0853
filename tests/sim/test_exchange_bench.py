"""The benchmark's own workloads, small: they must do what their numbers claim to measure."""

from __future__ import annotations

from sim.exchange.bench import iron_condor, order_event_rate


def test_event_rate_counts_five_updates_and_one_fill_per_order() -> None:
    rate = order_event_rate(orders=300)
    assert rate.orders == 300
    assert rate.updates == 5 * 300  # PUT ORDER REQ RECEIVED, VALIDATION/OPEN PENDING, OPEN, COMPLETE
    assert rate.fills >= 300
    assert rate.updates_per_s > 0


def test_iron_condor_runs_fill_all_four_legs() -> None:
    result = iron_condor(runs=3)
    assert result.runs == 3
    assert 0.0 < result.virtual_ms_median < 1_000.0  # four legs in two rounds of three hops
