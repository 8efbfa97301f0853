"""`KiteTicker` and the push channel against the server's WebSocket: updates, ticks, drops, silence.

The Twisted reactor runs once per process (`kite_reactor`, session-wide, never stopped): every
ticker here is connected through `brokers.kite.reactor` and closed with `close()`, never `stop()`.
"""

from __future__ import annotations

import asyncio
import json
import queue
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from kite_fakes import FakeBroker
from kite_support import ACCESS_TOKEN, API_KEY, WAIT_S, Recorder, admin
from kiteconnect import KiteConnect, KiteTicker

from brokers.kite import KiteBroker, KitePushChannel
from brokers.kite.reactor import call_in_reactor_and_wait, connect_ticker
from brokers.port import OrderRequest
from domain.model import OrderType, Side
from runtime.clock import SystemClock
from runtime.config import ExchangeRules, KiteConfig
from sim.kite_server import KiteServerThread
from sim.kite_server.stream import StreamHub, _Client

pytest_plugins = ["kite_fixtures"]

CE = "NIFTY26JAN24000CE"
FAST_RECONNECT_S = 0.05  # Twisted's default first retry is ~2.7 s; tests need not wait for it


@pytest.fixture
def clock() -> Iterator[SystemClock]:
    clock = SystemClock()
    yield clock
    clock.close()


@pytest.fixture
def kite_broker(kite_reactor: None, kite_config: KiteConfig, clock: SystemClock) -> Iterator[KiteBroker]:
    push = KitePushChannel(kite_config, clock=clock, reconnect_initial_delay_s=FAST_RECONNECT_S)
    broker = KiteBroker(kite_config, rules=ExchangeRules(), clock=clock, push=push)
    yield broker
    broker.close()


def market_order(tag: str, quantity: int = 65) -> OrderRequest:
    return OrderRequest(
        tag=tag, tradingsymbol=CE, side=Side.BUY, quantity=quantity, order_type=OrderType.MARKET
    )


def test_unmodified_kiteticker_gets_order_updates_and_ltp_ticks(
    kite_reactor: None, kite_server: KiteServerThread, kite_client: KiteConnect, kite_fake_broker: FakeBroker
) -> None:
    token = kite_fake_broker.instruments[CE].instrument_token
    ticks: queue.Queue[dict[str, Any]] = queue.Queue()
    updates: queue.Queue[dict[str, Any]] = queue.Queue()
    connected = threading.Event()
    kws = KiteTicker(API_KEY, ACCESS_TOKEN, root=kite_server.ws_root)

    def on_connect(ws: KiteTicker, _response: Any) -> None:
        ws.subscribe([token])
        ws.set_mode(ws.MODE_LTP, [token])
        connected.set()

    kws.on_connect = on_connect
    kws.on_ticks = lambda _ws, batch: [ticks.put(t) for t in batch]
    kws.on_order_update = lambda _ws, data: updates.put(data)
    connect_ticker(kws)
    try:
        assert connected.wait(WAIT_S)
        snapshot = ticks.get(timeout=WAIT_S)  # the last price is sent on subscribe, as Kite does
        assert (snapshot["instrument_token"], snapshot["last_price"]) == (token, kite_fake_broker.prices[CE])

        kite_fake_broker.move_price(CE, 123.45)
        while (tick := ticks.get(timeout=WAIT_S))["last_price"] != 123.45:
            pass
        assert (tick["mode"], tick["instrument_token"], tick["tradable"]) == ("ltp", token, True)

        order_id = kite_client.place_order(
            variety="regular",
            exchange="NFO",
            tradingsymbol=CE,
            transaction_type="BUY",
            quantity=65,
            product="NRML",
            order_type="MARKET",
            market_protection=-1,
            tag="ws-test",
        )
        seen = []
        while not seen or seen[-1]["status"] != "COMPLETE":
            seen.append(updates.get(timeout=WAIT_S))
        assert [u["status"] for u in seen] == ["PUT ORDER REQ RECEIVED", "OPEN", "COMPLETE"]
        assert {u["order_id"] for u in seen} == {order_id}
        assert seen[-1]["checksum"] == "" and seen[-1]["tag"] == "ws-test"
        assert seen[-1]["average_price"] == 123.45 and seen[-1]["filled_quantity"] == 65
    finally:
        call_in_reactor_and_wait(kws.close)


