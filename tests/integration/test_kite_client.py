"""The unmodified `kiteconnect.KiteConnect` against the Kite-protocol server on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import requests
from kite_fakes import FakeBroker
from kite_support import ACCESS_TOKEN, API_KEY
from kiteconnect import KiteConnect
from kiteconnect import exceptions as kite

from brokers.kite.parse import (
    parse_basket_margins,
    parse_instrument_rows,
    parse_margins,
    parse_orders,
    parse_positions,
    parse_trades,
)
from sim.kite_server import KiteServerThread, build_app

pytest_plugins = ["kite_fixtures"]

CE = "NIFTY26JAN24000CE"
PE = "NIFTY26JAN23900PE"
HEDGE = "NIFTY26JAN24100CE"


def place(client: KiteConnect, symbol: str, side: str, **extra: Any) -> str:
    params: dict[str, Any] = {
        "variety": "regular",
        "exchange": "NFO",
        "tradingsymbol": symbol,
        "transaction_type": side,
        "quantity": 65,
        "product": "NRML",
        "order_type": "LIMIT",
        "price": 50.0,
        "tag": "lg-test",
    }
    params.update(extra)
    return client.place_order(**params)


def test_place_modify_cancel_a_resting_order(kite_client: KiteConnect, kite_fake_broker: FakeBroker) -> None:
    order_id = place(kite_client, CE, "BUY", price=50.0)  # below the last price: rests
    assert kite_client.modify_order("regular", order_id, price=55.0, quantity=130) == order_id
    assert kite_client.cancel_order("regular", order_id) == order_id

    history = parse_orders(kite_client.order_history(order_id))
    assert [o.status for o in history] == ["PUT ORDER REQ RECEIVED", "OPEN", "MODIFIED", "OPEN", "CANCELLED"]
    assert (history[-1].quantity, history[-1].price, history[-1].cancelled_quantity) == (130, 55.0, 130)
    assert history[-1].tag == "lg-test"
    assert history[-1].instrument_token == kite_fake_broker.instruments[CE].instrument_token
    # kiteconnect turned the timestamp into a datetime; the parser gives Kite's text back
    assert isinstance(kite_client.order_history(order_id)[0]["order_timestamp"], dt.datetime)
    assert history[0].order_timestamp == "2026-01-20 10:00:00"


def test_market_order_fills_and_shows_in_orders_trades_positions(
    kite_client: KiteConnect, kite_fake_broker: FakeBroker
) -> None:
    order_id = place(
        kite_client, PE, "SELL", order_type="MARKET", price=None, market_protection=-1, quantity=130
    )

    (order,) = [o for o in parse_orders(kite_client.orders()) if o.order_id == order_id]
    assert (order.status, order.filled_quantity, order.market_protection) == ("COMPLETE", 130, -1.0)
    assert order.average_price == kite_fake_broker.prices[PE]

    (trade,) = parse_trades(kite_client.order_trades(order_id))
    assert (trade.quantity, trade.price, trade.side.value) == (130, kite_fake_broker.prices[PE], "SELL")
    assert [t.order_id for t in parse_trades(kite_client.trades())] == [order_id]

    raw = kite_client.positions()
    assert set(raw) == {"net", "day"}
    (position,) = parse_positions(raw)
    assert (position.tradingsymbol, position.quantity) == (PE, -130)


def test_market_order_without_market_protection_is_an_input_error(kite_client: KiteConnect) -> None:
    with pytest.raises(kite.InputException) as info:
        place(kite_client, CE, "BUY", order_type="MARKET", price=None)
    assert info.value.code == 400 and "market_protection" in str(info.value)


def test_tag_longer_than_20_is_rejected_not_cut(kite_client: KiteConnect) -> None:
    with pytest.raises(kite.InputException):
        place(kite_client, CE, "BUY", tag="x" * 21)


def test_broker_rejections_keep_their_kite_error_type(kite_client: KiteConnect) -> None:
    with pytest.raises(kite.InputException):
        place(kite_client, "NIFTY26JAN99999CE", "BUY")
    order_id = place(kite_client, CE, "BUY", order_type="MARKET", price=None, market_protection=5)
    with pytest.raises(kite.OrderException) as info:
        kite_client.cancel_order("regular", order_id)  # already COMPLETE
    assert info.value.code == 400


def test_margins_and_basket_margins(kite_client: KiteConnect) -> None:
    every = kite_client.margins()
    assert set(every) == {"equity", "commodity"}
    equity = parse_margins(kite_client.margins("equity"))
    assert equity == parse_margins(every)
    assert equity.available == 1_000_000.0

    legs = [
        {
            "exchange": "NFO",
            "tradingsymbol": HEDGE,
            "transaction_type": "BUY",
            "variety": "regular",
            "product": "NRML",
            "order_type": "LIMIT",
            "quantity": 65,
            "price": 80.0,
        },
        {
            "exchange": "NFO",
            "tradingsymbol": CE,
            "transaction_type": "SELL",
            "variety": "regular",
            "product": "NRML",
            "order_type": "LIMIT",
            "quantity": 65,
            "price": 120.0,
        },
    ]
    basket = parse_basket_margins(kite_client.basket_order_margins(legs, consider_positions=True))
    assert basket.final_total < basket.initial_total  # the hedge benefit
    assert [m.tradingsymbol for m in basket.orders] == [HEDGE, CE]
    per_order = kite_client.order_margins(legs)
    assert [m["tradingsymbol"] for m in per_order] == [HEDGE, CE]


def test_ltp_quote_and_instruments(kite_client: KiteConnect, kite_fake_broker: FakeBroker) -> None:
    ltp = kite_client.ltp(f"NFO:{CE}", f"NFO:{PE}", "NFO:NOT-LISTED")
    assert ltp == {
        f"NFO:{CE}": {
            "instrument_token": kite_fake_broker.instruments[CE].instrument_token,
            "last_price": kite_fake_broker.prices[CE],
        },
        f"NFO:{PE}": {
            "instrument_token": kite_fake_broker.instruments[PE].instrument_token,
            "last_price": kite_fake_broker.prices[PE],
        },
    }
    quote = kite_client.quote([f"NFO:{CE}"])
    assert quote[f"NFO:{CE}"]["last_price"] == kite_fake_broker.prices[CE]

    rows = kite_client.instruments("NFO")
    assert len(rows) == len(kite_fake_broker.instruments) == len(kite_client.instruments())
    assert rows[0]["segment"] == "NFO-OPT" and isinstance(rows[0]["expiry"], dt.date)
    assert parse_instrument_rows(rows, {"NIFTY": 1800}) == list(kite_fake_broker.instruments.values())
    assert kite_client.instruments("NSE") == []


def test_every_error_has_kite_envelope_and_content_type(kite_server: KiteServerThread) -> None:
    for method, path in (("GET", "/no/such/route"), ("GET", "/orders/regular/123"), ("GET", "/orders/999")):
        response = requests.request(method, f"{kite_server.api_root}{path}", timeout=5)
        assert "json" in response.headers["content-type"]
        body = response.json()
        assert body["status"] == "error" and body["error_type"] and body["data"] is None
        assert response.status_code in (400, 404, 405)


def test_credentials_when_started_with_them(
    kite_fake_broker: FakeBroker, kite_instruments: list[Any]
) -> None:
    app = build_app(kite_fake_broker, kite_instruments, api_key=API_KEY, access_token=ACCESS_TOKEN)
    with KiteServerThread(app) as server:
        good = KiteConnect(API_KEY, access_token=ACCESS_TOKEN, root=server.api_root, timeout=5)
        bad = KiteConnect(API_KEY, access_token="stale", root=server.api_root, timeout=5)
        try:
            assert good.orders() == []
            with pytest.raises(kite.TokenException) as info:
                bad.orders()
            assert info.value.code == 403
        finally:
            good.reqsession.close()
            bad.reqsession.close()


def test_bad_margin_body_is_an_input_error(kite_server: KiteServerThread) -> None:
    response = requests.post(f"{kite_server.api_root}/margins/basket", data=b"{not json", timeout=5)
    assert response.status_code == 400 and response.json()["error_type"] == "InputException"
