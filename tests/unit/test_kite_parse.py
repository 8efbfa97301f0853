"""The Kite parsers over every payload in kite-mocks that the Broker port reads, with real values.

The mocks are Zerodha's own fixtures (zerodha/kiteconnect-mocks). The in-repo copy under
tests/data/kite-mocks is preferred so a bare clone runs these; LEGGUARD_KITE_MOCKS points elsewhere.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import struct
from pathlib import Path
from typing import Any

import pytest

from brokers.kite.instruments import CSV_COLUMNS, instruments_csv
from brokers.kite.packets import (
    encode_ltp_frame,
    encode_tick_packet,
    parse_tick_frame,
    price_divisor,
    split_frame,
)
from brokers.kite.parse import (
    PostbackChecksumError,
    parse_autoslice,
    parse_basket_margins,
    parse_instrument_rows,
    parse_instruments_csv,
    parse_ltp,
    parse_margins,
    parse_order,
    parse_order_margins,
    parse_order_response,
    parse_orders,
    parse_positions,
    parse_postback,
    parse_quote,
    parse_tick_packet,
    parse_trades,
    postback_checksum,
)
from domain.instruments import InstrumentKind
from domain.model import Side

_REPO = Path(__file__).resolve().parents[2]
_CANDIDATES = (_REPO / "tests" / "data" / "kite-mocks", _REPO.parent / "shared" / "kite-mocks")


def _mocks_dir() -> Path | None:
    override = os.environ.get("LEGGUARD_KITE_MOCKS")
    if override:
        return Path(override)
    return next((path for path in _CANDIDATES if path.is_dir()), None)


MOCKS = _mocks_dir()
pytestmark = pytest.mark.skipif(
    MOCKS is None or not MOCKS.is_dir(),
    reason=f"kite-mocks not found (looked in $LEGGUARD_KITE_MOCKS, {', '.join(map(str, _CANDIDATES))})",
)
FREEZE = {"BANKNIFTY": 600, "NIFTY": 1800}


def data(name: str) -> Any:
    assert MOCKS is not None
    body = json.loads((MOCKS / name).read_text())
    return body["data"] if "data" in body and "status" in body else body


def packet(name: str) -> bytes:
    assert MOCKS is not None
    return base64.b64decode((MOCKS / name).read_bytes())


# --------------------------------------------------------------------------- orders


def test_orders_book_every_row() -> None:
    orders = parse_orders(data("orders.json"), ts=12.5)
    assert len(orders) == 10
    first, rejected, nfo = orders[0], orders[3], orders[-1]

    assert first.order_id == "100000000000000"
    assert first.status == "CANCELLED"
    assert (first.exchange, first.tradingsymbol, first.instrument_token) == ("CDS", "USDINR21JUNFUT", 412675)
    assert (first.quantity, first.filled_quantity, first.pending_quantity, first.cancelled_quantity) == (
        1,
        0,
        1,
        1,
    )
    assert first.price == 72.0 and first.tag is None
    assert first.order_timestamp == "2021-05-31 09:18:57"
    assert first.exchange_update_timestamp == "2021-05-31 09:18:58"
    assert first.ts == 12.5

    assert rejected.status == "REJECTED"
    assert rejected.status_message is not None and rejected.status_message.startswith("Insufficient funds")
    assert rejected.exchange_order_id is None and rejected.exchange_update_timestamp is None
    assert (rejected.variety, rejected.validity, rejected.tag) == ("iceberg", "TTL", "icebergord")

    assert orders[4].tag == "connect test order1"
    assert nfo.tradingsymbol == "NIFTY2580724400CE" and nfo.exchange == "NFO"
    assert (nfo.order_type, nfo.transaction_type, nfo.product) == ("MARKET", "BUY", "NRML")
    assert (nfo.quantity, nfo.filled_quantity, nfo.average_price) == (150, 150, 12.3)
    assert nfo.order_id == "1953367517686685697"  # 19 digits: ids are strings, never ints


def test_order_history_walks_kite_status_sequence() -> None:
    history = parse_orders(data("order_info.json"))
    assert [o.status for o in history] == [
        "PUT ORDER REQ RECEIVED",
        "VALIDATION PENDING",
        "OPEN PENDING",
        "OPEN",
        "MODIFY VALIDATION PENDING",
        "MODIFY PENDING",
        "MODIFIED",
        "OPEN",
    ]
    assert {o.order_id for o in history} == {"171229000724687"}
    assert history[0].exchange_order_id is None
    assert history[3].exchange_order_id == "1300000001887410"
    assert history[-1].price == 300.1 and history[3].price == 300.0
    assert history[-1].order_timestamp == "2017-12-29 11:08:16"


def test_order_timestamps_from_kiteconnect_datetimes_match_raw_text() -> None:
    """kiteconnect turns 19-character timestamps into datetimes; the parser gives Kite's text back."""
    raw = data("orders.json")[1]
    formatted = dict(raw, order_timestamp=dt.datetime(2021, 5, 31, 15, 20, 28))
    assert parse_order(formatted) == parse_order(raw)


