"""The hybrid stop's case from the design documents, and the interim exposure window's."""

from __future__ import annotations

import dataclasses
from typing import Any

from runtime.config import Settings
from sim.exchange.rules import OrderRule, fill_after, match
from sim.harness import Harness, HarnessOptions
from sim.scenarios.base import ScenarioResult, group_payload, option_symbol, result
from sim.scenarios.execution import SETTLE_TIMEOUT_S


def sl_gap_through(seed: int, **options: Any) -> ScenarioResult:
    """BUY 50 calls at 100 with an SL at 95 / limit 94.5; the price gaps from 98 to 90.

    The SL triggers but its limit (94.5) is above a market at 90: it would sit unfilled. The stop
    sees the gap through the trigger, cancels the SL and closes the position at market; the loss is
    reported against the 5-point plan.
    """
    h = Harness(seed, options=HarnessOptions(**options))
    try:
        h.wait_recovered()
        call = option_symbol(h, "SCEN", 2, "CE")
        h.exchange.set_ltp(call, 100.0)
        leg = {
            "tradingsymbol": call,
            "side": "BUY",
            "quantity": 50,
            "role": "risk",
            "order_type": "LIMIT",
            "price": 100.0,
            "stop": {"trigger_price": 95.0, "limit_price": 94.5},
        }
        group_id = h.submit(group_payload("SCEN", [leg], "sl-gap")).group_id
        h.run_until_settled([group_id], timeout=SETTLE_TIMEOUT_S)

        def sl_working() -> bool:
            return any(o.order_type == "SL" and o.status == "TRIGGER PENDING" for o in h.exchange.working_orders())

        h.run_until(sl_working, timeout=30.0)
        h.exchange.set_ltp(call, 98.0)
        h.run_for(0.5)
        gap_at = h.runtime.clock.now()
        h.exchange.set_ltp(call, 90.0)
        stop_key = f"stop/{group_id}/L0"
        done = lambda: (s := h.store.snapshot(stop_key)) is not None and bool(s[1].get("done"))  # noqa: E731
        h.run_until(done, timeout=60.0)
        stop = h.store.snapshot(stop_key)[1] if h.store.snapshot(stop_key) else {}
        out = result(
            "sl-gap-through",
            h,
            group_id,
            stop={
                "trigger_price": 95.0,
                "limit_price": 94.5,
                "entry_price": 100.0,
                "exit_price": stop.get("exit_price"),
                "loss": stop.get("loss"),
                "planned_loss": stop.get("planned_loss"),
                "fallback": stop.get("fallback"),
                "exited": stop.get("exited"),
                "gap_to_exit_ms": _gap_to_exit_ms(h, call, gap_at),
            },
        )
        if not stop.get("done"):
            out.violations.append("the stop never closed the position")
        return out
    finally:
        h.close()


def _gap_to_exit_ms(h: Harness, symbol: str, gap_at: float) -> float | None:
    exits = [
        o
        for o in h.exchange.ledger.iter_orders()
        if o.request.tradingsymbol == symbol and o.request.order_type.value == "MARKET"
    ]
    return round((min(o.placed_at for o in exits) - gap_at) * 1000, 3) if exits else None


def pending_leg_exposure(seed: int, **options: Any) -> ScenarioResult:
    """Leg 1 (SELL 50 calls) fills, leg 2 pends for 8 s while spot rises 500 points: the interim
    hedge goes out within the bound, not after 8 s."""
    settings = Settings()
    settings = settings.replace(
        risk=dataclasses.replace(settings.risk, interim_delta_limit=40.0),
        execution=dataclasses.replace(settings.execution, risk_fill_timeout_s=20.0),
    )
    h = Harness(seed, options=HarnessOptions(settings=settings, **options))
    try:
        h.wait_recovered()
        call, put = option_symbol(h, "SCEN", 0, "CE"), option_symbol(h, "SCEN", 0, "PE")
        h.exchange.add_rule(OrderRule(match(tradingsymbol=put, side="SELL"), fill_after(8.0), once=True))
        legs = [
            {
                "tradingsymbol": call,
                "side": "SELL",
                "quantity": 50,
                "role": "risk",
                "order_type": "MARKET",
                "market_protection": -1,
            },
            {
                "tradingsymbol": put,
                "side": "SELL",
                "quantity": 50,
                "role": "risk",
                "order_type": "MARKET",
                "market_protection": -1,
            },
        ]
        group_id = h.submit(group_payload("SCEN", legs, "pending-leg", "short_straddle")).group_id
        call_filled = lambda: any(o.tradingsymbol == call and o.status == "COMPLETE" for o in h.exchange.all_orders())  # noqa: E731
        h.run_until(call_filled, timeout=30.0)
        exposed_at = h.runtime.clock.now()
        start = h.exchange.spot("SCEN")
        for step in range(1, 6):  # +500 points over one second, in five ticks
            h.exchange.set_spot("SCEN", start + 100 * step)
            h.run_for(0.2)
        moved_at = h.runtime.clock.now()
        h.run_until_settled([group_id], timeout=SETTLE_TIMEOUT_S)
        hedges = [o for o in h.exchange.ledger.iter_orders() if o.instrument.kind.value == "FUT"]
        hedge_at = min((o.placed_at for o in hedges), default=None)
        put_filled_at = max(
            (
                f.ts
                for o in h.exchange.ledger.iter_orders()
                if o.request.tradingsymbol == put
                for f in h.exchange.fills(o.order_id)
            ),
            default=None,
        )
        exposure = h.describe("exposure") or {}
        out = result(
            "pending-leg-exposure",
            h,
            group_id,
            exposure={
                "exposed_at_ms": 0.0,
                "spot_move_done_ms": round((moved_at - exposed_at) * 1000, 3),
                "hedge_sent_ms": round((hedge_at - exposed_at) * 1000, 3) if hedge_at else None,
                "put_filled_ms": round((put_filled_at - exposed_at) * 1000, 3) if put_filled_at else None,
                "hedge_side": hedges[0].request.side.value if hedges else None,
                "hedge_quantity": sum(o.quantity for o in hedges),
                "delta_limit": settings.risk.interim_delta_limit,
                "hedges": exposure.get("hedges", []),
            },
        )
        if hedge_at is None:
            out.violations.append("no interim hedge was sent")
        elif put_filled_at is not None and hedge_at >= put_filled_at:
            out.violations.append("the interim hedge went out only after the pending leg filled")
        return out
    finally:
        h.close()


__all__ = ["pending_leg_exposure", "sl_gap_through"]
