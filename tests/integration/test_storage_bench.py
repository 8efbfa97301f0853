"""The storage benchmark runs end to end and reports figures that hang together."""

from __future__ import annotations

import json
from pathlib import Path

from storage import bench


def test_bench_json_reports_every_measurement(tmp_path: Path) -> None:
    printed: list[str] = []
    argv = ["--json", "--samples", "20", "--records", "40", "--submitters", "1,4", "--dir", str(tmp_path)]
    assert bench.main(argv, out=printed.append) == 0

    report = json.loads(printed[0])
    names = [row["name"] for row in report["results"]]
    assert names == [
        "floor: fdatasync 4 KiB",
        "single durable snapshot commit",
        "group commit, 1 submitters",
        "group commit, 4 submitters",
    ]
    for row in report["results"]:
        assert row["records"] > 0
        assert 0 < row["p50_ms"] <= row["p99_ms"]
        assert row["records_per_commit"] >= 1
    # The temporary data directory is gone afterwards.
    assert list(tmp_path.iterdir()) == []


def test_snapshot_body_is_about_one_kilobyte() -> None:
    from storage.codec import encode

    assert 900 <= len(encode(bench.snapshot_body(7))) <= 1300
