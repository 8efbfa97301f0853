"""A SPAN-like margin: the worst loss of the whole portfolio over a grid of market moves.

Per underlying, the portfolio is revalued at the underlying moved by 0, ±1/3, ±2/3 and ±1 of the
price scan range, each with volatility up and down, plus two extreme moves of which only a share
counts (CME SPAN's 16 scenarios). The span is the largest loss beyond the value of the long options
(paid for already). Because the scan is over the whole portfolio, a long call above a short call
caps the loss of the up-moves: hedge benefit is not a special rule, it falls out of the revaluation.

On top: exposure margin (a share of notional) on short options and on futures, and the premium
of bought options. Short-option premium is not credited (conservative; Kite shows it as a
negative `option_premium` in a basket's `final`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from domain.instruments import Instrument, InstrumentKind
from domain.model import Side
from sim.exchange.config import MarginConfig
from sim.exchange.market import Market


@dataclass(frozen=True, slots=True)
class MarginBreakdown:
    span: float
    exposure: float
    option_premium: float

    @property
    def total(self) -> float:
        return self.span + self.exposure + self.option_premium


@dataclass(frozen=True, slots=True)
class MarginOrder:
    """What an order adds to a portfolio, for margin purposes."""

    instrument: Instrument
    side: Side
    quantity: int
    price: float  # the premium per unit a buy pays (limit, or LTP for a market order)


Holdings = Mapping[Instrument, int]  # instrument → net signed quantity


class MarginModel:
    def __init__(self, market: Market, config: MarginConfig) -> None:
        self._market = market
        self._config = config
        self._scenarios = self._grid(config)

    @staticmethod
    def _grid(config: MarginConfig) -> tuple[tuple[float, float, float], ...]:
        """(spot move, vol move, weight) for each scenario."""
        out = []
        for fraction in (0.0, 1 / 3, -1 / 3, 2 / 3, -2 / 3, 1.0, -1.0):
            for vol_move in (config.vol_scan, -config.vol_scan):
                out.append((fraction * config.price_scan_pct, vol_move, 1.0))
        for sign in (1.0, -1.0):
            out.append((sign * config.extreme_multiple * config.price_scan_pct, 0.0, config.extreme_cover))
        return tuple(out)

    def span(self, holdings: Holdings) -> float:
        by_underlying: dict[str, list[tuple[Instrument, int]]] = {}
        for inst, qty in holdings.items():
            if qty:
                by_underlying.setdefault(inst.underlying, []).append((inst, qty))
        return sum(self._span_of(name, legs) for name, legs in by_underlying.items())

    def _span_of(self, underlying: str, legs: list[tuple[Instrument, int]]) -> float:
        market = self._market
        spot = market.spot(underlying)
        smile = market.smile(underlying)
        years = [market.years_left(inst) for inst, _ in legs]
        base = [market.model_value(inst, spot, smile, t) for (inst, _), t in zip(legs, years, strict=True)]
        worst = 0.0
        for spot_move, vol_move, weight in self._scenarios:
            moved_spot = spot * (1.0 + spot_move)
            moved_smile = smile.shifted(vol_move)
            pnl = 0.0
            for (inst, qty), t, value in zip(legs, years, base, strict=True):
                pnl += qty * (market.model_value(inst, moved_spot, moved_smile, t) - value)
            worst = max(worst, -pnl * weight)
        # Longs are paid for and not counted as collateral, so their whole value is already at risk
        # in the account: only a loss beyond it needs margin (SPAN's net option value credit).
        long_value = sum(
            qty * value for (inst, qty), value in zip(legs, base, strict=True) if qty > 0 and inst.is_option
        )
        return max(0.0, worst - long_value)

    def exposure(self, holdings: Holdings) -> float:
        total = 0.0
        for inst, qty in holdings.items():
            if qty < 0 or (qty > 0 and inst.kind is InstrumentKind.FUT):
                total += abs(qty) * self._market.spot(inst.underlying) * self._config.exposure_pct
        return total

    def requirement(self, holdings: Holdings) -> MarginBreakdown:
        """Margin to hold `holdings` (premium of longs is already paid, so not counted)."""
        return MarginBreakdown(self.span(holdings), self.exposure(holdings), 0.0)

    def incremental(self, holdings: Holdings, orders: Iterable[MarginOrder]) -> MarginBreakdown:
        """What `orders` need on top of `holdings` if they all fill: the basket's `final`."""
        orders = list(orders)
        combined = dict(holdings)
        premium = 0.0
        for order in orders:
            combined[order.instrument] = combined.get(order.instrument, 0) + order.side.sign * order.quantity
            if order.side is Side.BUY and order.instrument.is_option:
                premium += order.quantity * order.price
        before = self.requirement(holdings)
        after = self.requirement(combined)
        return MarginBreakdown(after.span - before.span, after.exposure - before.exposure, premium)

    def alone(self, order: MarginOrder) -> MarginBreakdown:
        """One order's margin with no hedge from anything else: Kite's `order_margins`."""
        return self.incremental({}, [order])
