"""One measurement of the bench on its own, to run under a profiler:

    py-spy record --gil --nonblocking -r 1000 -f raw -o throughput.txt -- \\
        .venv/bin/python -m bench.profile throughput 1000
    .venv/bin/python -m bench.flame throughput.txt        # the top frames

`--gil` samples only the thread holding the GIL: in one interpreter that is where CPU time goes,
whichever actor's thread it is. Figures: reaction, overhead, throughput, recovery, sim.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from typing import Any


def main(argv: list[str]) -> int:
    from runtime.logs import configure_logging

    configure_logging(json=True, level="CRITICAL")
    figure, count = argv[0], int(argv[1]) if len(argv) > 1 else 200
    if figure == "sim":
        from bench.simspeed import run_seeds

        print(json.dumps(run_seeds(1, count, faults=True)))
        return 0
    with tempfile.TemporaryDirectory(prefix="legguard-profile-") as root:
        print(json.dumps(_service_figure(figure, count, root)))
    return 0


def _service_figure(figure: str, count: int, root: str) -> dict[str, Any]:
    from bench.cli import wait_ready
    from bench.inflight import build_in_flight, cancel_held_shorts, measure_recovery
    from bench.payloads import scripted_condor
    from bench.rig import MAP_SIZE, Rig, bench_exchange, bench_settings
    from bench.sequential import Sequencer, measure_overhead, measure_reaction
    from bench.throughput import measure_throughput
    from runtime.clock import SystemClock

    settings = bench_settings()
    clock = SystemClock()
    exchange = bench_exchange(clock, settings)
    data_dir = os.path.join(root, "service")
    rig = Rig(settings, exchange, clock, data_dir).start()
    try:
        wait_ready(rig)
        condor, prices = scripted_condor(exchange)
        if figure == "reaction":
            return measure_reaction(Sequencer(rig, condor, prices), count, root)
        if figure == "overhead":
            return measure_overhead(Sequencer(rig, condor, prices), count)
        if figure == "throughput":
            return measure_throughput(rig, condor, prices, count)
        if figure != "recovery":
            raise SystemExit(f"unknown figure {figure!r}")
        built = build_in_flight(rig, condor, prices, count)
    finally:
        rig.stop()
    cancel_held_shorts(exchange, condor)
    from api.service import Service

    # To profile recovery alone, attach to this pid once this line is printed (see docs/benchmarks.md).
    print(f"recovering: pid {os.getpid()}", file=sys.stderr, flush=True)
    time.sleep(float(os.environ.get("LEGGUARD_BENCH_ATTACH_S", "0")))

    def service(broker: Any) -> Any:
        return Service(settings, broker=broker, universe=exchange.universe, data_dir=data_dir,
                       clock=clock, map_size=MAP_SIZE)

    return measure_recovery(exchange, condor, built["group_ids"], service)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
