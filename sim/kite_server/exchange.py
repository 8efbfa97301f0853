"""The default exchange behind `run_sim_exchange`: sim's SimBroker in real time."""

from __future__ import annotations

from runtime.config import Settings
from sim.kite_server.entry import ExchangeFace


def sim_exchange(seed: int, settings: Settings) -> ExchangeFace:
    raise NotImplementedError("SimBroker is not built yet (sim/broker.py)")
