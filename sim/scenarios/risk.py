"""The risk cases: worst-case margin, the kill switch (the hybrid stop and the interim exposure
monitor live in their own modules)."""

from __future__ import annotations

import dataclasses
from typing import Any

from actors.messages import KillSwitch
from brokers.port import OrderRequest
from domain.errors import Denied
from domain.model import OrderType, Side
from runtime.config import Settings
from sim.exchange.rules import OrderRule, hold, match
from sim.harness import Harness, HarnessOptions
from sim.scenarios.base import ScenarioResult, group_payload, leg, option_symbol, result
from sim.scenarios.execution import SETTLE_TIMEOUT_S, _condor


def conversion_legs(h: Harness, quantity: int) -> list[dict[str, Any]]:
    """A reverse conversion on SCEN: long call and short future (protection), short put (risk).

    Complete, it is nearly riskless (a small margin); but the short future alone — a state the send
    order passes through — loses 300 points on a +3% move. That is the documents' margin shock.
    """
    future = h.exchange.universe.future("SCEN")
    assert future is not None
    call, put = option_symbol(h, "SCEN", 0, "CE"), option_symbol(h, "SCEN", 0, "PE")
    return [
        leg(call, "BUY", quantity, "protection"),
        leg(future.tradingsymbol, "SELL", quantity, "protection"),
        leg(put, "SELL", quantity, "risk"),
    ]


def naive_estimate(h: Harness, legs: list[dict[str, Any]]) -> float:
    """What a check of the whole group at today's prices would say (the basket's final margin)."""
    requests = [
        OrderRequest(
            tag="estimate",
            tradingsymbol=item["tradingsymbol"],
            side=Side(item["side"]),
            quantity=item["quantity"],
            order_type=OrderType.MARKET,
            market_protection=-1,
        )
        for item in legs
    ]
    assert h.broker is not None
    return float(h.broker.basket_margins(requests).final_total)


def margin_shock(seed: int, *, available: float = 100_000.0, quantity: int = 100, **options: Any) -> ScenarioResult:
    settings = Settings()
    settings = settings.replace(risk=dataclasses.replace(settings.risk, margin_buffer=10_000.0))
    h = Harness(seed, options=HarnessOptions(settings=settings, **options))
    try:
        h.wait_recovered()
        h.exchange.set_funds("default", available)
        legs = conversion_legs(h, quantity)
        estimate = naive_estimate(h, legs)
        denial: dict[str, Any] | None = None
        group_id = ""
        try:
            group_id = h.submit(group_payload("SCEN", legs, "margin-shock", "reverse_conversion")).group_id
            h.run_until_settled([group_id], timeout=SETTLE_TIMEOUT_S)
        except Denied as denied:
            denial = denied.as_dict()
        if group_id:
            return result("margin-shock", h, group_id, denial=None, estimate=round(estimate, 2), available=available)
        return ScenarioResult(
            scenario="margin-shock",
            seed=seed,
            final_state="DENIED",
            outcome="DENIED",
            legs=[],
            net_position=h.exchange.net_positions(),
            orders_sent=len(h.exchange.all_orders()),
            duplicate_orders=0,
            max_unhedged_ms=0.0,
            violations=_left_behind(h),
            trace_hash=h.runtime.trace.hexdigest(),
            extra={"denial": denial, "estimate": round(estimate, 2), "available": available},
        )
    finally:
        h.close()


def _left_behind(h: Harness) -> list[str]:
    """Invariant 12: a refused request leaves no record and sends nothing."""
    out = []
    if h.store.open_groups():
        out.append(f"I12 open groups after a denial: {h.store.open_groups()}")
    if h.store.idempotency("margin-shock") is not None:
        out.append("I12 the idempotency key of a denied request was stored")
    if h.exchange.all_orders():
        out.append(f"I12 {len(h.exchange.all_orders())} orders sent for a denied request")
    return out


def kill_switch_mid_group(seed: int, **options: Any) -> ScenarioResult:
    """A held condor, and a second one whose risk legs are working when the switch is pressed."""
    h = Harness(seed, options=HarnessOptions(**options))
    try:
        h.wait_recovered()
        held_payload, _ = _condor(h, key="held")
        held = h.submit(held_payload).group_id
        h.run_until_settled([held], timeout=SETTLE_TIMEOUT_S)
        payload, symbols = _condor(h, key="in-flight")
        for symbol in symbols[2:]:
            h.exchange.add_rule(OrderRule(match(tradingsymbol=symbol, side="SELL"), hold(), once=True))
        flight = h.submit(payload).group_id
        risk_working = lambda: sum(1 for o in h.exchange.working_orders() if o.tradingsymbol in symbols[2:]) == 2  # noqa: E731
        h.run_until(risk_working, timeout=60.0)
        pressed_at = h.runtime.clock.now()
        working_at_press = [o.order_id for o in h.exchange.working_orders()]
        h.ask("risk", KillSwitch(True, "scenario"))
        h.run_until_settled([flight], timeout=SETTLE_TIMEOUT_S)
        h.run_until(lambda: h.group(held) is not None and h.group(held).state.value == "CLOSED", 120.0)
        cancel_delays = _cancel_delays(h, working_at_press, pressed_at)
        new_risk = _entries_after(h, pressed_at)
        h.crash()
        h.wait_recovered()
        after_restart = h.describe("risk")["trading_state"]
        try:
            h.submit(_condor(h, key="after-restart")[0])
            denied_after_restart = ""
        except Denied as denied:
            denied_after_restart = denied.code.value
        out = result(
            "kill-switch-mid-group",
            h,
            flight,
            held_group={"group_id": held, "state": h.group(held).state.value},
            cancel_requested_within_ms=max(cancel_delays, default=0.0),
            working_at_press=len(working_at_press),
            new_risk_orders_after_press=new_risk,
            trading_state_after_restart=after_restart,
            denial_after_restart=denied_after_restart,
            book_flat=all(v == 0 for v in h.exchange.net_positions().values()),
        )
        if max(cancel_delays, default=0.0) > 1000.0:
            out.violations.append(
                f"I9 a working order was cancel-requested {max(cancel_delays):.0f} ms after the press"
            )
        if new_risk:
            out.violations.append(f"I9 {new_risk} entry orders reached the exchange after the press")
        if after_restart != "HALTED" or denied_after_restart != "KILL_SWITCH_ACTIVE":
            out.violations.append("I9 the kill switch did not survive the restart")
        return out
    finally:
        h.close()


def _cancel_delays(h: Harness, order_ids: list[str], pressed_at: float) -> list[float]:
    """Milliseconds from the press to the exchange seeing each order's cancel request (or its end)."""
    delays = []
    for order_id in order_ids:
        book = h.exchange.ledger.get(order_id)
        history = book.history if book is not None else []
        when = next((u for u in history if u.status in ("CANCEL PENDING", "CANCELLED", "COMPLETE", "REJECTED")), None)
        delays.append(float("inf") if when is None else max(0.0, (when.ts - pressed_at) * 1000))
    return delays


def _entries_after(h: Harness, pressed_at: float) -> int:
    """Orders that reached the exchange after the press and would add risk (entries, not reversals)."""
    count = 0
    for order in h.exchange.ledger.iter_orders():
        if order.placed_at <= pressed_at:
            continue
        intent = h.store.intent(order.request.tag)
        if intent is None or intent.get("purpose") == "entry":
            count += 1
    return count


__all__ = ["kill_switch_mid_group", "margin_shock"]
