"""The simulated exchange as the e2e tests see it: `legguard sim-exchange` in its own process, its
`/_sim/` controls and ledger, a witness of its own order stream, and bounded waits.

Test modules load the fixtures with `pytest_plugins = ["e2e_fixtures"]` and import helpers from here,
`e2e_app` and `e2e_condor`.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any, Self, TypeVar

from sim.kite_server import READY_LINE

T = TypeVar("T")

REPO = Path(__file__).resolve().parents[2]
# Every wait in these tests is bounded by this; generous, because a loaded 2-core machine runs the
# exchange, the service's actor threads, the reactor and the test at once.
WAIT_S = 20.0
POLL_S = 0.02
API_KEY, ACCESS_TOKEN = "e2e_key", "e2e_token"
READY_PREFIX = READY_LINE.split("{", 1)[0]


# --------------------------------------------------------------------------- bounded waits


def wait_for(condition: Callable[[], T | None], what: str, timeout: float = WAIT_S) -> T:
    """The first truthy value of `condition()`, polled until `timeout`.

    Only for state nothing pushes (the service's LMDB store, a file another process writes, an HTTP
    resource): everything the exchange pushes is waited for on its stream instead.
    """
    deadline = time.monotonic() + timeout
    pause = threading.Event()  # never set: a bounded pause between two looks
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{what}: not within {timeout}s")
        pause.wait(POLL_S)


# --------------------------------------------------------------------------- the exchange process


def _pump(stream: IO[str], lines: queue.Queue[str | None]) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)  # end of stream: the process is gone


class SimExchangeProcess:
    """`legguard sim-exchange --port 0` (as `python -m main`), its `/_sim/` controls, its ledger."""

    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        self.port = 0
        self._process: subprocess.Popen[str] | None = None

    @property
    def api_root(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_root(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def start(self) -> Self:
        command = [
            sys.executable, "-m", "main", "sim-exchange", "--port", "0",
            "--api-key", API_KEY, "--access-token", ACCESS_TOKEN,
        ]  # fmt: skip
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        with open(self.log_path, "w") as log:
            self._process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=log, text=True)
        assert self._process.stdout is not None
        lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=_pump, args=(self._process.stdout, lines), daemon=True).start()
        self.port = self._ready_port(lines)
        return self

    def _ready_port(self, lines: queue.Queue[str | None]) -> int:
        deadline = time.monotonic() + WAIT_S
        while True:
            try:
                line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise TimeoutError(f"sim-exchange not ready within {WAIT_S}s; see {self.log_path}") from None
            if line is None:
                raise RuntimeError(f"sim-exchange exited before it was ready:\n{self.log_path.read_text()}")
            if line.startswith(READY_PREFIX):
                return int(line.strip().rsplit("=", 1)[1])

    def stop(self) -> None:
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)  # uvicorn shuts down gracefully on it
            try:
                process.wait(timeout=WAIT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=WAIT_S)
        assert process.stdout is not None
        process.stdout.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_exc: Any) -> None:
        self.stop()

    # ------------------------------------------------------------------ /_sim/ controls

    def admin(self, path: str, body: Mapping[str, Any] | None = None, method: str = "POST") -> Any:
        data = json.dumps(dict(body or {})).encode() if method != "GET" else None
        request = urllib.request.Request(
            f"{self.api_root}{path}", data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=WAIT_S) as response:
            return json.loads(response.read())

    def add_rule(self, **spec: Any) -> int:
        rule_id: int = self.admin("/_sim/rules", spec)["rule_id"]
        return rule_id

    def net_positions(self) -> dict[str, int]:
        """The exchange's own net position per instrument: the truth, never the service's view."""
        positions: dict[str, int] = self.admin("/_sim/ledger", method="GET")["net_positions"]
        return positions

    def working_orders(self) -> list[str]:
        orders: list[str] = self.admin("/_sim/ledger", method="GET")["working_orders"]
        return orders

    def mute_websockets(self) -> int:
        """Every current ticker socket stays open and goes silent: what it is sent is lost."""
        muted: int = self.admin("/_sim/ws/mute")["muted"]
        return muted

    def drop_websockets(self) -> int:
        """Every ticker socket is closed by the server; clients reconnect."""
        dropped: int = self.admin("/_sim/ws/drop")["dropped"]
        return dropped

    def release(self, order_id: str) -> None:
        self.admin("/_sim/release", {"order_id": order_id})


def net_change(before: Mapping[str, int], after: Mapping[str, int], symbols: tuple[str, ...]) -> dict[str, int]:
    return {symbol: after.get(symbol, 0) - before.get(symbol, 0) for symbol in symbols}


# --------------------------------------------------------------------------- the exchange's own stream


class OrderStream:
    """One more client of the exchange's ticker socket, which pushes every order update to every
    socket: what the exchange said, whether or not the service heard it."""

    def __init__(self, ws_root: str) -> None:
        from websockets.sync.client import connect

        self._exit = contextlib.ExitStack()  # websockets wants connect() used as a context manager
        self._ws = self._exit.enter_context(
            connect(f"{ws_root}?api_key={API_KEY}&access_token={ACCESS_TOKEN}", open_timeout=WAIT_S)
        )

    def next_order(self, wanted: Callable[[dict[str, Any]], bool], what: str) -> dict[str, Any]:
        """The first order update (Kite's postback shape) that is `wanted`, skipping the rest and the
        heartbeats; one deadline for the whole search."""
        deadline = time.monotonic() + WAIT_S
        while True:
            try:
                frame = self._ws.recv(timeout=max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                raise TimeoutError(f"{what}: no such order update within {WAIT_S}s") from None
            if isinstance(frame, bytes):
                continue  # heartbeats and ticks
            message = json.loads(frame)
            if message.get("type") == "order" and wanted(message["data"]):
                data: dict[str, Any] = message["data"]
                return data

    def close(self) -> None:
        self._exit.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: Any) -> None:
        self.close()


def is_update(order_id: str | None = None, *, symbol: str | None = None, side: str | None = None,
              status: str) -> Callable[[dict[str, Any]], bool]:  # fmt: skip
    def wanted(data: dict[str, Any]) -> bool:
        return (
            data.get("status") == status
            and (order_id is None or data.get("order_id") == order_id)
            and (symbol is None or data.get("tradingsymbol") == symbol)
            and (side is None or data.get("transaction_type") == side)
        )

    return wanted
