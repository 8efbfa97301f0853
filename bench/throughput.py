"""Throughput: condors that fill at once, all submitted up front, timed to the last one settled
and durable.

The bench thread submits every group without waiting (each `System.submit` returns a future), so
the risk actor's inbox is the queue. The clock stops when the watcher has seen every group settle
and a writer barrier has returned (every settle commit is on disk); the store is then checked: no
group of the run is still open. `max_groups_in_flight` counts groups between their first published
transition and their settlement, at their peak.
"""

from __future__ import annotations

import time
from typing import Any

from actors.messages import Barrier
from bench.cpu import cpu_seconds, thread_count
from bench.payloads import Condor
from bench.rig import Rig

WAIT_S = 600.0


def writer_barrier(rig: Rig, timeout: float = 60.0) -> None:
    """Returns once every commit queued before it is durable."""
    assert rig.ctx is not None
    writer = rig.ctx.directory.lookup("writer")
    if writer is None:
        raise RuntimeError("no writer")
    writer.ask(Barrier(), timeout=timeout)


def measure_throughput(rig: Rig, condor: Condor, prices: dict[str, float], groups: int) -> dict[str, Any]:
    assert rig.store is not None
    payloads = [condor.payload(f"tp-{n}-{time.time_ns()}", prices) for n in range(groups)]
    board = rig.board
    already = len(board.settled)
    board.reset_peak()
    peak_threads = thread_count()
    assert rig.system is not None
    writer_before = rig.system.describe("writer")
    cpu_before = cpu_seconds()
    started = time.perf_counter_ns()
    futures = [rig.submit(payload) for payload in payloads]
    deadline = time.monotonic() + WAIT_S
    while not board.wait_settled(already + groups, 0.25):
        peak_threads = max(peak_threads, thread_count())
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(board.settled) - already} of {groups} groups settled in {WAIT_S} s")
    writer_barrier(rig)
    elapsed_s = (time.perf_counter_ns() - started) / 1e9
    cpu_s = cpu_seconds() - cpu_before
    writer_after = rig.system.describe("writer")
    group_ids = {f.get(timeout=1.0).group_id for f in futures}
    still_open = group_ids & set(rig.store.open_groups())
    outcomes = {board.settled[g][2] for g in group_ids}
    if still_open or outcomes != {"COMPLETE"}:
        raise RuntimeError(f"throughput run not clean: {len(still_open)} still open, outcomes {outcomes}")
    return {
        "throughput_groups_per_s": round(groups / elapsed_s, 1),
        "max_groups_in_flight": board.max_in_flight,
        "throughput_groups": groups,
        "throughput_elapsed_s": round(elapsed_s, 3),
        # One interpreter runs every actor: CPU per group bounds throughput at 1 / this.
        "throughput_cpu_ms_per_group": round(cpu_s * 1000 / groups, 3),
        "throughput_cpu_bound_groups_per_s": round(groups / cpu_s, 1),
        "throughput_cpu_utilisation": round(cpu_s / elapsed_s, 2),
        "throughput_commits_per_group": round(
            (writer_after["commits"] - writer_before["commits"]) / groups, 1
        ),
        "throughput_fsyncs_per_group": round(
            (writer_after["transactions"] - writer_before["transactions"]) / groups, 2
        ),
        "throughput_peak_threads": peak_threads,
    }
