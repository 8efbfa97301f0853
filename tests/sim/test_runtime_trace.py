"""The trace recorder: a hash that only what happened can change."""

from __future__ import annotations

import io
from dataclasses import dataclass

import pykka

from sim.runtime import SimRuntime
from sim.trace import TraceRecorder, render


@dataclass(frozen=True)
class Fill:
    order_id: str
    quantity: int
    price: float


def _digest(lines: list[tuple[object, ...]]) -> str:
    recorder = TraceRecorder()
    for kind, *fields in lines:
        recorder.record(str(kind), *fields)
    return recorder.hexdigest()


def test_the_hash_depends_on_every_line_and_not_on_batching() -> None:
    lines: list[tuple[object, ...]] = [("fill", float(n), Fill(f"o{n}", n, 100.05)) for n in range(10_000)]
    recorder = TraceRecorder()
    for kind, *fields in lines[:5000]:
        recorder.record(str(kind), *fields)
    recorder.hexdigest()  # a digest in the middle must not change the end result
    for kind, *fields in lines[5000:]:
        recorder.record(str(kind), *fields)

    assert recorder.hexdigest() == _digest(lines)
    assert recorder.events == 10_000
    changed = [*lines[:-1], ("fill", 9999.0, Fill("o9999", 9999, 100.1))]
    assert _digest(changed) != _digest(lines)


def test_render_cuts_out_what_differs_between_processes() -> None:
    sim = SimRuntime(seed=1)
    ref = sim.spawn(type("Probe", (pykka.Actor,), {}))
    try:
        assert "0x" not in render(object())
        assert "urn:uuid" not in render(("reply to", ref))
        assert render({"b", "a", "c"}) == "{a, b, c}"
        assert render(Fill("o1", 50, 99.95)) == "Fill(order_id='o1', quantity=50, price=99.95)"
    finally:
        sim.crash()


def test_the_last_lines_are_kept_for_a_dump() -> None:
    recorder = TraceRecorder(keep_last=2)
    for n in range(5):
        recorder.record("tick", n, 0.5 * n)
    out = io.StringIO()

    assert recorder.dump(out) == "tick | 3 | 1.5\ntick | 4 | 2.0"
    assert out.getvalue() == "tick | 3 | 1.5\ntick | 4 | 2.0\n"