def test_postback_fields_and_checksum() -> None:
    payload = data("postback.json")
    update = parse_postback(payload)
    assert (update.order_id, update.status, update.exchange_order_id) == (
        "220303000308932",
        "COMPLETE",
        "1000000001482421",
    )
    assert (update.tradingsymbol, update.order_type, update.average_price) == ("SBIN", "MARKET", 470.0)
    assert (update.filled_quantity, update.pending_quantity) == (1, 0)

    secret = "postback-secret"
    good = postback_checksum("220303000308932", "2022-03-03 09:24:25", secret)
    assert good == hashlib.sha256(b"2203030003089322022-03-03 09:24:25postback-secret").hexdigest()
    assert parse_postback(dict(payload, checksum=good), api_secret=secret) == update
    with pytest.raises(PostbackChecksumError):
        parse_postback(payload, api_secret=secret)  # the mock's checksum was made with Zerodha's secret


def test_websocket_order_update_is_the_postback_shape() -> None:
    payload = dict(data("postback.json"), checksum="")  # the socket sends a blank checksum
    assert parse_order(payload).order_id == "220303000308932"


def test_place_modify_cancel_responses() -> None:
    assert parse_order_response(data("order_response.json")) == "151220000000000"
    assert parse_order_response(data("order_modify.json")) == "151220000000000"
    assert parse_order_response(data("order_cancel.json")) == "151220000000000"


def test_autoslice_child_can_fail_inside_a_success() -> None:
    result = parse_autoslice(data("autoslice_response.json"))
    assert result.order_id == "1914227164488687616"
    assert [c.order_id for c in result.children] == [
        "1914227164534824960",
        "1914227164580962304",
        None,
        "1914227164681625600",
    ]
    (failed,) = result.failed
    assert failed.error is not None
    assert (failed.error.error_type, failed.error.code) == ("MarginException", 400)
    assert "Required margin is 228365.92" in failed.error.message


# --------------------------------------------------------------------------- trades, positions


def test_trades() -> None:
    trades = parse_trades(data("trades.json"))
    assert [t.trade_id for t in trades] == ["10000000", "40000000", "70000000", "90000000"]
    cds = trades[1]
    assert (cds.order_id, cds.exchange, cds.tradingsymbol) == ("500000000000000", "CDS", "USDINR21JUNFUT")
    assert (cds.side, cds.quantity, cds.price) == (Side.BUY, 1, 72.755)
    assert cds.fill_timestamp == "2021-05-31 11:18:27" and cds.instrument_token == 412675


def test_order_trades() -> None:
    (trade,) = parse_trades(data("order_trades.json"))
    assert (trade.trade_id, trade.order_id, trade.tradingsymbol) == (
        "10000000",
        "200000000000000",
        "GOLDPETAL21JUNFUT",
    )
    assert (trade.price, trade.quantity, trade.side) == (4852.0, 1, Side.BUY)


def test_positions_net_and_day() -> None:
    net = parse_positions(data("positions.json"))
    assert [p.tradingsymbol for p in net] == ["LEADMINI17DECFUT", "GOLDGUINEA17DECFUT", "SBIN"]
    lead, gold, _ = net
    assert (lead.quantity, lead.average_price, lead.last_price, lead.instrument_token) == (
        1,
        161.05,
        161.05,
        53496327,
    )
    assert (gold.quantity, gold.pnl, gold.buy_quantity, gold.sell_quantity) == (0, 801.0, 4, 4)

    day = {p.tradingsymbol: p for p in parse_positions(data("positions.json"), book="day")}
    assert day["GOLDGUINEA17DECFUT"].quantity == -3  # signed: short three today
    assert day["GOLDGUINEA17DECFUT"].average_price == 23340.0


