"""The Kite-protocol server as its own process (`python -m sim.kite_server`), as drills run it."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest
from kite_fixtures import WAIT_S, Recorder, admin, kite_reactor  # noqa: F401
from kiteconnect import KiteConnect

from brokers.kite import KitePushChannel
from runtime.clock import SystemClock
from runtime.config import KiteConfig
from sim.kite_server import READY_LINE

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


@pytest.fixture
def server_process(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], int]]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(HERE)])}
    command = [
        sys.executable, "-m", "sim.kite_server", "--port", "0", "--heartbeat-s", "0.1",
        "--broker-factory", "kite_fakes:fake_exchange",
    ]
    with open(tmp_path / "server.log", "w") as log:
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=log, text=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_pump, args=(process.stdout, lines), daemon=True).start()
    try:
        yield process, _wait_ready(lines)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=WAIT_S)
        assert process.stdout is not None
        process.stdout.close()


def test_separate_process_serves_kite_and_stops_on_sigterm(
    kite_reactor: None, server_process: tuple[subprocess.Popen[str], int]
) -> None:
    process, port = server_process
    root = f"http://127.0.0.1:{port}"
    client = KiteConnect("key", access_token="token", root=root, timeout=5)
    clock = SystemClock()
    config = KiteConfig(api_key="key", access_token="token", api_root=root, ws_root=f"ws://127.0.0.1:{port}/ws")
    push = KitePushChannel(config, clock=clock, reconnect_initial_delay_s=0.05)
    recorder = Recorder()
    try:
        push.start(recorder)
        assert recorder.next_connection() is True
        order_id = client.place_order(
            variety="regular", exchange="NFO", tradingsymbol="NIFTY26JAN24000CE", transaction_type="SELL",
            quantity=65, product="NRML", order_type="MARKET", market_protection=-1, tag="proc-1",
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
