"""KiteBroker → kiteconnect → the Kite-protocol server → SimBroker → the simulated exchange, in real time.

The same path the service takes against `legguard sim-exchange`, here with the server on a thread.
"""

from __future__ import annotations

import urllib.error
from collections.abc import Iterator

import pytest
from kite_support import ACCESS_TOKEN, API_KEY, WAIT_S, Recorder, admin

from brokers.kite import KiteBroker, KitePushChannel
from brokers.port import BrokerRejected, BrokerUnknownOutcome, OrderRequest
from domain.instruments import Instrument, InstrumentKind, InstrumentUniverse
from domain.model import OrderType, Side
from runtime.clock import SystemClock
from runtime.config import KiteConfig, Settings
from sim.kite_server import KiteServerThread, build_app
from sim.kite_server.entry import ExchangeFace
from sim.kite_server.exchange import sim_exchange

pytest_plugins = ["kite_fixtures"]

SEED = 7
HEARTBEAT_S = 0.1


@pytest.fixture
def face() -> Iterator[ExchangeFace]:
    face = sim_exchange(SEED, Settings())
    yield face
    face.close()


@pytest.fixture
def sim_server(face: ExchangeFace) -> Iterator[KiteServerThread]:
    app = build_app(
        face.broker,
        face.instruments,
        heartbeat_s=HEARTBEAT_S,
        control=face.control,
        api_key=API_KEY,
        access_token=ACCESS_TOKEN,
    )
    with KiteServerThread(app) as server:
        yield server


@pytest.fixture
def broker(kite_reactor: None, sim_server: KiteServerThread) -> Iterator[KiteBroker]:
    config = KiteConfig(
        api_key=API_KEY,
        access_token=ACCESS_TOKEN,
        api_root=sim_server.api_root,
        ws_root=sim_server.ws_root,
        timeout_s=5.0,
        watchdog_s=1.0,
    )
    clock = SystemClock()
    push = KitePushChannel(config, clock=clock, reconnect_initial_delay_s=0.05)
    broker = KiteBroker(config, rules=Settings().rules, clock=clock, push=push)
    yield broker
    broker.close()
    clock.close()


def nifty_call(face: ExchangeFace, strike: float) -> Instrument:
    universe = InstrumentUniverse(face.instruments)
    expiry = universe.expiries("NIFTY")[0]
    inst = universe.option("NIFTY", expiry, strike, InstrumentKind.CE)
    assert inst is not None
    return inst


def request(inst: Instrument, tag: str, side: Side, **extra: object) -> OrderRequest:
    fields: dict[str, object] = {
        "tag": tag,
        "tradingsymbol": inst.tradingsymbol,
        "side": side,
        "quantity": inst.lot_size,
        "order_type": OrderType.MARKET,
    }
    fields.update(extra)
    return OrderRequest(**fields)  # type: ignore[arg-type]


def test_call_spread_hedge_first_fills_and_shows_everywhere(
    broker: KiteBroker, face: ExchangeFace, sim_server: KiteServerThread
) -> None:
    protection, risk = nifty_call(face, 24_200.0), nifty_call(face, 24_000.0)
    recorder = Recorder()
    broker.subscribe(recorder, tokens=[risk.instrument_token])
    assert recorder.next_connection() is True

    basket = broker.basket_margins([request(protection, "m1", Side.BUY), request(risk, "m2", Side.SELL)])
    assert basket.final_total < basket.initial_total  # the hedge benefit: why protection goes first

    buy_id = broker.place_order(request(protection, "sp-buy", Side.BUY))
    bought = recorder.update_with(buy_id, "COMPLETE")
    sell_id = broker.place_order(request(risk, "sp-sell", Side.SELL))
    sold = recorder.update_with(sell_id, "COMPLETE")
    assert (bought.filled_quantity, sold.filled_quantity) == (protection.lot_size, risk.lot_size)
    assert [o.status for o in broker.order_history(sell_id)][:2] == [
        "PUT ORDER REQ RECEIVED",
        "VALIDATION PENDING",
    ]

    positions = {p.tradingsymbol: p.quantity for p in broker.positions()}
    assert positions == {protection.tradingsymbol: 65, risk.tradingsymbol: -65}
    assert {t.order_id for t in broker.trades()} == {buy_id, sell_id}
    assert broker.margins().utilised > 0
    ledger = admin(sim_server.api_root, "/_sim/ledger", method="GET")
    assert ledger["net_positions"] == positions  # the exchange's own books agree

    tick = recorder.ticks.get(timeout=WAIT_S)  # the market moves every 0.1 s: ticks keep coming
    assert tick.instrument_token == risk.instrument_token and tick.last_price > 0


