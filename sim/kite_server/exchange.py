"""The default exchange behind `run_sim_exchange`: sim's Exchange and SimBroker, in real time.

Real time because the service on the other side of the socket runs on a real clock. Latencies are
cut to loopback scale: a hop of the Kite status sequence takes milliseconds, not the tens the
in-process scenarios use to stretch the unhedged window, so a drill spends its time on faults
rather than on waiting.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from domain.model import Side
from runtime.clock import SystemClock
from runtime.config import Settings
from runtime.rng import RandomStreams
from sim.broker import SimBroker
from sim.exchange import (
    Exchange,
    ExchangeConfig,
    Latency,
    LatencyConfig,
    OrderRule,
    build_universe,
    default_listings,
    delay,
    fill_after,
    hold,
    match,
    partial,
    reject,
    unknown_outcome,
)
from sim.kite_server.entry import ExchangeFace

LOOPBACK_HOP_S = 0.002
LOOPBACK_PUSH_S = 0.001
LOOPBACK_FILL_GAP_S = 0.01


def loopback_latency() -> LatencyConfig:
    return LatencyConfig(
        order_hop=Latency(mean_s=LOOPBACK_HOP_S),
        push=Latency(mean_s=LOOPBACK_PUSH_S),
        fill_gap=Latency(mean_s=LOOPBACK_FILL_GAP_S),
    )


class SimExchangeControl:
    """The exchange's scenario controls as JSON in, JSON out: what `/_sim/rules` and `/_sim/ledger`
    offer a test or drill running the service in another process."""

    def __init__(self, exchange: Exchange) -> None:
        self._exchange = exchange

    def add_rule(self, spec: Mapping[str, Any]) -> int:
        """`{"tag_prefix"|"tradingsymbol"|"side"|"nth": ..., "action": "reject", "message": ...,
        "once": true}`; actions: reject(message), hold, partial(quantity), fill_after(seconds),
        unknown_outcome(accepted), delay(seconds)."""
        side = spec.get("side")
        order_match = match(
            tradingsymbol=spec.get("tradingsymbol"),
            side=Side(side) if side else None,
            tag_prefix=spec.get("tag_prefix"),
            nth=spec.get("nth"),
        )
        rule = OrderRule(order_match, _action(spec), once=bool(spec.get("once", True)))
        return self._exchange.add_rule(rule)

    def clear_rules(self) -> None:
        self._exchange.clear_rules()

    def release(self, order_id: str) -> None:
        """Let an order a `hold` rule keeps OPEN match from now on (KeyError: no such order)."""
        self._exchange.release(order_id)

    def set_funds(self, amount: float, account: str = "default") -> None:
        self._exchange.set_funds(account, amount)

    def ledger(self) -> dict[str, Any]:
        """The exchange's own books: what invariants are checked against, never the service's view."""
        return {
            "net_positions": self._exchange.net_positions(),
            "working_orders": [o.order_id for o in self._exchange.working_orders()],
            "digest": self._exchange.digest(),
        }


def _action(spec: Mapping[str, Any]) -> Any:
    kind = spec.get("action")
    if kind == "reject":
        return reject(str(spec["message"])) if spec.get("message") else reject()
    if kind == "hold":
        return hold()
    if kind == "partial":
        return partial(int(spec["quantity"]))
    if kind == "fill_after":
        return fill_after(float(spec["seconds"]))
    if kind == "unknown_outcome":
        return unknown_outcome(accepted=bool(spec.get("accepted", True)))
    if kind == "delay":
        return delay(float(spec["seconds"]))
    raise ValueError(f"unknown rule action {kind!r}")


def sim_exchange(seed: int, settings: Settings) -> ExchangeFace:
    """SimBroker over a fresh Exchange seeded with `seed`, listing the settings' underlyings."""
    clock = SystemClock()
    config = ExchangeConfig(rules=settings.rules, latency=loopback_latency())
    spots = {name: model.spot for name, model in config.market.underlyings.items()}
    universe = build_universe(default_listings(settings.underlyings, spots), clock.now())
    exchange = Exchange(clock, RandomStreams(seed), config=config, universe=universe)
    broker = SimBroker(exchange)

    def close() -> None:
        broker.close()
        exchange.close()
        clock.close()

    return ExchangeFace(
        broker=broker, instruments=tuple(universe.values()), close=close, control=SimExchangeControl(exchange)
    )
