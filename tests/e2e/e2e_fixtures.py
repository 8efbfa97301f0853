"""Fixtures for the end-to-end tests: the simulated exchange in its own process, and the service
(the actor system on threads, LMDB in tmp_path) wired to it through the Kite adapter.

Test modules load this as a plugin (`pytest_plugins = ["e2e_fixtures"]`) and never import it.
Fixture names carry an `e2e_` prefix: a plugin's fixtures are visible to the whole session.
The Twisted reactor runs once per process: `e2e_reactor` starts it (or finds it started by the Kite
integration tests) and nothing here stops it; push channels are closed, never stopped.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_app import KiteService, StartService, kite_settings
from e2e_sim import SimExchangeProcess

from api.service import Service, build_broker
from brokers.kite.reactor import ensure_reactor_running
from runtime.clock import SystemClock
from runtime.config import ExecutionConfig


@pytest.fixture(scope="session")
def e2e_reactor() -> None:
    ensure_reactor_running()


@pytest.fixture
def e2e_exchange(tmp_path: Path) -> Iterator[SimExchangeProcess]:
    with SimExchangeProcess(tmp_path / "sim-exchange.log") as exchange:
        yield exchange


@pytest.fixture
def e2e_service(e2e_reactor: None, e2e_exchange: SimExchangeProcess, tmp_path: Path) -> Iterator[StartService]:
    """Start the service against `e2e_exchange`: `e2e_service(execution=ExecutionConfig(...))`; each
    call is a new service with its own LMDB directory."""
    started: list[KiteService] = []

    def start(execution: ExecutionConfig | None = None, watchdog_s: float = 10.0) -> KiteService:
        settings = kite_settings(e2e_exchange, execution, watchdog_s=watchdog_s)
        clock = SystemClock()
        choice = build_broker(settings, clock)  # the instrument dump comes from the exchange over REST
        service = Service(
            settings,
            broker=choice.broker,
            universe=choice.universe,
            data_dir=str(tmp_path / f"lmdb-{len(started)}"),
            clock=clock,
        )
        kite_service = KiteService(service, choice, clock)
        started.append(kite_service)
        kite_service.wait_ready()
        return kite_service

    yield start
    for kite_service in reversed(started):
        kite_service.close()
