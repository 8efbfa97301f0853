"""The supervised-actor cases: hedge-first completion, reversal of filled and partly filled legs,
freeze-quantity children, and a process crash in the middle of a group."""

from __future__ import annotations

import dataclasses
from typing import Any

from domain.instruments import UnderlyingSpec
from runtime.config import Settings
from sim.exchange.rules import OrderRule, hold, match, partial, reject
from sim.exchange.universe import build_universe, default_listings
from sim.faults import CrashAtVisit
from sim.harness import Harness, HarnessOptions, is_exchange_timer
from sim.scenarios.base import (
    ScenarioResult,
    group_payload,
    leg,
    marketable_limit,
    option_symbol,
    result,
)

SETTLE_TIMEOUT_S = 900.0


def _options(**changes: Any) -> HarnessOptions:
    return HarnessOptions(**changes)


def _condor(h: Harness, *, lots: int = 1, key: str = "ic") -> tuple[dict[str, Any], list[str]]:
    """A NIFTY iron condor: long wings 6 strikes out, shorts 3 strikes out, one lot a leg."""
    qty = 65 * lots
    legs_spec = [
        ("BUY", option_symbol(h, "NIFTY", -6, "PE"), "protection"),
        ("BUY", option_symbol(h, "NIFTY", 6, "CE"), "protection"),
        ("SELL", option_symbol(h, "NIFTY", -3, "PE"), "risk"),
        ("SELL", option_symbol(h, "NIFTY", 3, "CE"), "risk"),
    ]
    legs = [leg(sym, side, qty, role, marketable_limit(h, sym, side)) for side, sym, role in legs_spec]
    return group_payload("NIFTY", legs, key, "iron_condor"), [sym for _, sym, _ in legs_spec]


def _run(name: str, h: Harness, payload: dict[str, Any], **extra: Any) -> ScenarioResult:
    try:
        h.wait_recovered()
        accepted = h.submit(payload)
        h.run_until_settled([accepted.group_id], timeout=SETTLE_TIMEOUT_S)
        return result(name, h, accepted.group_id, **extra)
    finally:
        h.close()


def iron_condor(seed: int, *, faults: Any = None, **options: Any) -> ScenarioResult:
    """A NIFTY iron condor: wings first, then shorts. `faults(harness)` may inject crashes."""
    h = Harness(seed, options=_options(**options), faults=faults)
    payload, symbols = _condor(h)
    out = _run("iron-condor", h, payload)
    out.extra["process_crashes"] = h.process_crashes
    out.extra["protection_filled_before_risk_sent"] = _hedge_first(h, symbols[:2], symbols[2:])
    if not out.extra["protection_filled_before_risk_sent"]:
        out.violations.append("hedge-first: a risk leg was sent before every protection leg filled")
    return out


def _hedge_first(h: Harness, protection: list[str], risk: list[str]) -> bool:
    """From the exchange's ledger: the last protection fill precedes the first risk order's arrival."""
    orders = list(h.exchange.ledger.iter_orders())
    # Entries only: protection entries buy, risk entries sell (reversals go the other way, later).
    last_protection_fill = max(
        (
            f.ts
            for o in orders
            if o.request.tradingsymbol in protection and o.request.side.value == "BUY"
            for f in h.exchange.fills(o.order_id)
        ),
        default=None,
    )
    first_risk_sent = min(
        (o.placed_at for o in orders if o.request.tradingsymbol in risk and o.request.side.value == "SELL"),
        default=None,
    )
    if first_risk_sent is None:
        return True
    return last_protection_fill is not None and last_protection_fill <= first_risk_sent


