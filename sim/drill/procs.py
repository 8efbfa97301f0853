"""Real processes for the process drill: `legguard sim-exchange` and `legguard serve --broker kite`.

Every wait is bounded and waits on something the other side produces (the exchange's readiness line,
the service's ready file, an HTTP answer), never on a fixed sleep.
"""

from __future__ import annotations

import http.client
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO, Any

from runtime.clock import SystemClock

READY_PREFIX = "LEGGUARD_SIM_EXCHANGE_READY port="
START_TIMEOUT_S = 20.0
API_KEY = "drill-key"
ACCESS_TOKEN = "drill-token"


class DrillError(RuntimeError):
    """The drill could not do what it had to (a process did not start): not an invariant violation."""


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "main", *args]


def _environment() -> dict[str, str]:
    root = str(Path(__file__).resolve().parents[2])
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": root + (os.pathsep + path if path else "")}


def _pump(stream: IO[str], lines: queue.Queue[str]) -> None:
    for line in stream:
        lines.put(line)


class ExchangeProcess:
    """`legguard sim-exchange --port 0` in its own process; it outlives every service it serves."""

    def __init__(self, seed: int, workdir: Path) -> None:
        self.log_path = workdir / "sim-exchange.log"
        with open(self.log_path, "w") as log:
            self.process = subprocess.Popen(
                _command(
                    "sim-exchange",
                    "--port",
                    "0",
                    "--seed",
                    str(seed),
                    "--api-key",
                    API_KEY,
                    "--access-token",
                    ACCESS_TOKEN,
                ),
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
                env=_environment(),
            )
        lines: queue.Queue[str] = queue.Queue()
        assert self.process.stdout is not None
        threading.Thread(target=_pump, args=(self.process.stdout, lines), daemon=True).start()
        self.port = self._wait_ready(lines)

    def _wait_ready(self, lines: queue.Queue[str]) -> int:
        clock = SystemClock()
        deadline = clock.monotonic() + START_TIMEOUT_S
        try:
            while True:
                try:
                    line = lines.get(timeout=max(0.01, deadline - clock.monotonic()))
                except queue.Empty:
                    message = f"sim-exchange did not start within {START_TIMEOUT_S}s (see {self.log_path})"
                    raise DrillError(message) from None
                if line.startswith(READY_PREFIX):
                    return int(line.strip()[len(READY_PREFIX) :])
        finally:
            clock.close()

    @property
    def api_root(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_root(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10.0)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10.0)
        if self.process.stdout is not None:
            self.process.stdout.close()


class ServiceProcess:
    """One incarnation of `legguard serve --broker kite` over a data directory."""

    def __init__(self, exchange: ExchangeProcess, data_dir: Path, workdir: Path, incarnation: int) -> None:
        self.ready_file = workdir / f"ready-{incarnation}"
        self.log_path = workdir / f"service-{incarnation}.log"
        with open(self.log_path, "w") as log:
            self.process = subprocess.Popen(
                _command(
                    "serve",
                    "--broker",
                    "kite",
                    "--api-root",
                    exchange.api_root,
                    "--ws-root",
                    exchange.ws_root,
                    "--api-key",
                    API_KEY,
                    "--access-token",
                    ACCESS_TOKEN,
                    "--data-dir",
                    str(data_dir),
                    "--port",
                    "0",
                    "--ready-file",
                    str(self.ready_file),
                    "--log-json",
                ),
                stdout=subprocess.DEVNULL,
                stderr=log,
                env=_environment(),
            )
        self.port = 0

    def wait_ready(self, wake: threading.Event, timeout: float = START_TIMEOUT_S) -> int:
        """The API port once the ready file names it; `wake` is only waited on between looks."""
        clock = SystemClock()
        deadline = clock.monotonic() + timeout
        try:
            while clock.monotonic() < deadline:
                if self.process.poll() is not None:
                    code = self.process.returncode
                    raise DrillError(f"the service exited with {code} while starting (see {self.log_path})")
                text = self.ready_file.read_text().strip() if self.ready_file.exists() else ""
                if text:
                    self.port = int(text)
                    return self.port
                wake.wait(0.02)
        finally:
            clock.close()
        raise DrillError(f"the service did not start within {timeout}s (see {self.log_path})")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def kill(self) -> None:
        """SIGKILL: no handler runs, nothing is flushed; LMDB's last committed transaction is what stays."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10.0)

    def terminate(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20.0)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10.0)


def http_json(method: str, url: str, body: Any = None, timeout: float = 10.0) -> tuple[int, Any]:
    """(status, decoded JSON body); raises OSError when nothing answered (refused, reset, timed out)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        payload = exc.read()
        try:
            return exc.code, json.loads(payload or b"null")
        except ValueError:
            return exc.code, {"raw": payload.decode(errors="replace")}
    except http.client.HTTPException as exc:  # a connection cut mid-answer (the service was killed)
        raise ConnectionError(repr(exc)) from exc
