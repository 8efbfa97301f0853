"""Position sizing: strategies say direction and confidence, risk decides the quantity.

The unit is a "set": one lot of every leg in the intent's ratio (a 1:1 iron condor set is one lot of
each of its four legs). The number of sets is the tightest of what the margin allows, what the
portfolio delta limit leaves room for, and the cap; then scaled down when the day is losing, when
volatility is high, and by the strategy's confidence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SizingInputs:
    available_margin: float
    margin_per_set: float  # worst-case margin of one set (every partial state priced)
    portfolio_delta: float  # in units of the underlying
    delta_per_set: float
    delta_limit: float
    realised_pnl_today: float
    daily_loss_limit: float  # a positive amount
    current_vol: float
    baseline_vol: float
    confidence: float  # 0..1
    max_sets: int
    margin_utilisation: float = 0.8  # never plan to use the last 20 % of the margin


@dataclass(frozen=True, slots=True)
class SizingDecision:
    sets: int
    binding: str  # which limit decided
    by_margin: int
    by_delta: int
    loss_factor: float
    vol_factor: float

    def as_dict(self) -> dict[str, float | int | str]:
        return {
            "sets": self.sets,
            "binding": self.binding,
            "by_margin": self.by_margin,
            "by_delta": self.by_delta,
            "loss_factor": self.loss_factor,
            "vol_factor": self.vol_factor,
        }


def loss_factor(realised_pnl: float, daily_loss_limit: float) -> float:
    """Full size while the day is fine; a quarter past half the loss limit; nothing at the limit."""
    if daily_loss_limit <= 0:
        return 1.0
    if realised_pnl <= -daily_loss_limit:
        return 0.0
    if realised_pnl <= -daily_loss_limit / 2:
        return 0.25
    return 1.0


def vol_factor(current_vol: float, baseline_vol: float, tolerance: float = 0.05) -> float:
    """Size down as volatility rises above its baseline (never up), floored at a quarter. Within
    `tolerance` of the baseline it is the baseline: estimation noise must not shave a lot off."""
    if current_vol <= 0 or baseline_vol <= 0 or not math.isfinite(current_vol):
        return 1.0
    if current_vol <= baseline_vol * (1.0 + tolerance):
        return 1.0
    return max(0.25, min(1.0, baseline_vol / current_vol))


def size_sets(inputs: SizingInputs) -> SizingDecision:
    if inputs.margin_per_set <= 0:
        by_margin = inputs.max_sets
    else:
        by_margin = int(inputs.available_margin * inputs.margin_utilisation // inputs.margin_per_set)
    if abs(inputs.delta_per_set) < 1e-9:
        by_delta = inputs.max_sets
    else:
        room = inputs.delta_limit - abs(inputs.portfolio_delta)
        # A set that reduces the portfolio's delta is not limited by it.
        reduces = inputs.portfolio_delta * inputs.delta_per_set < 0
        by_delta = inputs.max_sets if reduces else max(0, int(room // abs(inputs.delta_per_set)))
    limits = {"margin": by_margin, "delta": by_delta, "cap": inputs.max_sets}
    binding = min(limits, key=lambda k: limits[k])
    base = max(0, limits[binding])
    lf = loss_factor(inputs.realised_pnl_today, inputs.daily_loss_limit)
    vf = vol_factor(inputs.current_vol, inputs.baseline_vol)
    confidence = min(1.0, max(0.0, inputs.confidence))
    sets = int(base * lf * vf * confidence)
    if sets < base:
        scaled = {lf < 1.0: "daily loss", vf < 1.0: "volatility", confidence < 1.0: "confidence"}
        binding = scaled.get(True, binding) if sets < base else binding
    return SizingDecision(sets, binding, by_margin, by_delta, lf, vf)
