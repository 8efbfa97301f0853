"""How fast the exchange core runs on one core: `python -m sim.exchange.bench [--orders N]`.

- order events per wall second: marketable orders against zero latency, every status update
  delivered to a subscriber, counted per second of wall time;
- a 4-leg iron condor, protection first, with the default latencies: the wall time of one whole
  run (both wings placed and filled, then both shorts), and the virtual time it spans.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from brokers.port import OrderRequest
from domain.instruments import InstrumentKind, round_to_tick
from domain.messages import OrderUpdate, Tick
from domain.model import OrderType, Side
from runtime.config import ExchangeRules
from runtime.rng import RandomStreams
from sim.clock import VirtualClock
from sim.exchange.config import ExchangeConfig, LatencyConfig
from sim.exchange.exchange import Exchange


class _Counter:
    def __init__(self) -> None:
        self.updates = 0
        self.complete = 0

    def on_order_update(self, update: OrderUpdate) -> None:
        self.updates += 1
        self.complete += update.status == "COMPLETE"

    def on_tick(self, tick: Tick) -> None:
        return None

    def on_connection(self, connected: bool) -> None:
        return None


@dataclass(frozen=True)
class EventRate:
    orders: int
    updates: int
    fills: int
    wall_s: float

    @property
    def updates_per_s(self) -> float:
        return self.updates / self.wall_s

    @property
    def orders_per_s(self) -> float:
        return self.orders / self.wall_s


@dataclass(frozen=True)
class CondorRun:
    runs: int
    wall_ms_median: float
    wall_ms_max: float
    virtual_ms_median: float


def _symbol(exchange: Exchange, strike: float, kind: InstrumentKind) -> str:
    inst = exchange.universe.option("NIFTY", exchange.universe.expiries("NIFTY")[0], strike, kind)
    assert inst is not None
    return inst.tradingsymbol


def order_event_rate(orders: int = 20_000, seed: int = 1) -> EventRate:
    """Marketable limit orders, alternating sides, ten per 0.1 virtual seconds, zero latency."""
    unlimited = ExchangeRules(orders_per_second=10**9, orders_per_minute=10**9, orders_per_day=10**9)
    config = ExchangeConfig(rules=unlimited, latency=LatencyConfig.zero(), check_margin=False)
    clock = VirtualClock()
    exchange = Exchange(clock, RandomStreams(seed), config=config)
    counter = _Counter()
    exchange.subscribe("bench", counter)
    symbols = [
        _symbol(exchange, 24_000.0 + 50 * k, kind)
        for k in range(-2, 3)
        for kind in InstrumentKind
        if kind is not InstrumentKind.FUT
    ]
    started = time.perf_counter()
    for n in range(orders):
        symbol = symbols[n % len(symbols)]
        side = Side.BUY if n % 2 == 0 else Side.SELL
        ltp = exchange.ltp([symbol])[symbol]
        price = round_to_tick(ltp * (1.02 if side is Side.BUY else 0.98), 0.05)
        exchange.place("bench", OrderRequest(f"b{n}", symbol, side, 65, OrderType.LIMIT, price=price))
        if n % 10 == 9:
            clock.advance(0.1)
    clock.advance(1.0)
    wall = time.perf_counter() - started
    exchange.close()
    return EventRate(orders, counter.updates, len(exchange.trades()), wall)


def _run_until(clock: VirtualClock, done: Callable[[], bool], limit_s: float = 120.0) -> None:
    deadline = clock.monotonic() + limit_s
    while not done():
        if clock.monotonic() > deadline or not clock.fire_next():
            raise RuntimeError("the condor did not fill in time")


def iron_condor_once(seed: int) -> tuple[float, float]:
    """(wall seconds, virtual seconds) of one protection-first iron condor on NIFTY, 1 lot a leg."""
    clock = VirtualClock()
    exchange = Exchange(clock, RandomStreams(seed))
    counter = _Counter()
    exchange.subscribe("default", counter)
    wings = [
        (_symbol(exchange, 24_400.0, InstrumentKind.CE), Side.BUY),
        (_symbol(exchange, 23_600.0, InstrumentKind.PE), Side.BUY),
    ]
    shorts = [
        (_symbol(exchange, 24_200.0, InstrumentKind.CE), Side.SELL),
        (_symbol(exchange, 23_800.0, InstrumentKind.PE), Side.SELL),
    ]
    started_wall, started_virtual = time.perf_counter(), clock.monotonic()
    for legs in (wings, shorts):
        before = counter.complete
        for symbol, side in legs:
            exchange.place(
                "default",
                OrderRequest(f"ic-{symbol[-7:]}", symbol, side, 65, OrderType.MARKET, market_protection=-1),
            )
        target = before + 2
        _run_until(clock, lambda: counter.complete >= target)  # noqa: B023 - called before the loop moves on
    wall, virtual = time.perf_counter() - started_wall, clock.monotonic() - started_virtual
    assert all(abs(q) == 65 for q in exchange.net_positions().values())
    exchange.close()
    return wall, virtual


def iron_condor(runs: int = 50) -> CondorRun:
    results = [iron_condor_once(seed) for seed in range(1, runs + 1)]
    walls = [w * 1000 for w, _ in results]
    return CondorRun(runs, statistics.median(walls), max(walls), statistics.median(v * 1000 for _, v in results))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--condors", type=int, default=50)
    args = parser.parse_args(argv)
    rate = order_event_rate(args.orders)
    condor = iron_condor(args.condors)
    print(
        json.dumps(
            {
                "orders": rate.orders,
                "updates": rate.updates,
                "fills": rate.fills,
                "wall_s": round(rate.wall_s, 3),
                "order_updates_per_s": round(rate.updates_per_s),
                "orders_per_s": round(rate.orders_per_s),
                "iron_condor": asdict(condor),
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
