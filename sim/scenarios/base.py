"""What every scenario reports, and the helpers that build groups on the simulated exchange."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from domain.execution import ChildPurpose
from domain.instruments import InstrumentKind, round_to_tick
from sim.harness import Harness
from sim.invariants import check_group, group_facts, ledger_intents_durable, max_unhedged_s


@dataclass
class ScenarioResult:
    scenario: str
    seed: int
    final_state: str
    outcome: str
    legs: list[dict[str, Any]]
    net_position: dict[str, int]
    orders_sent: int
    duplicate_orders: int
    max_unhedged_ms: float
    violations: list[str]
    trace_hash: str
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "extra"}
        out.update(self.extra)
        return out


def option_symbol(h: Harness, underlying: str, offset_steps: int, kind: str, *, expiry_index: int = 1) -> str:
    """The option `offset_steps` strikes from the money on a non-expiring expiry."""
    universe = h.exchange.universe
    expiries = universe.expiries(underlying)
    expiry: dt.date = expiries[min(expiry_index, len(expiries) - 1)]
    spot = h.exchange.spot(underlying)
    step = {"NIFTY": 50, "BANKNIFTY": 100}.get(underlying, 100)
    strike = round(spot / step) * step + offset_steps * step
    inst = universe.option(underlying, expiry, float(strike), InstrumentKind(kind))
    assert inst is not None, f"no {underlying} {strike} {kind} on {expiry}"
    return inst.tradingsymbol


def marketable_limit(h: Harness, symbol: str, side: str, slack: float = 0.2) -> float:
    """A limit that crosses the book now and still does after a few ticks of drift."""
    ltp = h.exchange.ltp([symbol])[symbol]
    tick = h.exchange.universe[symbol].tick_size
    price = ltp * (1 + slack) if side == "BUY" else ltp * (1 - slack)
    return max(tick, round_to_tick(price, tick))


def leg(symbol: str, side: str, quantity: int, role: str, price: float | None = None) -> dict[str, Any]:
    if price is None:
        return {
            "tradingsymbol": symbol,
            "side": side,
            "quantity": quantity,
            "role": role,
            "order_type": "MARKET",
            "market_protection": -1,
        }
    return {
        "tradingsymbol": symbol,
        "side": side,
        "quantity": quantity,
        "role": role,
        "order_type": "LIMIT",
        "price": price,
    }


def group_payload(underlying: str, legs: list[dict[str, Any]], key: str, strategy: str = "scenario") -> dict[str, Any]:
    return {"strategy": strategy, "idempotency_key": key, "underlying": underlying, "legs": legs}


def result(name: str, h: Harness, group_id: str, **extra: Any) -> ScenarioResult:
    settings = h.options.settings
    facts = group_facts(h.store, h.exchange, group_id)
    record = facts.record
    violations = list(h.violations)
    violations += check_group(h.store, h.exchange, group_id, unhedged_bound_s=settings.execution.unhedged_bound_s)
    violations += ledger_intents_durable(h.store, h.exchange)
    legs = []
    if record is not None:
        for spec in record.spec.legs:
            mine = [c for c in facts.children if c.leg_id == spec.leg_id]
            filled = sum(_exchange_filled(facts, c.tag) for c in mine if c.purpose is ChildPurpose.ENTRY)
            reversed_qty = sum(_exchange_filled(facts, c.tag) for c in mine if c.purpose is not ChildPurpose.ENTRY)
            legs.append(
                {
                    "symbol": spec.tradingsymbol,
                    "side": spec.side.value,
                    "role": spec.role.value,
                    "intended": spec.quantity,
                    "filled": filled,
                    "reversed": reversed_qty,
                    "children": len([c for c in mine if c.purpose is ChildPurpose.ENTRY]),
                }
            )
    orders = [o for tag_orders in facts.orders_by_tag.values() for o in tag_orders]
    by_tag = {c.tag: c for c in facts.children}
    extra.setdefault(
        "orders",
        [
            {
                "tag": o.tag,
                "leg": by_tag[o.tag].leg_id if o.tag in by_tag else "ESC",
                "purpose": by_tag[o.tag].purpose.value if o.tag in by_tag else "reversal",
                "side": o.transaction_type,
                "quantity": o.quantity,
                "filled": o.filled_quantity,
                "status": o.status,
                "average_price": o.average_price,
                "cancel_requested": any(
                    u.status == "CANCEL PENDING" for u in h.exchange.order_history(h.broker.account, o.order_id)
                ),
            }
            for o in orders
        ],
    )
    return ScenarioResult(
        scenario=name,
        seed=h.seed,
        final_state=record.state.value if record else "NONE",
        outcome=record.outcome.value if record else "",
        legs=legs,
        net_position=facts.net,
        orders_sent=len(orders),
        duplicate_orders=sum(len(v) - 1 for v in facts.orders_by_tag.values() if len(v) > 1),
        max_unhedged_ms=round(max_unhedged_s(h.exchange, facts, record) * 1000, 3) if record else 0.0,
        violations=violations,
        trace_hash=h.runtime.trace.hexdigest(),
        extra=extra,
    )


def _exchange_filled(facts: Any, tag: str) -> int:
    return sum(o.filled_quantity for o in facts.orders_by_tag.get(tag, ()))
