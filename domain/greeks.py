"""Black-Scholes prices and greeks of European index options, implied volatility, and a smile.

Pure and dependency-free (math only): the simulated exchange prices every option tick with it and
the exposure monitor computes interim delta with it, so it must be fast and deterministic.

Conventions: `t` is in years, `vol` and `rate` are annual decimals (0.14 = 14 %), `vega` is per
1.00 of volatility (divide by 100 for "per vol point"). NSE index options are European.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from domain.instruments import InstrumentKind

_SQRT2 = math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
# NSE index options expire at the 15:30 IST close, which is 10:00 UTC.
_EXPIRY_UTC = dt.time(10, 0)
_SECONDS_PER_YEAR = 365.0 * 86_400.0


def norm_cdf(x: float) -> float:
    # erfc keeps precision deep in the tails, where 1 + erf(x) would cancel to zero.
    return 0.5 * math.erfc(-x / _SQRT2)


def norm_pdf(x: float) -> float:
    return _INV_SQRT_2PI * math.exp(-0.5 * x * x)


def _is_call(kind: InstrumentKind) -> bool:
    if kind is InstrumentKind.FUT:
        raise ValueError("Black-Scholes applies to options (CE/PE), not futures")
    return kind is InstrumentKind.CE


def _check_inputs(spot: float, strike: float) -> None:
    if not (spot > 0.0 and strike > 0.0) or math.isinf(spot) or math.isinf(strike):
        raise ValueError(f"spot and strike must be positive and finite (spot={spot}, strike={strike})")


def _d1_d2(spot: float, strike: float, t: float, vol: float, rate: float) -> tuple[float, float]:
    vol_sqrt_t = vol * math.sqrt(t)
    d1 = (math.log(spot / strike) + (rate + 0.5 * vol * vol) * t) / vol_sqrt_t
    return d1, d1 - vol_sqrt_t


def _degenerate(t: float, vol: float) -> bool:
    """At expiry or with no volatility the option is worth its discounted intrinsic value."""
    return t <= 0.0 or vol <= 0.0


def intrinsic(kind: InstrumentKind, spot: float, strike: float, t: float = 0.0, *, rate: float = 0.0) -> float:
    """The no-arbitrage lower bound: intrinsic value against the discounted strike."""
    discounted = strike * math.exp(-rate * max(t, 0.0))
    return max(0.0, spot - discounted) if _is_call(kind) else max(0.0, discounted - spot)


def bs_price(kind: InstrumentKind, spot: float, strike: float, t: float, vol: float, *, rate: float = 0.0) -> float:
    _check_inputs(spot, strike)
    if _degenerate(t, vol):
        return intrinsic(kind, spot, strike, t, rate=rate)
    d1, d2 = _d1_d2(spot, strike, t, vol, rate)
    discounted = strike * math.exp(-rate * t)
    if _is_call(kind):
        return spot * norm_cdf(d1) - discounted * norm_cdf(d2)
    return discounted * norm_cdf(-d2) - spot * norm_cdf(-d1)


def delta(kind: InstrumentKind, spot: float, strike: float, t: float, vol: float, *, rate: float = 0.0) -> float:
    """dPrice/dSpot: in [0, 1] for calls, [-1, 0] for puts."""
    _check_inputs(spot, strike)
    call = _is_call(kind)
    if _degenerate(t, vol):
        in_the_money = spot > strike * math.exp(-rate * max(t, 0.0))
        if call:
            return 1.0 if in_the_money else 0.0
        return 0.0 if in_the_money else -1.0
    d1, _ = _d1_d2(spot, strike, t, vol, rate)
    return norm_cdf(d1) if call else norm_cdf(d1) - 1.0


def gamma(kind: InstrumentKind, spot: float, strike: float, t: float, vol: float, *, rate: float = 0.0) -> float:
    """d²Price/dSpot², the same for a call and a put."""
    _check_inputs(spot, strike)
    _is_call(kind)
    if _degenerate(t, vol):
        return 0.0
    d1, _ = _d1_d2(spot, strike, t, vol, rate)
    return norm_pdf(d1) / (spot * vol * math.sqrt(t))


def vega(kind: InstrumentKind, spot: float, strike: float, t: float, vol: float, *, rate: float = 0.0) -> float:
    """dPrice/dVol per 1.00 of volatility, the same for a call and a put."""
    _check_inputs(spot, strike)
    _is_call(kind)
    if _degenerate(t, vol):
        return 0.0
    d1, _ = _d1_d2(spot, strike, t, vol, rate)
    return spot * norm_pdf(d1) * math.sqrt(t)


def price_bounds(
    kind: InstrumentKind, spot: float, strike: float, t: float, *, rate: float = 0.0
) -> tuple[float, float]:
    """(lower, upper) no-arbitrage bounds of a European option's price."""
    lower = intrinsic(kind, spot, strike, t, rate=rate)
    upper = spot if _is_call(kind) else strike * math.exp(-rate * max(t, 0.0))
    return lower, upper


