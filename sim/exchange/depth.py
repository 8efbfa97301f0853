"""Synthetic market depth: a few price levels each side of the fair price, with finite quantities.

The rest of the market is not simulated order by order. Each price step shows a fresh book (the
crowd re-quotes); what legguard's orders take from a level stays taken until the next step, so a
large order walks the book and an unfilled rest waits for the next step's liquidity.

Level sizes are a hash of (seed, instrument, price step, level): the book at a step is the same
whichever orders look at it and whenever they do, which keeps the random streams out of it.
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.instruments import Instrument
from domain.model import Side
from sim.exchange.config import MarketConfig
from sim.exchange.market import Band, Script

_MASK = (1 << 64) - 1


def _mix(*values: int) -> int:
    """splitmix64 over the values: cheap, well spread, and independent of Python's hash seed."""
    acc = 0x9E3779B97F4A7C15
    for value in values:
        acc = (acc ^ (value & _MASK)) * 0xBF58476D1CE4E5B9 & _MASK
        acc = (acc ^ (acc >> 27)) * 0x94D049BB133111EB & _MASK
        acc ^= acc >> 31
    return acc


@dataclass(frozen=True, slots=True)
class Level:
    price: float
    quantity: int


@dataclass(frozen=True, slots=True)
class Quote:
    tradingsymbol: str
    ltp: float
    bids: tuple[Level, ...]  # best (highest) first
    asks: tuple[Level, ...]  # best (lowest) first
    band: Band

    @property
    def best_bid(self) -> float | None:
        return self.bids[0].price if self.bids else None

    @property
    def best_ask(self) -> float | None:
        return self.asks[0].price if self.asks else None


class DepthBook:
    def __init__(self, config: MarketConfig, seed: int) -> None:
        self._config = config
        self._seed = seed
        # symbol → (epoch, {(side sign, price in ticks): quantity taken})
        self._taken: dict[str, tuple[tuple[int, int], dict[tuple[int, int], int]]] = {}
        # symbol → ((epoch, band, script), quote): every resting order looks at the book each step
        self._quotes: dict[str, tuple[tuple[tuple[int, int], Band, Script | None], Quote]] = {}

    def quote(
        self,
        inst: Instrument,
        *,
        fair: float,
        ltp: float,
        band: Band,
        epoch: tuple[int, int],
        script: Script | None,
    ) -> Quote:
        key = (epoch, band, script)
        cached = self._quotes.get(inst.tradingsymbol)
        if cached is not None and cached[0] == key:
            return cached[1]
        tick = inst.tick_size
        low, high = max(1, _ticks(band.low, tick)), _ticks(band.high, tick)
        mid = min(high, max(low, _ticks(fair, tick)))
        if script is not None:
            half = script.spread_ticks
        else:
            half = max(self._config.min_half_spread_ticks, _ticks(fair * self._config.half_spread_pct, tick))
        # At a band edge one side of the book is gone: at the upper circuit nobody sells.
        bids = self._side(inst, epoch, script, -1, best=mid - half, low=low, high=high) if fair > band.low else ()
        asks = self._side(inst, epoch, script, 1, best=mid + half, low=low, high=high) if fair < band.high else ()
        quote = Quote(inst.tradingsymbol, ltp, bids, asks, band)
        self._quotes[inst.tradingsymbol] = (key, quote)
        return quote

    def _side(
        self,
        inst: Instrument,
        epoch: tuple[int, int],
        script: Script | None,
        sign: int,
        *,
        best: int,
        low: int,
        high: int,
    ) -> tuple[Level, ...]:
        """Levels from `best` away from the market (sign -1: bids going down, +1: asks going up)."""
        if script is not None and script.level_lots is not None:
            lots_per_level: tuple[int, ...] = script.level_lots
        else:
            lo, hi = self._config.level_lots
            bits = _mix(self._seed, inst.instrument_token, epoch[0], epoch[1], sign)
            # One hash per side: each level's size from its own byte (enough for up to 8 levels).
            lots_per_level = tuple(lo + ((bits >> (8 * k)) & 0xFF) % (hi - lo + 1) for k in range(self._config.levels))
        step = sign * self._config.level_step_ticks
        levels = []
        for k, lots in enumerate(lots_per_level):
            price_ticks = best + k * step
            if lots > 0 and low <= price_ticks <= high:
                levels.append(Level(round(price_ticks * inst.tick_size, 2), lots * inst.lot_size))
        return tuple(levels)

    def take(
        self,
        inst: Instrument,
        quote: Quote,
        *,
        side: Side,
        limit: float,
        quantity: int,
        epoch: tuple[int, int],
    ) -> list[Level]:
        """Take up to `quantity` from the book at `limit` or better for an order on `side`."""
        taken_at_epoch = self._taken.get(inst.tradingsymbol)
        if taken_at_epoch is None or taken_at_epoch[0] != epoch:
            taken_at_epoch = (epoch, {})
            self._taken[inst.tradingsymbol] = taken_at_epoch
        taken = taken_at_epoch[1]
        sign = 1 if side is Side.BUY else -1
        levels = quote.asks if side is Side.BUY else quote.bids
        fills: list[Level] = []
        remaining = quantity
        for level in levels:
            if remaining <= 0 or not _acceptable(side, level.price, limit):
                break
            key = (sign, _ticks(level.price, inst.tick_size))
            free = level.quantity - taken.get(key, 0)
            qty = min(free, remaining)
            if qty <= 0:
                continue
            taken[key] = taken.get(key, 0) + qty
            remaining -= qty
            fills.append(Level(level.price, qty))
        return fills


def _acceptable(side: Side, price: float, limit: float) -> bool:
    """At the limit or better: a buy pays at most the limit, a sell receives at least it."""
    return price <= limit + 1e-9 if side is Side.BUY else price >= limit - 1e-9


def _ticks(price: float, tick: float) -> int:
    return round(price / tick)
