"""Smoke tests of `legguard bench`: a tiny run of each measurement, so the bench cannot rot.

Nothing here is a timing assertion (the figures of a tiny run mean nothing): each measurement must
run on the real wiring, report its keys, and give positive numbers.
"""

from __future__ import annotations

import os

import pytest

from api.service import Service
from bench.cli import KEYS, wait_ready
from bench.inflight import build_in_flight, cancel_held_shorts, measure_recovery, recovery_floor
from bench.memfloor import rss_of_idle_actors
from bench.payloads import scripted_condor
from bench.report import judge, render_table
from bench.rig import MAP_SIZE, Rig, bench_exchange, bench_settings
from bench.sequential import Sequencer, measure_overhead, measure_reaction
from bench.simspeed import measure_sim_speed
from bench.throughput import measure_throughput
from runtime.clock import SystemClock


def _positive(results, *keys):
    for key in keys:
        assert results[key] is not None and results[key] > 0, key


def test_each_service_measurement_runs_on_the_real_wiring(tmp_path):
    settings = bench_settings()
    clock = SystemClock()
    exchange = bench_exchange(clock, settings)
    data_dir = str(tmp_path / "service")
    rig = Rig(settings, exchange, clock, data_dir).start()
    results = {}
    try:
        wait_ready(rig)
        condor, prices = scripted_condor(exchange)
        seq = Sequencer(rig, condor, prices)
        results.update(measure_reaction(seq, 3, str(tmp_path)))
        results.update(measure_overhead(seq, 3))
        results.update(measure_throughput(rig, condor, prices, 4))
        built = build_in_flight(rig, condor, prices, 3)
    finally:
        rig.stop()
    assert seq.bad_outcomes == []
    assert cancel_held_shorts(exchange, condor) == 6
    results.update(recovery_floor(data_dir, exchange))

    def service(broker):
        return Service(settings, broker=broker, universe=exchange.universe, data_dir=data_dir,
                       clock=clock, map_size=MAP_SIZE)

    try:
        results.update(measure_recovery(exchange, condor, built["group_ids"], service))
    finally:
        exchange.close()
        clock.close()
    _positive(results, "reaction_p50_us", "reaction_p99_us", "reaction_floor_p99_us", "overhead_p99_us")
    _positive(results, "throughput_groups_per_s", "max_groups_in_flight", "recovery_1000_groups_s")
    _positive(built, "rss_per_group_kb", "actors_per_group", "stored_kb_per_group")
    assert results["reaction_events"] == 3 and results["reaction_unclean_events"] == 0
    assert results["recovery_reversals_sent"] == 6 and results["recovery_unexpected_orders"] == 0
    assert results["recovery_net_units_moved"] == results["recovery_net_units_expected"]
    assert results["recovery_all_flat_s"] is not None


def test_simulation_speed_counts_seeds_with_faults():
    before = os.sched_getaffinity(0)
    results = measure_sim_speed(2, fault_free_seeds=1)
    assert os.sched_getaffinity(0) == before  # the one-core pin is undone
    _positive(results, "sim_seeds_per_s", "sim_fault_free_seeds_per_s")
    assert results["sim_seeds"] == 2


def test_memory_floor_of_idle_actors_is_measured_in_a_fresh_interpreter():
    assert rss_of_idle_actors(20) > 0


@pytest.mark.parametrize("value, met", [(1.0, True), (1e9, False)])
def test_the_report_judges_every_goal_and_renders(value, met):
    good = 1e9 if met else 1.0  # a figure where more is better
    results = dict.fromkeys(KEYS, value) | {"reaction_floor_p99_us": good}
    results.update(throughput_groups_per_s=good, max_groups_in_flight=1, sim_seeds_per_s=good)
    verdicts = judge(results)
    assert set(verdicts) == {"reaction_p99_us", "overhead_p99_us", "throughput_groups_per_s",
                             "recovery_1000_groups_s", "rss_per_group_kb", "sim_seeds_per_s"}
    assert all(v["met"] is met for v in verdicts.values())
    assert "goals (issue 7)" in render_table(results | {"goals": verdicts})