# --------------------------------------------------------------------------- margins


def test_margins_all_segments_pick_equity() -> None:
    margins = parse_margins(data("margins.json"))
    assert margins.available == pytest.approx(99725.05)
    assert margins.utilised == pytest.approx(145706.55)
    assert margins.cash == pytest.approx(245431.6)
    assert margins.detail["utilised.span"] == 101989.0
    assert margins.detail["utilised.exposure"] == 38981.25
    assert margins.detail["utilised.m2m_realised"] == 761.7

    commodity = parse_margins(data("margins.json"), segment="commodity")
    assert commodity.available == pytest.approx(100661.7) and commodity.utilised == 0.0


def test_margins_single_segment_payloads() -> None:
    assert parse_margins(data("margins_equity.json")) == parse_margins(data("margins.json"))
    commodity = parse_margins(data("margin_commodity.json"), segment="commodity")
    assert (commodity.available, commodity.utilised, commodity.cash) == (96426.33, 871.17, 97297.5)


def test_basket_margins_initial_vs_final() -> None:
    basket = parse_basket_margins(data("basket_margins.json"))
    assert basket.initial_total == pytest.approx(96504.975)
    assert basket.final_total == pytest.approx(34786.725)
    sold, bought = basket.orders
    assert (sold.tradingsymbol, sold.span, sold.total) == ("NIFTY23JUL20600CE", 66832.5, 95983.725)
    assert (bought.tradingsymbol, bought.option_premium, bought.total) == (
        "NIFTY23JUL20700CE",
        521.25,
        521.25,
    )


def test_order_margins() -> None:
    (margin,) = parse_order_margins(data("order_margins.json"))
    assert (margin.tradingsymbol, margin.span, margin.exposure, margin.total) == ("INFY", 0.0, 0.0, 1498.0)


# --------------------------------------------------------------------------- quotes


def test_ltp_and_quote() -> None:
    (ltp,) = parse_ltp(data("ltp.json")).values()
    assert (ltp.key, ltp.tradingsymbol, ltp.instrument_token, ltp.last_price) == (
        "NSE:INFY",
        "INFY",
        408065,
        1074.35,
    )
    quote = parse_quote(data("quote.json"))["NSE:INFY"]
    assert (quote.instrument_token, quote.last_price) == (408065, 1412.95)


# --------------------------------------------------------------------------- instruments


def test_instruments_dump_maps_types_lots_ticks_and_freeze_from_settings() -> None:
    assert MOCKS is not None
    text = (MOCKS / "instruments_all.csv").read_text()
    assert tuple(text.splitlines()[0].split(",")) == CSV_COLUMNS
    instruments = parse_instruments_csv(text, FREEZE)
    # Only BANKNIFTY has a configured freeze quantity; equities and unconfigured stock options are left out.
    assert len(instruments) == 12
    assert {i.underlying for i in instruments} == {"BANKNIFTY"}
    ce = next(i for i in instruments if i.tradingsymbol == "BANKNIFTY18JAN23500CE")
    assert (ce.instrument_token, ce.exchange, ce.kind, ce.strike) == (
        12073986,
        "NFO",
        InstrumentKind.CE,
        23500.0,
    )
    assert (ce.expiry, ce.lot_size, ce.tick_size, ce.freeze_quantity) == (dt.date(2018, 1, 25), 40, 0.05, 600)
    pe = next(i for i in instruments if i.tradingsymbol == "BANKNIFTY17NOV23600PE")
    assert (pe.kind, pe.expiry) == (InstrumentKind.PE, dt.date(2017, 11, 30))

    with_stocks = parse_instruments_csv(
        text, {**FREEZE, "INDIACEM": 70_000, "INDIANB": 40_000, "ADANIPORTS": 50_000}
    )
    assert len(with_stocks) == 25  # every NFO option row
    assert next(i for i in with_stocks if i.tradingsymbol == "INDIACEM17DEC220PE").lot_size == 3500


def test_instruments_nse_dump_has_no_derivatives() -> None:
    assert MOCKS is not None
    assert parse_instruments_csv((MOCKS / "instruments_nse.csv").read_bytes(), FREEZE) == []


def test_instruments_round_trip_through_the_simulators_csv() -> None:
    assert MOCKS is not None
    instruments = parse_instruments_csv((MOCKS / "instruments_all.csv").read_text(), FREEZE)
    assert parse_instruments_csv(instruments_csv(instruments), FREEZE) == instruments


