"""The service as the e2e tests run it: in-process (the actor system on threads, LMDB in tmp_path)
wired with the Kite adapter, or as `legguard serve --broker kite` in its own process; and its view of
a group, read as the API reads it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from e2e_condor import IronCondor, OptionChain, nifty_chain
from e2e_sim import ACCESS_TOKEN, API_KEY, REPO, WAIT_S, SimExchangeProcess, wait_for

from api.service import BrokerChoice, Service
from brokers.kite import KiteBroker, KitePushChannel
from domain.instruments import InstrumentUniverse
from runtime.clock import SystemClock
from runtime.config import ExecutionConfig, KiteConfig, Settings


def kite_settings(
    exchange: SimExchangeProcess, execution: ExecutionConfig | None = None, *, watchdog_s: float = 10.0
) -> Settings:
    """What `legguard serve --broker kite --api-root ... --ws-root ...` builds, pointed at `exchange`."""
    kite = KiteConfig(
        api_key=API_KEY,
        access_token=ACCESS_TOKEN,
        api_root=exchange.api_root,
        ws_root=exchange.ws_root,
        timeout_s=5.0,
        # Well above the exchange's 1 s heartbeat even on a loaded machine.
        watchdog_s=watchdog_s,
    )
    return Settings(broker="kite", kite=kite, execution=execution or ExecutionConfig())


@dataclass
class KiteService:
    """The service as `legguard serve --broker kite` wires it, minus HTTP."""

    service: Service
    choice: BrokerChoice
    clock: SystemClock
    closed: bool = False
    chain: OptionChain | None = None

    @property
    def broker(self) -> KiteBroker:
        broker: KiteBroker = self.choice.broker
        return broker

    @property
    def push(self) -> KitePushChannel:
        return self.broker.push

    def wait_ready(self) -> None:
        """Risk is up and not recovering, and the push channel is connected.

        `Service.wait_recovered()` alone is not enough: it reads a risk actor that has not started
        yet as "not recovering", and a group submitted before risk registers is a dead letter.
        """

        def ready() -> bool:
            risk = self.service.system.describe("risk")
            return bool(self.push.connected and risk is not None and not risk.get("recovering"))

        wait_for(ready, "service ready (risk started, ticker connected)")

    def condor(self, *, short_steps: int, wing_steps: int) -> IronCondor:
        if self.chain is None:  # read once: every condor of a test is placed around the same money
            self.chain = nifty_chain(self.choice.universe, self.broker.ltp)
        return self.chain.condor(short_steps=short_steps, wing_steps=wing_steps)

    def submit(self, payload: dict[str, Any]) -> str:
        group_id: str = self.service.submit_and_wait(payload, WAIT_S).group_id
        return group_id

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            self.service.close()
        finally:
            try:
                self.choice.close()
            finally:
                self.clock.close()


StartService = Callable[..., KiteService]


def exchange_condor(exchange: SimExchangeProcess, *, short_steps: int, wing_steps: int) -> IronCondor:
    """A condor picked from the exchange's chain over REST alone (no socket, no actors)."""
    settings = kite_settings(exchange)
    clock = SystemClock()
    broker = KiteBroker(settings.kite, rules=settings.rules, clock=clock)
    try:
        freeze = {u.name: u.freeze_quantity for u in settings.underlyings}
        universe = InstrumentUniverse(broker.instruments(freeze))
        return nifty_chain(universe, broker.ltp).condor(short_steps=short_steps, wing_steps=wing_steps)
    finally:
        broker.close()
        clock.close()


def http_json(url: str, body: Mapping[str, Any] | None = None) -> tuple[int, Any]:
    """(status, JSON body) of a GET, or of a POST when `body` is given; error statuses included."""
    data = json.dumps(dict(body)).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=WAIT_S) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, json.loads(exc.read() or b"null")


class ServeProcess:
    """`legguard serve --broker kite` (as `python -m main`) against a sim-exchange, on an ephemeral port."""

    def __init__(self, exchange: SimExchangeProcess, workdir: Path) -> None:
        self.exchange = exchange
        self.workdir = workdir
        self.log_path = workdir / "serve.log"
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Self:
        ready_file = self.workdir / "serve.port"
        command = [
            sys.executable, "-m", "main", "serve", "--broker", "kite",
            "--api-root", self.exchange.api_root, "--ws-root", self.exchange.ws_root,
            "--api-key", API_KEY, "--access-token", ACCESS_TOKEN,
            "--data-dir", str(self.workdir / "lmdb"), "--host", "127.0.0.1", "--port", "0",
            "--ready-file", str(ready_file), "--log-json",
        ]  # fmt: skip
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        with open(self.log_path, "w") as log:
            self._process = subprocess.Popen(
                command, cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )

        def port() -> int | None:
            if self._process is not None and self._process.poll() is not None:
                raise RuntimeError(f"legguard serve exited early:\n{self.log_path.read_text()}")
            text = ready_file.read_text().strip() if ready_file.exists() else ""
            return int(text) if text.isdigit() else None  # written in place: it may be empty for a moment

        self.port = wait_for(port, f"legguard serve ready file; see {self.log_path}")
        return self

    def wait_trading(self) -> None:
        """The API answers and risk neither recovers nor is missing (its trading state is known)."""

        def trading() -> bool:
            status, health = http_json(f"{self.root}/v1/health")
            return status == 200 and health["trading_state"] is not None and not health["recovering"]

        wait_for(trading, "legguard serve trading")

    def stop(self) -> int | None:
        process = self._process
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                return process.wait(timeout=WAIT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=WAIT_S)
                return None
        return process.returncode

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_exc: Any) -> None:
        self.stop()


def settled_view(store: Any, group_id: str) -> dict[str, Any]:
    """The group as the API shows it, once it has settled (read from the store, as the API reads)."""
    from api.views import group_view

    last: list[dict[str, Any]] = []

    def settled() -> dict[str, Any] | None:
        view = group_view(store, group_id)
        if view is None:
            return None
        last[:] = [view]
        return view if view["settled"] else None

    try:
        return wait_for(settled, f"group {group_id} settled")
    except TimeoutError as exc:
        raise TimeoutError(f"{exc}; last seen:\n{describe_view(last[0]) if last else 'nothing'}") from None


def describe_view(view: Mapping[str, Any] | None) -> str:
    """A one-line-per-leg summary for assertion messages."""
    if not view:
        return "no such group in the store"
    lines = [f"{view['group_id']} {view['state']} {view['outcome']} ({view['failure_reason']})"]
    for leg in view["legs"]:
        orders = ", ".join(
            f"{o['purpose']} {o['side']} {o['filled']}/{o['quantity']} {o['state']}" for o in leg["orders"]
        )
        lines.append(f"  {leg['tradingsymbol']} {leg['side']} {leg['state']} filled {leg['filled']} "
                     f"reversed {leg['reversed']}: {orders}")  # fmt: skip
    return "\n".join(lines)
