from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.sizing import SizingInputs, loss_factor, size_sets, vol_factor

BASE = SizingInputs(
    available_margin=1_000_000, margin_per_set=50_000, portfolio_delta=0.0, delta_per_set=10.0, delta_limit=200.0,
    realised_pnl_today=0.0, daily_loss_limit=50_000, current_vol=0.14, baseline_vol=0.14, confidence=1.0, max_sets=100,
)


def test_margin_binds_when_it_is_the_tightest():
    decision = size_sets(BASE)
    assert (decision.sets, decision.binding, decision.by_margin) == (16, "margin", 16)  # 0.8 * 1e6 / 5e4


def test_portfolio_delta_limit_binds():
    decision = size_sets(dataclasses.replace(BASE, portfolio_delta=150.0))
    assert (decision.sets, decision.binding) == (5, "delta")


def test_a_set_that_reduces_the_portfolio_delta_is_not_limited_by_it():
    decision = size_sets(dataclasses.replace(BASE, portfolio_delta=190.0, delta_per_set=-10.0))
    assert decision.by_delta == 100 and decision.sets == 16


@pytest.mark.parametrize(("realised", "factor"), [(0.0, 1.0), (-24_999, 1.0), (-25_000, 0.25), (-50_000, 0.0)])
def test_losing_days_cut_size(realised, factor):
    assert loss_factor(realised, 50_000) == factor
    decision = size_sets(dataclasses.replace(BASE, realised_pnl_today=realised))
    assert decision.sets == int(16 * factor)


def test_high_volatility_sizes_down_never_up():
    assert vol_factor(0.28, 0.14) == 0.5
    assert vol_factor(0.07, 0.14) == 1.0
    assert size_sets(dataclasses.replace(BASE, current_vol=0.28)).sets == 8


@given(
    st.floats(0, 1e8), st.floats(1, 1e6), st.floats(-500, 500), st.floats(-50, 50), st.floats(-1e6, 1e6),
    st.floats(0.01, 2), st.floats(0, 1), st.integers(0, 500),
)
def test_never_more_than_any_limit_allows(available, per_set, pdelta, dset, pnl, vol, confidence, cap):
    inputs = dataclasses.replace(
        BASE, available_margin=available, margin_per_set=per_set, portfolio_delta=pdelta, delta_per_set=dset,
        realised_pnl_today=pnl, current_vol=vol, confidence=confidence, max_sets=cap,
    )
    decision = size_sets(inputs)
    assert 0 <= decision.sets <= cap
    assert decision.sets * per_set <= available * inputs.margin_utilisation + 1e-6