def test_exchange_rejection_and_local_refusal(
    broker: KiteBroker, face: ExchangeFace, sim_server: KiteServerThread
) -> None:
    inst = nifty_call(face, 24_000.0)
    recorder = Recorder()
    broker.subscribe(recorder)
    assert recorder.next_connection() is True
    admin(
        sim_server.api_root, "/_sim/rules", {"tag_prefix": "rj", "action": "reject", "message": "RMS: margin"}
    )
    order_id = broker.place_order(request(inst, "rj-1", Side.SELL))
    rejected = recorder.update_with(order_id, "REJECTED")
    assert rejected.status_message == "RMS: margin"
    with pytest.raises(BrokerRejected) as info:  # SL-M on an option never leaves the process
        broker.place_order(request(inst, "slm", Side.BUY, order_type=OrderType.SL_M, trigger_price=500.0))
    assert info.value.kind == "LocalReject"
    with pytest.raises(BrokerRejected) as info:  # the exchange's own input checks arrive as InputException
        broker.place_order(request(inst, "odd", Side.BUY, quantity=inst.lot_size + 1))
    assert info.value.kind == "InputException"


def test_resting_order_modified_and_cancelled(broker: KiteBroker, face: ExchangeFace) -> None:
    inst = nifty_call(face, 24_000.0)
    last = broker.ltp([inst.tradingsymbol])[inst.tradingsymbol]
    low = round(round(last * 0.8 / 0.05) * 0.05, 2)
    recorder = Recorder()
    broker.subscribe(recorder)
    assert recorder.next_connection() is True
    order_id = broker.place_order(request(inst, "rest", Side.BUY, order_type=OrderType.LIMIT, price=low))
    recorder.update_with(order_id, "OPEN")
    broker.modify_order(order_id, price=round(low - 0.05, 2))
    broker.cancel_order(order_id)
    cancelled = recorder.update_with(order_id, "CANCELLED")
    assert cancelled.filled_quantity == 0 and cancelled.price == round(low - 0.05, 2)


def test_dropped_socket_mid_group_then_reconcile(
    broker: KiteBroker, face: ExchangeFace, sim_server: KiteServerThread
) -> None:
    inst = nifty_call(face, 24_100.0)
    recorder = Recorder()
    broker.subscribe(recorder)
    assert recorder.next_connection() is True
    admin(sim_server.api_root, "/_sim/ws/drop")
    assert recorder.next_connection() is False
    order_id = broker.place_order(request(inst, "down-1", Side.BUY))
    assert recorder.next_connection() is True
    # Updates pushed while the socket was down are lost: reconcile from the order book.
    (order,) = broker.order_by_tag("down-1")
    assert order.order_id == order_id
    if order.status != "COMPLETE":  # still in flight: the rest arrives on the new socket
        recorder.update_with(order_id, "COMPLETE")


def test_exchange_unknown_outcomes_resolve_by_tag(
    broker: KiteBroker, face: ExchangeFace, sim_server: KiteServerThread
) -> None:
    """The exchange's own "timeout after accepting" and "lost on the way" reach the adapter as unknown
    outcomes; the order book by tag tells them apart."""
    inst = nifty_call(face, 24_000.0)
    admin(sim_server.api_root, "/_sim/rules", {"tag_prefix": "uo-kept", "action": "unknown_outcome"})
    admin(
        sim_server.api_root,
        "/_sim/rules",
        {"tag_prefix": "uo-lost", "action": "unknown_outcome", "accepted": False},
    )
    for tag in ("uo-kept", "uo-lost"):
        with pytest.raises(BrokerUnknownOutcome) as info:
            broker.place_order(request(inst, tag, Side.BUY))
        assert info.value.code == 504
    assert len(broker.order_by_tag("uo-kept")) == 1  # placed: never send it again
    assert broker.order_by_tag("uo-lost") == []  # never placed: safe to send afresh


def test_held_order_is_released_through_the_control_route(
    broker: KiteBroker, face: ExchangeFace, sim_server: KiteServerThread
) -> None:
    """`/_sim/rules` hold keeps an order OPEN and unfilled; `/_sim/release` lets it match (how a test in
    another process decides when a fill happens)."""
    inst = nifty_call(face, 24_000.0)
    recorder = Recorder()
    broker.subscribe(recorder)
    assert recorder.next_connection() is True
    admin(sim_server.api_root, "/_sim/rules", {"tag_prefix": "held", "action": "hold"})
    order_id = broker.place_order(request(inst, "held-1", Side.BUY))
    recorder.update_with(order_id, "OPEN")
    assert admin(sim_server.api_root, "/_sim/ledger", method="GET")["working_orders"] == [order_id]

    assert admin(sim_server.api_root, "/_sim/release", {"order_id": order_id}) == {"released": order_id}
    assert recorder.update_with(order_id, "COMPLETE").filled_quantity == inst.lot_size
    with pytest.raises(urllib.error.HTTPError) as info:
        admin(sim_server.api_root, "/_sim/release", {"order_id": "no-such-order"})
    assert info.value.code == 404
    info.value.close()
