"""Settings of the simulated exchange: market model, margin model, rules and faults.

Frozen values, built once by the scenario or the wiring point. Defaults are a calm, fault-free
market with today's NSE/Kite rules; a seed's fault parameters go in `FaultConfig`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from domain.greeks import Smile
from runtime.config import ExchangeRules


@dataclass(frozen=True, slots=True)
class Latency:
    """One hop's delay: exponential around `mean_s`, with rare spikes uniform in `tail_s`.

    Heavy tails matter more than the mean: a 20 s spike is what makes an interim exposure real.
    """

    mean_s: float = 0.005
    tail_p: float = 0.0
    tail_s: tuple[float, float] = (1.0, 30.0)

    @classmethod
    def zero(cls) -> Latency:
        return cls(mean_s=0.0, tail_p=0.0)

    def draw(self, rng: random.Random) -> float:
        # No draw at all for a zero latency: a fault-free fast run consumes no randomness here.
        delay = rng.expovariate(1.0 / self.mean_s) if self.mean_s > 0.0 else 0.0
        if self.tail_p > 0.0 and rng.random() < self.tail_p:
            delay += rng.uniform(*self.tail_s)
        return delay


@dataclass(frozen=True, slots=True)
class FaultConfig:
    """Faults drawn per order or per update. Each kind has its own random stream, so switching one
    on changes neither the price path nor where another fault strikes."""

    reject_rate: float = 0.0  # random RMS rejections at VALIDATION PENDING
    # Fills per order: each order is split into this many pieces (fewer if it has fewer lots).
    partial_fills: tuple[int, int] = (1, 1)
    remainder_cancel_rate: float = 0.0  # unsolicited cancel of a partly filled remainder
    duplicate_rate: float = 0.0  # an update delivered twice
    drop_rate: float = 0.0  # an update never delivered (order book still has it)
    drop_terminal: bool = True  # may COMPLETE / CANCELLED / REJECTED be dropped too?
    reorder_rate: float = 0.0  # an update held back so later ones overtake it
    reorder_window_s: float = 0.2
    unknown_outcome_rate: float = 0.0  # accepted by the exchange, but the caller sees a timeout
    lost_send_rate: float = 0.0  # never reached the exchange, and the caller sees a timeout
    bad_tick_rate: float = 0.0  # a tick with a zero or NaN price (the order book is unaffected)


@dataclass(frozen=True, slots=True)
class LatencyConfig:
    """Delays of the hops an order crosses (each hop of the Kite status sequence is one draw)."""

    order_hop: Latency = field(default_factory=Latency)  # OMS → RMS → exchange, per status step
    push: Latency = field(default_factory=lambda: Latency(mean_s=0.002))  # exchange → client socket
    fill_gap: Latency = field(default_factory=lambda: Latency(mean_s=0.05))  # between partial fills

    @classmethod
    def zero(cls) -> LatencyConfig:
        return cls(Latency.zero(), Latency.zero(), Latency.zero())


@dataclass(frozen=True, slots=True)
class UnderlyingModel:
    """The price process of one underlying: diffusion with Poisson jumps, and its smile."""

    spot: float
    vol: float = 0.14  # annual, drives the diffusion
    jumps_per_hour: float = 0.5
    jump_sigma: float = 0.004  # log-size of a jump
    smile: Smile = field(default_factory=Smile)
    token: int = 0  # index token for ticks (Kite: NIFTY 256265); 0 = none


@dataclass(frozen=True, slots=True)
class MarketConfig:
    step_s: float = 0.1  # virtual seconds between price steps
    trading_seconds_per_year: float = 252 * 6.25 * 3600  # vol is per trading year
    underlyings: dict[str, UnderlyingModel] = field(
        default_factory=lambda: {
            "NIFTY": UnderlyingModel(24_000.0, token=256265),
            "BANKNIFTY": UnderlyingModel(52_000.0, vol=0.16, smile=Smile(atm_vol=0.16), token=260105),
            "SCEN": UnderlyingModel(10_000.0, jumps_per_hour=0.0),
        }
    )
    # Index circuit breakers: a move this far from the session's first price halts trading.
    circuit_pcts: tuple[float, ...] = (0.10, 0.15, 0.20)
    circuit_halt_s: float = 900.0
    # Option price bands: reference ± max(pct * reference, min_abs); the reference re-centres
    # after the fair price has stayed outside the band for `band_flex_s` (dynamic bands).
    band_pct: float = 0.40
    band_min_abs: float = 20.0
    band_flex_s: float = 60.0
    # Synthetic depth: best bid/ask around fair, `levels` each side `level_step_ticks` apart.
    half_spread_pct: float = 0.0025
    min_half_spread_ticks: int = 1
    levels: int = 5  # at most 8 (each level's size comes from one byte of a hash)
    level_step_ticks: int = 1
    level_lots: tuple[int, int] = (1, 20)  # lots per level, drawn per level per price step
    auto_protection_pct: float = 3.0  # what market_protection = -1 means


@dataclass(frozen=True, slots=True)
class MarginConfig:
    """SPAN-like: the worst loss over a grid of underlying and volatility moves, plus exposure."""

    price_scan_pct: float = 0.06
    vol_scan: float = 0.04  # absolute vol points moved up and down in the grid
    extreme_multiple: float = 2.0
    extreme_cover: float = 0.35  # share of an extreme move's loss that counts (CME SPAN's 35 %)
    exposure_pct: float = 0.02  # of notional, on short options and on futures
    funds: float = 5_000_000.0  # each account's opening balance


@dataclass(frozen=True, slots=True)
class ExchangeConfig:
    rules: ExchangeRules = field(default_factory=ExchangeRules)
    market: MarketConfig = field(default_factory=MarketConfig)
    margin: MarginConfig = field(default_factory=MarginConfig)
    latency: LatencyConfig = field(default_factory=LatencyConfig)
    faults: FaultConfig = field(default_factory=FaultConfig)
    order_id_prefix: str = "2611"  # Kite ids are 15+ digits starting with the date
    check_margin: bool = True  # RMS margin check at VALIDATION PENDING
