"""`run_sim_exchange`: the simulated exchange served over the Kite protocol, in its own process.

`legguard sim-exchange --port P` and `python -m sim.kite_server --port P` both end here. The process
owns the exchange (its ledger is the truth the drills check), so it outlives any service process
that is killed and restarted against it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from brokers.port import Broker
from domain.instruments import Instrument
from runtime.config import Settings
from sim.kite_server.app import HEARTBEAT_S, build_app
from sim.kite_server.context import ScenarioControl
from sim.kite_server.runner import LOOPBACK, serve_forever

# Printed on stdout (and flushed) once the port accepts connections: what a parent process waits for.
READY_LINE = "LEGGUARD_SIM_EXCHANGE_READY port={port}"
DEFAULT_FACTORY = "sim.kite_server.exchange:sim_exchange"


@dataclass(frozen=True, slots=True)
class ExchangeFace:
    """What the server serves: a broker, the instruments it lists, how to shut it down, and the
    exchange's scenario controls when it has them."""

    broker: Broker
    instruments: tuple[Instrument, ...]
    close: Callable[[], None] = lambda: None
    control: ScenarioControl | None = None


BrokerFactory = Callable[[int, Settings], ExchangeFace]


def load_factory(spec: str) -> BrokerFactory:
    """`package.module:callable` → the callable (how tests serve a fake broker from a subprocess)."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"broker factory {spec!r} is not of the form 'package.module:callable'")
    factory: BrokerFactory = getattr(importlib.import_module(module_name), attribute)
    return factory


def run_sim_exchange(
    port: int,
    *,
    host: str = LOOPBACK,
    seed: int = 1,
    api_key: str | None = None,
    access_token: str | None = None,
    ready: Callable[[int], None] | None = None,
    settings: Settings | None = None,
    broker_factory: BrokerFactory | str | None = None,
    heartbeat_s: float = HEARTBEAT_S,
) -> int:
    """Serve until SIGINT / SIGTERM and return the exit code. Call from the main thread.

    `port` 0 lets the kernel choose; `ready(port)` is called with the bound port once it serves.
    `api_key` / `access_token` given → only they are accepted (403 TokenException otherwise).
    """
    settings = settings or Settings()
    factory = load_factory(broker_factory or DEFAULT_FACTORY) if not callable(broker_factory) else broker_factory
    face = factory(seed, settings)
    app = build_app(
        face.broker,
        face.instruments,
        rules=settings.rules,
        api_key=api_key,
        access_token=access_token,
        heartbeat_s=heartbeat_s,
        control=face.control,
    )
    try:
        return serve_forever(app, host=host, port=port, ready=ready)
    finally:
        face.close()
