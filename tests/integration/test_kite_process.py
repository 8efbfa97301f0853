"""The Kite-protocol server as its own process (`python -m sim.kite_server`), as drills run it."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import pytest
from kite_support import WAIT_S, Recorder, admin
from kiteconnect import KiteConnect
from kiteconnect import exceptions as kite

from brokers.kite import KiteBroker, KitePushChannel
from brokers.port import OrderRequest
from domain.instruments import InstrumentKind, InstrumentUniverse
from domain.model import OrderType, Side
from runtime.clock import SystemClock
from runtime.config import ExchangeRules, KiteConfig
from sim.kite_server import READY_LINE

pytest_plugins = ["kite_fixtures"]

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
READY_PREFIX = READY_LINE.split("{", 1)[0]


def _pump(stream: IO[str], lines: queue.Queue[str]) -> None:
    for line in stream:
        lines.put(line)


def _wait_ready(lines: queue.Queue[str]) -> int:
    """The port from the server's readiness line; bounded by WAIT_S (the queue raises Empty)."""
    while True:
        line = lines.get(timeout=WAIT_S)
        if line.startswith(READY_PREFIX):
            return int(line.strip().rsplit("=", 1)[1])


Launch = Callable[..., tuple[subprocess.Popen[str], int]]


@pytest.fixture
def launch(tmp_path: Path) -> Iterator[Launch]:
    """Start `python -m sim.kite_server --port 0 ...`; yields a launcher, kills leftovers at the end."""
    started: list[subprocess.Popen[str]] = []

    def start(*extra: str) -> tuple[subprocess.Popen[str], int]:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(HERE)])}
        command = [sys.executable, "-m", "sim.kite_server", "--port", "0", "--heartbeat-s", "0.1", *extra]
        with open(tmp_path / f"server-{len(started)}.log", "w") as log:
            process = subprocess.Popen(
                command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=log, text=True
            )
        started.append(process)
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=_pump, args=(process.stdout, lines), daemon=True).start()
        return process, _wait_ready(lines)

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=WAIT_S)
        assert process.stdout is not None
        process.stdout.close()


def test_separate_process_serves_kite_and_stops_on_sigterm(kite_reactor: None, launch: Launch) -> None:
    process, port = launch("--broker-factory", "kite_fakes:fake_exchange")
    root = f"http://127.0.0.1:{port}"
    client = KiteConnect("key", access_token="token", root=root, timeout=5)
    clock = SystemClock()
    config = KiteConfig(
        api_key="key", access_token="token", api_root=root, ws_root=f"ws://127.0.0.1:{port}/ws"
    )
    push = KitePushChannel(config, clock=clock, reconnect_initial_delay_s=0.05)
    recorder = Recorder()
    try:
        push.start(recorder)
        assert recorder.next_connection() is True
        order_id = client.place_order(
            variety="regular",
            exchange="NFO",
            tradingsymbol="NIFTY26JAN24000CE",
            transaction_type="SELL",
            quantity=65,
            product="NRML",
            order_type="MARKET",
            market_protection=-1,
            tag="proc-1",
        )
        assert recorder.update_with(order_id, "COMPLETE").tag == "proc-1"

        assert admin(root, "/_sim/ws/drop") == {"dropped": 1}
        assert recorder.next_connection() is False
        assert recorder.next_connection() is True
        assert [o["order_id"] for o in client.orders()] == [order_id]  # the book outlived the socket
    finally:
        push.close()
        client.reqsession.close()
        clock.close()

    # uvicorn shuts down gracefully, then re-raises the signal so the parent sees how it ended.
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=WAIT_S) == -signal.SIGTERM


def test_simulated_exchange_process_with_credentials(kite_reactor: None, launch: Launch) -> None:
    """The default exchange (SimBroker, real time, loopback latency) as `legguard sim-exchange` runs it."""
    process, port = launch("--seed", "3", "--api-key", "key", "--access-token", "token")
    root, ws_root = f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}/ws"
    clock = SystemClock()
    config = KiteConfig(api_key="key", access_token="token", api_root=root, ws_root=ws_root, timeout_s=5.0)
    broker = KiteBroker(
        config,
        rules=ExchangeRules(),
        clock=clock,
        push=KitePushChannel(config, clock=clock, reconnect_initial_delay_s=0.05),
    )
    intruder = KiteConnect("key", access_token="stolen", root=root, timeout=5)
    recorder = Recorder()
    try:
        with pytest.raises(kite.TokenException):
            intruder.orders()
        universe = InstrumentUniverse(broker.instruments({"NIFTY": 1800, "BANKNIFTY": 600}))
        call = universe.option("NIFTY", universe.expiries("NIFTY")[0], 24_000.0, InstrumentKind.CE)
        assert call is not None and call.lot_size == 65 and call.freeze_quantity == 1800
        broker.subscribe(recorder, tokens=[call.instrument_token])
        assert recorder.next_connection() is True
        order_id = broker.place_order(
            OrderRequest(
                tag="proc-sim",
                tradingsymbol=call.tradingsymbol,
                side=Side.BUY,
                quantity=65,
                order_type=OrderType.MARKET,
            )
        )
        assert recorder.update_with(order_id, "COMPLETE").filled_quantity == 65
        assert admin(root, "/_sim/ledger", method="GET")["net_positions"] == {call.tradingsymbol: 65}
    finally:
        broker.close()
        intruder.reqsession.close()
        clock.close()
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=WAIT_S) == -signal.SIGTERM