def test_instruments_from_kiteconnect_typed_rows() -> None:
    row = {
        "instrument_token": 12073986,
        "exchange_token": "47164",
        "tradingsymbol": "BANKNIFTY18JAN23500CE",
        "name": "BANKNIFTY",
        "last_price": 2528.4,
        "expiry": dt.date(2018, 1, 25),
        "strike": 23500.0,
        "tick_size": 0.05,
        "lot_size": 40,
        "instrument_type": "CE",
        "segment": "NFO-OPT",
        "exchange": "NFO",
    }
    (inst,) = parse_instrument_rows([row], FREEZE)
    assert (inst.expiry, inst.freeze_quantity, inst.underlying) == (dt.date(2018, 1, 25), 600, "BANKNIFTY")


# --------------------------------------------------------------------------- ticker packets


def test_ticker_quote_packet() -> None:
    expected = data("ticker_quote.json")
    raw = packet("ticker_quote.packet")
    assert len(raw) == 44
    tick = parse_tick_packet(raw, ts=3.0)
    assert tick is not None
    assert (tick.instrument_token, tick.last_price, tick.ts) == (
        expected["instrument_token"],
        expected["last_price"],
        3.0,
    )


def test_ticker_full_packet() -> None:
    expected = data("ticker_full.json")
    raw = packet("ticker_full.packet")
    assert len(raw) == 184
    tick = parse_tick_packet(raw)
    assert tick is not None
    assert (tick.instrument_token, tick.last_price) == (expected["instrument_token"], expected["last_price"])


def test_ticker_ltp_packet_matches_decoded_mock() -> None:
    """There is no ticker_ltp.packet in the mocks: build the 8-byte packet from its decoded JSON."""
    expected = data("ticker_ltp.json")
    raw = struct.pack(">II", expected["instrument_token"], round(expected["last_price"] * 100))
    tick = parse_tick_packet(raw)
    assert tick is not None and (tick.instrument_token, tick.last_price) == (408065, 1573.15)
    assert encode_tick_packet(408065, 1573.15) == raw


def test_frames_split_into_packets_of_every_mode() -> None:
    quote, full = packet("ticker_quote.packet"), packet("ticker_full.packet")
    ltp = encode_tick_packet(12073986, 2528.4)
    frame = struct.pack(">H", 3) + b"".join(struct.pack(">H", len(p)) + p for p in (ltp, quote, full))
    assert split_frame(frame) == [ltp, quote, full]
    assert [(t.instrument_token, t.last_price) for t in parse_tick_frame(frame)] == [
        (12073986, 2528.4),
        (408065, 1573.15),
        (408065, 1573.7),
    ]


def test_heartbeat_and_unknown_lengths_carry_no_ticks() -> None:
    assert parse_tick_frame(b"\x00") == []
    assert parse_tick_packet(b"\x00" * 12) is None


def test_price_divisor_follows_the_tokens_segment_byte() -> None:
    assert price_divisor(12073986) == 100.0  # NFO (segment 2)
    assert price_divisor(412675) == 10_000_000.0  # CDS (segment 3): USDINR21JUNFUT
    frame = encode_ltp_frame([(412675, 72.755)])
    assert parse_tick_frame(frame)[0].last_price == pytest.approx(72.755)


def test_encoded_frames_read_by_the_unmodified_kiteticker() -> None:
    """The simulator's frames must parse in kiteconnect's own decoder (no reactor needed for this)."""
    from kiteconnect import KiteTicker

    frame = encode_ltp_frame([(12073986, 2528.4), (12074242, 35.15)])
    ticks = KiteTicker("key", "token")._parse_binary(frame)
    assert [(t["instrument_token"], t["last_price"], t["mode"]) for t in ticks] == [
        (12073986, 2528.4, "ltp"),
        (12074242, 35.15, "ltp"),
    ]
    quote_frame = (
        struct.pack(">H", 1) + struct.pack(">H", 44) + encode_tick_packet(12073986, 99.5, mode="quote")
    )
    assert KiteTicker("key", "token")._parse_binary(quote_frame)[0]["last_price"] == 99.5


def test_prices_that_do_not_fit_are_refused() -> None:
    with pytest.raises(ValueError):
        encode_tick_packet(12073986, -1.0)
    with pytest.raises(ValueError):
        encode_tick_packet(412675, 500.0)  # CDS scale: 5e9 does not fit uint32
