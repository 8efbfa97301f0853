"""The risk cases of the design documents, each with its numbers, on the deterministic runtime."""

from __future__ import annotations

import pytest

from domain.errors import Denied
from sim.harness import Harness
from sim.scenarios import run_scenario
from sim.scenarios.base import group_payload
from sim.scenarios.risk import conversion_legs

SEEDS = (1, 2, 3)


@pytest.mark.parametrize("seed", SEEDS)
def test_margin_shock_is_blocked_before_anything_is_sent(seed):
    result = run_scenario("margin-shock", seed)
    assert result.violations == []  # includes: no group, no idempotency record, no order left behind
    assert result.final_state == "DENIED" and result.orders_sent == 0
    denial = result.extra["denial"]
    assert (denial["code"], denial["field"]) == ("MARGIN", "legs")
    details = denial["details"]
    assert result.extra["available"] == 100_000.0
    # A check of the whole group at today's prices would pass: about 50,000 against 100,000.
    assert 45_000 <= result.extra["estimate"] <= 60_000
    # The state that blocks it: the short future alone, after a +3% (300 point) move.
    assert details["positions"] == {next(iter(details["positions"])): -100}
    assert details["shocked_loss"] == pytest.approx(30_000, rel=0.01)
    assert details["required"] > details["available"] == 100_000.0
    assert details["required"] == pytest.approx(details["base_margin"] + details["addon"] + details["buffer"])


def test_two_groups_whose_sum_exceeds_the_margin_submitted_together_one_is_denied():
    h = Harness(5)
    try:
        h.wait_recovered()
        h.exchange.set_funds("default", 150_000.0)
        futures = [h.system.submit(group_payload("SCEN", conversion_legs(h, 100), f"together-{i}")) for i in (1, 2)]
        outcomes = []
        for future in futures:
            try:
                outcomes.append(("accepted", h.runtime.wait(future, 30.0).group_id))
            except Denied as denied:
                outcomes.append(("denied", denied.code.value))
        assert sorted(kind for kind, _ in outcomes) == ["accepted", "denied"]
        assert ("denied", "MARGIN") in outcomes
        margin = h.describe("margin")
        assert margin["groups"] == 1 and margin["reserved"] == pytest.approx(95_000)
        (accepted,) = [gid for kind, gid in outcomes if kind == "accepted"]
        h.run_until_settled([accepted], timeout=600.0)
        h.run_for(0.1)
        # Released once the group settled: the next group sees the whole account again.
        assert h.describe("margin")["groups"] == 0
    finally:
        h.close()


@pytest.mark.parametrize("seed", SEEDS)
def test_sl_gap_through_closes_by_the_fallback_and_reports_the_loss_against_the_plan(seed):
    result = run_scenario("sl-gap-through", seed)
    assert result.violations == []
    assert result.final_state == "CLOSED"
    stop = result.extra["stop"]
    assert stop["fallback"].startswith("gap-through")
    assert stop["exited"] == 50
    assert stop["exit_price"] <= 91.0  # the market was at 90: the 94.5 limit could never fill
    assert stop["planned_loss"] == pytest.approx(250.0)  # 5 points on 50
    assert stop["loss"] == pytest.approx(50 * (100.0 - stop["exit_price"]))
    assert stop["loss"] > stop["planned_loss"]  # the gap made it worse than the plan: 10 points, not 5
    sl = [o for o in result.extra["orders"] if o["purpose"] == "stop" and o["filled"] == 0]
    assert sl and all(o["status"] == "CANCELLED" for o in sl)
    assert sum(o["filled"] for o in result.extra["orders"] if o["purpose"] == "stop") == 50  # no double exit


@pytest.mark.parametrize("seed", SEEDS)
def test_pending_leg_exposure_is_hedged_within_the_bound_not_after_eight_seconds(seed):
    result = run_scenario("pending-leg-exposure", seed)
    assert result.violations == []
    exposure = result.extra["exposure"]
    assert exposure["put_filled_ms"] >= 7_900  # the second leg really pended for 8 s
    assert exposure["hedge_sent_ms"] is not None
    assert exposure["hedge_sent_ms"] <= exposure["spot_move_done_ms"] + 200  # with the move, not after it
    assert exposure["hedge_side"] == "BUY" and exposure["hedge_quantity"] > 0
    (hedge,) = exposure["hedges"]
    assert abs(hedge["delta"]) > exposure["delta_limit"]


@pytest.mark.parametrize("seed", SEEDS)
def test_kill_switch_mid_group_cancels_within_a_second_flattens_and_survives_a_restart(seed):
    result = run_scenario("kill-switch-mid-group", seed)
    assert result.violations == []
    assert result.outcome == "FLAT"
    assert result.extra["working_at_press"] == 2
    assert result.extra["cancel_requested_within_ms"] <= 1000.0
    assert result.extra["new_risk_orders_after_press"] == 0
    assert result.extra["held_group"]["state"] == "CLOSED"
    assert result.extra["book_flat"] is True
    assert result.extra["trading_state_after_restart"] == "HALTED"
    assert result.extra["denial_after_restart"] == "KILL_SWITCH_ACTIVE"
