"""Storage benchmark: durable commit latency, alone and under group commit.

    python -m storage.bench [--json] [--samples N] [--records N] [--submitters 1,8,64] [--dir DIR]

Measures, in a fresh environment under a temporary directory (on the same disk as DIR when given):
  floor   fdatasync of one 4 KiB write: what the disk costs before LMDB does anything
  single  one durable snapshot commit (~1 KB body) through Store.commit, one after another
  group   N submitter threads through ThreadedWriter, each waiting for its ack before the next
          record: per-record latency as a caller sees it, records/s, records per transaction
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import lmdb

from runtime.config import StorageConfig
from storage.batch import Batch
from storage.env import close_env, open_env
from storage.keys import group_key, leg_key
from storage.store import Store
from storage.writer import ThreadedWriter

BODY_BYTES = 1024
WAIT_S = 30.0


@dataclass(frozen=True, slots=True)
class Latency:
    name: str
    records: int
    p50_ms: float
    p99_ms: float
    mean_ms: float
    records_per_s: float
    records_per_commit: float


def snapshot_body(index: int) -> dict[str, Any]:
    """A leg snapshot of about BODY_BYTES once encoded."""
    body: dict[str, Any] = {
        "leg_id": f"L{index}",
        "tradingsymbol": "NIFTY26MAR24500CE",
        "side": "SELL",
        "quantity": 1800,
        "filled": 650,
        "avg_price": 101.25,
        "state": "PARTIALLY_FILLED",
        "children": [{"tag": f"c1-{index}-{n}", "qty": 600, "filled": 0} for n in range(3)],
    }
    body["note"] = "x" * max(0, BODY_BYTES - len(json.dumps(body)))
    return body


def measure_floor(directory: str, samples: int) -> Latency:
    path = os.path.join(directory, "fsync.probe")
    block = os.urandom(4096)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        timings = []
        for index in range(samples):
            start = time.perf_counter()
            os.pwrite(fd, block, (index % 16) * 4096)
            os.fdatasync(fd)
            timings.append(time.perf_counter() - start)
    finally:
        os.close(fd)
    return summarize("floor: fdatasync 4 KiB", timings, sum(timings), commits=samples)


def measure_single(store: Store, samples: int) -> Latency:
    body = snapshot_body(0)
    timings = []
    for seq in range(1, samples + 1):
        batch = Batch().put_snapshot(leg_key("B", f"L{seq % 8}"), seq, body)
        start = time.perf_counter()
        result = store.commit(batch)
        timings.append(time.perf_counter() - start)
        if not result.ok:
            raise RuntimeError(str(result))
    return summarize("single durable snapshot commit", timings, sum(timings), commits=samples)


def measure_group(store: Store, submitters: int, records: int) -> Latency:
    per_submitter = max(1, records // submitters)
    timings: list[list[float]] = [[] for _ in range(submitters)]
    body = snapshot_body(1)
    start_line = threading.Barrier(submitters + 1)

    def submit_many(writer: ThreadedWriter, index: int) -> None:
        start_line.wait(WAIT_S)
        key = group_key(f"S{submitters}-{index}")
        for seq in range(1, per_submitter + 1):
            start = time.perf_counter()
            result = writer.submit(Batch().put_snapshot(key, seq, body)).result(WAIT_S)
            timings[index].append(time.perf_counter() - start)
            if not result.ok:
                raise RuntimeError(str(result))

    with ThreadedWriter(store) as writer:
        threads = [threading.Thread(target=submit_many, args=(writer, n)) for n in range(submitters)]
        for thread in threads:
            thread.start()
        start_line.wait(WAIT_S)
        began = time.perf_counter()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - began
        flushes = writer.flushes
    flat = [t for per in timings for t in per]
    return summarize(f"group commit, {submitters} submitters", flat, wall, commits=flushes)


def summarize(name: str, timings: Sequence[float], wall_s: float, *, commits: int) -> Latency:
    ordered = sorted(timings)
    return Latency(
        name=name,
        records=len(ordered),
        p50_ms=round(_percentile(ordered, 0.50) * 1e3, 3),
        p99_ms=round(_percentile(ordered, 0.99) * 1e3, 3),
        mean_ms=round(statistics.fmean(ordered) * 1e3, 3),
        records_per_s=round(len(ordered) / wall_s, 1),
        records_per_commit=round(len(ordered) / max(commits, 1), 2),
    )


def _percentile(ordered: Sequence[float], share: float) -> float:
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def run(directory: str, samples: int, records: int, submitter_counts: Sequence[int]) -> list[Latency]:
    env = open_env(StorageConfig(path=os.path.join(directory, "db")))
    try:
        store = Store(env)
        results = [measure_floor(directory, samples), measure_single(store, samples)]
        results.extend(measure_group(store, count, records) for count in submitter_counts)
        return results
    finally:
        close_env(env)


def render_table(results: Sequence[Latency]) -> str:
    columns = ("records", "p50 ms", "p99 ms", "mean ms", "rec/s", "rec/txn")
    header = f"{'measurement':<36} " + " ".join(f"{name:>8}" for name in columns)
    rows = [
        f"{r.name:<36} {r.records:>8} {r.p50_ms:>8.3f} {r.p99_ms:>8.3f} {r.mean_ms:>8.3f} "
        f"{r.records_per_s:>8.0f} {r.records_per_commit:>8.2f}"
        for r in results
    ]
    return "\n".join([header, *rows])


def main(argv: Sequence[str] | None = None, out: Callable[[str], None] = print) -> int:
    parser = argparse.ArgumentParser(prog="python -m storage.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--samples", type=int, default=500, help="commits for the floor and single figures")
    parser.add_argument("--records", type=int, default=4000, help="records per group-commit measurement")
    parser.add_argument("--submitters", default="1,8,64", help="comma-separated submitter counts")
    parser.add_argument("--dir", default=None, help="parent of the temporary data directory")
    args = parser.parse_args(argv)
    counts = [int(part) for part in args.submitters.split(",") if part]
    with tempfile.TemporaryDirectory(prefix="legguard-bench-", dir=args.dir) as directory:
        results = run(directory, args.samples, args.records, counts)
    if args.json:
        out(json.dumps({"lmdb": _lmdb_version(), "results": [asdict(r) for r in results]}))
    else:
        out(f"LMDB {_lmdb_version()}, python {sys.version.split()[0]}, commits with sync + metasync")
        out(render_table(results))
    return 0


def _lmdb_version() -> str:
    return ".".join(map(str, lmdb.version()))


if __name__ == "__main__":
    sys.exit(main())
