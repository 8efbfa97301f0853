"""Black-Scholes, greeks, implied volatility and the smile (domain/greeks.py)."""

from __future__ import annotations

import datetime as dt
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.greeks import (
    Smile,
    bs_price,
    delta,
    gamma,
    implied_vol,
    norm_cdf,
    vega,
    years_to_expiry,
)
from domain.instruments import InstrumentKind

CE, PE = InstrumentKind.CE, InstrumentKind.PE

spots = st.floats(min_value=5_000.0, max_value=60_000.0)
moneyness = st.floats(min_value=0.7, max_value=1.3)
years = st.floats(min_value=1.0 / 365.0, max_value=1.0)
vols = st.floats(min_value=0.05, max_value=1.0)
rates = st.floats(min_value=0.0, max_value=0.1)


def test_known_value_matches_textbook() -> None:
    # Hull's example: S=42, K=40, r=10 %, sigma=20 %, T=0.5 → call 4.76, put 0.81.
    assert bs_price(CE, 42.0, 40.0, 0.5, 0.2, rate=0.1) == pytest.approx(4.7594, abs=1e-4)
    assert bs_price(PE, 42.0, 40.0, 0.5, 0.2, rate=0.1) == pytest.approx(0.8086, abs=1e-4)


@given(spots, moneyness, years, vols, rates)
def test_put_call_parity(spot: float, m: float, t: float, vol: float, rate: float) -> None:
    strike = spot * m
    call = bs_price(CE, spot, strike, t, vol, rate=rate)
    put = bs_price(PE, spot, strike, t, vol, rate=rate)
    assert call - put == pytest.approx(spot - strike * math.exp(-rate * t), abs=1e-6 * spot)


@given(spots, moneyness, years, vols)
def test_delta_bounds_and_parity(spot: float, m: float, t: float, vol: float) -> None:
    strike = spot * m
    call_delta = delta(CE, spot, strike, t, vol)
    put_delta = delta(PE, spot, strike, t, vol)
    assert 0.0 <= call_delta <= 1.0
    assert -1.0 <= put_delta <= 0.0
    assert call_delta - put_delta == pytest.approx(1.0)


@given(spots, moneyness, years, vols)
def test_gamma_and_vega_are_non_negative_and_shared(spot: float, m: float, t: float, vol: float) -> None:
    strike = spot * m
    assert gamma(CE, spot, strike, t, vol) == gamma(PE, spot, strike, t, vol) >= 0.0
    assert vega(CE, spot, strike, t, vol) == vega(PE, spot, strike, t, vol) >= 0.0


def test_greeks_match_finite_differences() -> None:
    spot, strike, t, vol = 24_000.0, 24_200.0, 7 / 365, 0.14
    h = 0.5
    up, down = bs_price(CE, spot + h, strike, t, vol), bs_price(CE, spot - h, strike, t, vol)
    mid = bs_price(CE, spot, strike, t, vol)
    assert delta(CE, spot, strike, t, vol) == pytest.approx((up - down) / (2 * h), rel=1e-5)
    assert gamma(CE, spot, strike, t, vol) == pytest.approx((up - 2 * mid + down) / (h * h), rel=1e-3)
    dv = 1e-4
    fd_vega = (bs_price(CE, spot, strike, t, vol + dv) - bs_price(CE, spot, strike, t, vol - dv)) / (2 * dv)
    assert vega(CE, spot, strike, t, vol) == pytest.approx(fd_vega, rel=1e-5)


def test_expired_option_is_worth_intrinsic() -> None:
    assert bs_price(CE, 24_100.0, 24_000.0, 0.0, 0.14) == pytest.approx(100.0)
    assert bs_price(PE, 24_100.0, 24_000.0, 0.0, 0.14) == 0.0
    assert delta(CE, 24_100.0, 24_000.0, 0.0, 0.14) == 1.0
    assert delta(PE, 23_900.0, 24_000.0, 0.0, 0.14) == -1.0


near_money = st.floats(min_value=0.85, max_value=1.15)
wide_vols = st.floats(min_value=0.05, max_value=2.0)


@settings(max_examples=300)
@given(spots, near_money, years, wide_vols, rates)
def test_implied_vol_round_trip(spot: float, m: float, t: float, vol: float, rate: float) -> None:
    strike = spot * m
    for kind in (CE, PE):
        price = bs_price(kind, spot, strike, t, vol, rate=rate)
        if vega(kind, spot, strike, t, vol, rate=rate) < 1e-3:
            continue  # a price that does not move with volatility cannot identify it
        assert implied_vol(kind, price, spot, strike, t, rate=rate) == pytest.approx(vol, rel=1e-6, abs=1e-7)


def test_implied_vol_rejects_arbitrage_prices() -> None:
    with pytest.raises(ValueError):
        implied_vol(CE, 50.0, 24_100.0, 24_000.0, 0.05)  # below intrinsic 100
    with pytest.raises(ValueError):
        implied_vol(CE, 30_000.0, 24_100.0, 24_000.0, 0.05)  # above the spot
    with pytest.raises(ValueError):
        implied_vol(PE, math.nan, 24_100.0, 24_000.0, 0.05)


def test_futures_are_not_priced_as_options() -> None:
    with pytest.raises(ValueError):
        bs_price(InstrumentKind.FUT, 24_000.0, 24_000.0, 0.1, 0.14)


def test_smile_makes_puts_dearer_and_wings_rise() -> None:
    smile = Smile(atm_vol=0.14, skew=-0.6, curvature=4.0)
    assert smile.vol(24_000.0, 24_000.0) == pytest.approx(0.14)
    assert smile.vol(24_000.0, 22_800.0) > smile.vol(24_000.0, 25_200.0)  # 5 % OTM put vs call
    assert smile.vol(24_000.0, 30_000.0) > smile.vol(24_000.0, 25_000.0)  # curvature lifts the far wing
    assert smile.shifted(0.04).vol(24_000.0, 24_000.0) == pytest.approx(0.18)
    assert Smile(atm_vol=0.01, min_vol=0.03).vol(1.0, 1.0) == 0.03


def test_years_to_expiry_counts_to_the_close() -> None:
    expiry = dt.date(2026, 12, 1)
    close = dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC).timestamp()
    assert years_to_expiry(close - 86_400.0, expiry) == pytest.approx(1 / 365)
    assert years_to_expiry(close + 1.0, expiry) == 0.0


def test_norm_cdf_tails() -> None:
    assert norm_cdf(0.0) == 0.5
    assert 0.0 < norm_cdf(-30.0) < 1e-190