def implied_vol(
    kind: InstrumentKind,
    price: float,
    spot: float,
    strike: float,
    t: float,
    *,
    rate: float = 0.0,
    low: float = 1e-4,
    high: float = 5.0,
    tol: float = 1e-10,
    max_iter: int = 200,
) -> float:
    """The volatility at which Black-Scholes gives `price`.

    The price is monotonic in volatility, so a bracket [low, high] always contains the answer when
    the price is inside the no-arbitrage bounds. Newton steps are taken when they stay inside the
    bracket (fast near the money) and bisection otherwise (safe for deep wings, where vega is tiny
    and Newton overshoots). Raises ValueError for a price no volatility can produce.
    """
    if not math.isfinite(price) or t <= 0.0:
        raise ValueError(f"implied volatility needs a finite price and t > 0 (price={price}, t={t})")
    lower, upper = price_bounds(kind, spot, strike, t, rate=rate)
    if price < lower - 1e-12 or price >= upper:
        raise ValueError(f"price {price} outside the no-arbitrage bounds [{lower}, {upper})")
    if bs_price(kind, spot, strike, t, low, rate=rate) >= price:
        return low
    if bs_price(kind, spot, strike, t, high, rate=rate) <= price:
        raise ValueError(f"price {price} needs a volatility above {high}")
    vol = min(max(0.2, low), high)
    for _ in range(max_iter):
        diff = bs_price(kind, spot, strike, t, vol, rate=rate) - price
        if abs(diff) < tol:
            return vol
        if diff > 0.0:
            high = vol
        else:
            low = vol
        slope = vega(kind, spot, strike, t, vol, rate=rate)
        candidate = vol - diff / slope if slope > 1e-12 else -1.0
        vol = candidate if low < candidate < high else 0.5 * (low + high)
        if high - low < tol:
            return vol
    return vol


@dataclass(frozen=True, slots=True)
class Smile:
    """A skewed quadratic in log-moneyness: index puts trade richer than calls.

    vol(K) = atm_vol + skew·k + curvature·k², k = ln(K / spot), clamped to [min_vol, max_vol].
    A negative skew makes low strikes (puts) dearer, as on NIFTY and BANKNIFTY.
    """

    atm_vol: float = 0.14
    skew: float = -0.6
    curvature: float = 4.0
    min_vol: float = 0.03
    max_vol: float = 3.0

    def vol(self, spot: float, strike: float) -> float:
        k = math.log(strike / spot)
        raw = self.atm_vol + self.skew * k + self.curvature * k * k
        return min(self.max_vol, max(self.min_vol, raw))

    def shifted(self, vol_points: float) -> Smile:
        """The same shape moved up or down by `vol_points` (0.04 = four points)."""
        return Smile(self.atm_vol + vol_points, self.skew, self.curvature, self.min_vol, self.max_vol)


def years_to_expiry(now_epoch: float, expiry: dt.date) -> float:
    """Calendar years from `now_epoch` to the 15:30 IST close on `expiry`; 0 once it has passed."""
    close = dt.datetime.combine(expiry, _EXPIRY_UTC, tzinfo=dt.UTC).timestamp()
    return max(0.0, (close - now_epoch) / _SECONDS_PER_YEAR)
