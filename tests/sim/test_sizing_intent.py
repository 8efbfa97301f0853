"""Strategies say direction, risk decides quantity: an intent sized by the account's margin."""

from __future__ import annotations

import pytest

from domain.errors import Denied
from sim.harness import Harness
from sim.scenarios.base import group_payload, option_symbol


def _condor_intent(h: Harness, key: str, confidence: float) -> dict:
    legs = []
    for side, offset, kind, role in (("BUY", -6, "PE", "protection"), ("BUY", 6, "CE", "protection"),
                                     ("SELL", -3, "PE", "risk"), ("SELL", 3, "CE", "risk")):
        legs.append({"tradingsymbol": option_symbol(h, "NIFTY", offset, kind), "side": side, "ratio": 1,
                     "role": role, "order_type": "MARKET", "market_protection": -1})
    payload = group_payload("NIFTY", legs, key, "iron_condor")
    payload["confidence"] = confidence
    return payload


@pytest.fixture
def harness():
    h = Harness(21)
    h.wait_recovered()
    yield h
    h.close()


def test_risk_sets_the_quantity_from_margin_and_confidence(harness):
    harness.exchange.set_funds("default", 1_000_000.0)
    full = harness.submit_intent(_condor_intent(harness, "intent-full", 1.0))
    sizing = full.sizing
    assert sizing["binding"] == "margin" and sizing["sets"] == sizing["by_margin"] >= 2
    record = harness.group(full.group_id)
    assert {leg.quantity for leg in record.spec.legs} == {65 * sizing["sets"]}
    harness.run_until_settled([full.group_id], timeout=600.0)
    half = harness.submit_intent(_condor_intent(harness, "intent-half", 0.5))
    assert half.sizing["sets"] <= max(1, sizing["sets"] // 2)


def test_an_intent_sized_to_nothing_is_denied_and_leaves_nothing(harness):
    harness.exchange.set_funds("default", 10_000.0)
    with pytest.raises(Denied) as denied:
        harness.submit_intent(_condor_intent(harness, "intent-broke", 1.0))
    assert (denied.value.code.value, denied.value.field) == ("MARGIN", "legs")
    assert harness.store.idempotency("intent-broke") is None and not harness.exchange.all_orders()


def test_an_intent_may_not_carry_quantities(harness):
    payload = _condor_intent(harness, "intent-qty", 1.0)
    payload["legs"][0]["quantity"] = 65
    with pytest.raises(Denied) as denied:
        harness.submit_intent(payload)
    assert (denied.value.code.value, denied.value.field) == ("SCHEMA_ERROR", "legs[0].quantity")