def leg_reject_reversal(seed: int, **options: Any) -> ScenarioResult:
    """The documents' case: SELL 50 calls filled at 100, the BUY leg rejected → BUY 50 at market."""
    h = Harness(seed, options=_options(**options))
    short_call = option_symbol(h, "SCEN", 2, "CE")
    long_call = option_symbol(h, "SCEN", 4, "CE")
    h.exchange.set_ltp(short_call, 100.0)
    h.exchange.add_rule(
        OrderRule(match(tradingsymbol=long_call, side="BUY"), reject("RMS: leg 2 rejected", after_s=0.5), once=True)
    )
    payload = group_payload(
        "SCEN",
        [
            leg(short_call, "SELL", 50, "risk", 95.0),
            leg(long_call, "BUY", 50, "risk", marketable_limit(h, long_call, "BUY")),
        ],
        "leg-reject",
    )
    return _run("leg-reject-reversal", h, payload)


def partial_fill_reversal(seed: int, **options: Any) -> ScenarioResult:
    """A risk leg fills 30 of 50 and the rest never comes: exactly 30 are reversed."""
    h = Harness(seed, options=_options(**options))
    wing_put, wing_call = option_symbol(h, "SCEN", -4, "PE"), option_symbol(h, "SCEN", 4, "CE")
    short_put, short_call = option_symbol(h, "SCEN", -2, "PE"), option_symbol(h, "SCEN", 2, "CE")
    h.exchange.add_rule(OrderRule(match(tradingsymbol=short_call, side="SELL"), partial(30), once=True))
    payload = group_payload(
        "SCEN",
        [
            leg(wing_put, "BUY", 50, "protection", marketable_limit(h, wing_put, "BUY")),
            leg(wing_call, "BUY", 50, "protection", marketable_limit(h, wing_call, "BUY")),
            leg(short_put, "SELL", 50, "risk", marketable_limit(h, short_put, "SELL")),
            leg(short_call, "SELL", 50, "risk", marketable_limit(h, short_call, "SELL")),
        ],
        "partial-fill",
    )
    return _run("partial-fill-reversal", h, payload)


def freeze_split_child_reject(seed: int, **options: Any) -> ScenarioResult:
    """SELL 100 with a freeze of 20: five children; the third rejected, the fourth never fills →
    the filled children are reversed and the pending one cancelled."""
    listings = [
        dataclasses.replace(item, spec=UnderlyingSpec("SCEN", lot_size=10, freeze_quantity=20, strike_step=100))
        if item.spec.name == "SCEN"
        else item
        for item in default_listings()
    ]
    probe = Harness(seed)  # only to learn the clock's start for the listing dates
    start = probe.runtime.clock.now()
    probe.close()
    universe = build_universe(listings, start)
    h = Harness(seed, options=_options(universe=universe, **options))
    short_call = option_symbol(h, "SCEN", 2, "CE")
    h.exchange.add_rule(
        OrderRule(
            match(tradingsymbol=short_call, side="SELL", nth=3), reject("RMS: child rejected", after_s=0.5), once=True
        )
    )
    h.exchange.add_rule(OrderRule(match(tradingsymbol=short_call, side="SELL", nth=4), hold(), once=True))
    payload = group_payload(
        "SCEN", [leg(short_call, "SELL", 100, "risk", marketable_limit(h, short_call, "SELL"))], "freeze"
    )
    return _run("freeze-split-child-reject", h, payload)


def crash_mid_execution(seed: int, **options: Any) -> ScenarioResult:
    """The process dies after the protection legs filled and before the risk legs are sent."""
    holder: dict[str, Harness] = {}

    def crash_process() -> None:
        holder["h"].runtime.crash(keep_timers=is_exchange_timer)

    def plan(h: Harness) -> Any:
        if h.process_crashes:
            return CrashAtVisit("never", 1, crash_process)
        return CrashAtVisit("group.begin_phase.risk", 1, crash_process)

    h = Harness(seed, options=_options(**options), faults=plan)
    holder["h"] = h
    payload, _ = _condor(h, key="crash-mid")
    out = _run("crash-mid-execution", h, payload, process_crashes=0)
    out.extra["process_crashes"] = h.process_crashes
    if h.process_crashes != 1:
        out.violations.append(f"expected exactly one process crash, saw {h.process_crashes}")
    return out


__all__ = [
    "Settings",
    "crash_mid_execution",
    "freeze_split_child_reject",
    "iron_condor",
    "leg_reject_reversal",
    "partial_fill_reversal",
]
