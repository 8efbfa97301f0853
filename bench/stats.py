"""Percentiles and the summaries every measurement reports."""

from __future__ import annotations

from collections.abc import Sequence


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile (no interpolation): p99 of 1,000 samples is the 990th smallest."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), -(-int(share * 1000) * len(ordered) // 1000)))
    return ordered[rank - 1]


def summary_us(samples_ns: Sequence[int]) -> dict[str, float]:
    """p50 / p99 / max in microseconds, rounded to 0.1 us."""
    us = [s / 1000 for s in samples_ns]
    return {
        "p50": round(percentile(us, 0.50), 1),
        "p99": round(percentile(us, 0.99), 1),
        "max": round(max(us), 1) if us else float("nan"),
        "n": len(us),
    }