def test_push_channel_delivers_connection_ticks_and_updates(
    kite_broker: KiteBroker, kite_fake_broker: FakeBroker
) -> None:
    token = kite_fake_broker.instruments[CE].instrument_token
    recorder = Recorder()
    kite_broker.subscribe(recorder, tokens=[token])
    assert recorder.next_connection() is True
    recorder.tick_at(token, kite_fake_broker.prices[CE])

    order_id = kite_broker.place_order(market_order("push-1"))
    complete = recorder.update_with(order_id, "COMPLETE")
    assert (complete.tag, complete.filled_quantity, complete.market_protection) == ("push-1", 65, -1.0)

    other = kite_fake_broker.instruments["NIFTY26JAN23900PE"].instrument_token
    kite_broker.subscribe_ticks([other])
    recorder.tick_at(other, kite_fake_broker.prices["NIFTY26JAN23900PE"])
    kite_fake_broker.move_price("NIFTY26JAN23900PE", 77.7)
    recorder.tick_at(other, 77.7)


def test_dropped_websocket_reconnects_and_says_so(
    kite_broker: KiteBroker, kite_server: KiteServerThread, kite_fake_broker: FakeBroker
) -> None:
    token = kite_fake_broker.instruments[CE].instrument_token
    recorder = Recorder()
    kite_broker.subscribe(recorder, tokens=[token])
    assert recorder.next_connection() is True

    assert admin(kite_server.api_root, "/_sim/ws/drop") == {"dropped": 1}
    assert recorder.next_connection() is False
    # An order placed while the socket is down: its updates may be lost, the book still has it.
    order_id = kite_broker.place_order(market_order("while-down"))
    assert recorder.next_connection() is True  # KiteTicker's own reconnect, signalled
    (order,) = kite_broker.order_by_tag("while-down")
    assert (order.order_id, order.status) == (order_id, "COMPLETE")

    kite_fake_broker.move_price(CE, 101.5)  # the subscription was restored on reconnect
    recorder.tick_at(token, 101.5)


def test_watchdog_reconnects_a_silent_socket(
    kite_reactor: None, kite_server: KiteServerThread, kite_fake_broker: FakeBroker, clock: SystemClock
) -> None:
    config = KiteConfig(
        api_key=API_KEY,
        access_token=ACCESS_TOKEN,
        api_root=kite_server.api_root,
        ws_root=kite_server.ws_root,
        timeout_s=2.0,
        watchdog_s=0.5,
    )
    push = KitePushChannel(config, clock=clock, reconnect_initial_delay_s=FAST_RECONNECT_S)
    recorder = Recorder()
    push.start(recorder, [kite_fake_broker.instruments[CE].instrument_token])
    try:
        assert recorder.next_connection() is True
        # Heartbeats every 0.1 s keep a 0.5 s watchdog quiet: no spurious reconnect.
        assert admin(kite_server.api_root, "/_sim/health", method="GET")["websockets"] == 1
        assert admin(kite_server.api_root, "/_sim/ws/mute") == {"muted": 1}  # open, but never a frame
        assert recorder.next_connection() is False
        assert recorder.next_connection() is True
        assert push.connects == 2
        kite_fake_broker.move_price(CE, 99.9)
        recorder.tick_at(kite_fake_broker.instruments[CE].instrument_token, 99.9)
    finally:
        push.close()


def test_a_restarted_owner_resubscribes_and_hears_the_channel_is_up(
    kite_broker: KiteBroker, kite_fake_broker: FakeBroker
) -> None:
    """A restarted gateway subscribes again with a new listener: it replaces the old one and is told
    at once that the socket is up (so it reconciles), without a second socket."""
    first, second = Recorder(), Recorder()
    kite_broker.subscribe(first)
    assert first.next_connection() is True
    kite_broker.subscribe(second)
    assert second.next_connection() is True

    order_id = kite_broker.place_order(market_order("after-restart"))
    second.update_with(order_id, "COMPLETE")
    assert first.updates.empty()


def test_a_subscription_cut_short_by_its_client_leaving_is_not_taken_as_done() -> None:
    """A client that subscribes and is gone before the server has told the broker: the next
    subscriber's request must still tell it (else that token never ticks again). Driven through the
    hub's own request handler, because only a cancellation at this point shows it."""
    told: list[list[int]] = []
    hub = StreamHub(
        heartbeat_s=1.0,
        snapshot=lambda _tokens: {},
        watch_tokens=lambda t: told.append(sorted(t)),
        token_of=lambda _s: 0,
    )
    subscribe = json.dumps({"a": "subscribe", "v": [7]})

    async def scenario() -> None:
        leaving, staying = _Client(websocket=None), _Client(websocket=None)  # type: ignore[arg-type]
        hub._clients.add(leaving)
        request = asyncio.ensure_future(hub._handle_request(leaving, subscribe))
        await asyncio.sleep(0)  # the request runs to its first suspension, before the broker is told
        request.cancel()  # what `serve` does to a reader whose socket closed
        await asyncio.gather(request, return_exceptions=True)
        hub._clients.discard(leaving)
        hub._clients.add(staying)
        await hub._handle_request(staying, subscribe)

    asyncio.run(scenario())
    assert told and told[-1] == [7]
