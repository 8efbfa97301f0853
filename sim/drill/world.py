"""The simulated world around one drill seed: its instruments, its calm after the storm, and the
observation hooks the checks need (order statuses on the monotonic clock, actor failures in the trace).

The hooks wrap instance methods of the exchange's ledger and of the run's trace recorder: neither
offers an observer (see the drill report for the hooks proposed instead).
"""

from __future__ import annotations

import dataclasses
import functools
from collections import Counter
from collections.abc import Callable
from typing import Any

from domain.instruments import InstrumentUniverse, UnderlyingSpec
from sim.exchange import Exchange
from sim.exchange.config import FaultConfig, Latency, LatencyConfig
from sim.exchange.universe import build_universe, default_listings
from sim.runtime import MARKET_OPEN_2026_11_03


@functools.lru_cache(maxsize=1)
def drill_universe() -> InstrumentUniverse:
    """The default chains, with SCEN's freeze quantity cut to two lots so that a 3-lot leg is split
    into tracked child orders (NIFTY and BANKNIFTY never split at 1-3 lots)."""
    listings = [
        dataclasses.replace(item, spec=UnderlyingSpec("SCEN", lot_size=10, freeze_quantity=20, strike_step=100))
        if item.spec.name == "SCEN"
        else item
        for item in default_listings()
    ]
    return build_universe(listings, MARKET_OPEN_2026_11_03)


def calm_exchange(exchange: Exchange) -> None:
    """Faults stop: no random rejects, drops, duplicates, unknown outcomes or latency spikes from now
    on, and no scripted rule. Orders already on their way keep what was decided for them.

    A halted market reopens (a circuit breaker's halt is a fault too: while it lasts, nothing can
    fill and no group could settle)."""
    latency = exchange.config.latency
    exchange.set_faults(
        FaultConfig(),
        LatencyConfig(
            order_hop=Latency(mean_s=latency.order_hop.mean_s),
            push=Latency(mean_s=latency.push.mean_s),
            fill_gap=Latency(mean_s=latency.fill_gap.mean_s),
        ),
    )
    exchange.clear_rules()
    exchange.resume_trading()


def time_order_statuses(exchange: Exchange, clock: Any) -> dict[str, list[tuple[float, str]]]:
    """order id -> [(monotonic time, status)] for every status the exchange gives an order (its own
    stamps are wall time, which a clock jump moves)."""
    ledger = exchange.ledger
    record = ledger.record
    times: dict[str, list[tuple[float, str]]] = {}

    def timed(order: Any, status: str, now: float, message: str | None = None) -> Any:
        times.setdefault(order.order_id, []).append((clock.monotonic(), status))
        return record(order, status, now, message)

    ledger.record = timed  # type: ignore[method-assign]
    return times


def watch_failures(trace: Any, errors: list[str], events: Counter[str], closing: Callable[[], bool]) -> None:
    """Actor failures that no fault caused are bugs the supervisors would otherwise hide: each
    `ChildFailed` delivered with a reason other than an injected crash or a poison is an error."""
    record = trace.record

    def watching(kind: str, *fields: object) -> None:
        record(kind, *fields)
        if kind != "deliver" or len(fields) != 3 or closing():
            return
        text = fields[2]
        if not isinstance(text, str):
            return
        if text.startswith("ChildFailed("):
            if "injected crash at" in text or "poison" in text:
                return
            if "restart intensity exceeded" in text:
                events["supervisor_gave_up"] += 1
                return
            errors.append(f"unexpected actor failure at t={fields[0]}: {text[:400]}")
        elif text.startswith("ChildGaveUp("):
            events["group_gave_up"] += 1

    trace.record = watching  # type: ignore[method-assign]
