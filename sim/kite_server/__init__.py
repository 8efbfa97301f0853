"""The Kite-protocol server: any Broker (SimBroker in practice) served the way Kite serves an account.

REST at `http://HOST:PORT/` (KITE.md's routes, Kite's envelopes), the ticker at `ws://HOST:PORT/ws`,
test controls at `/_sim/`. The unmodified `kiteconnect` client and `KiteTicker` talk to it.

- `build_app(broker, instruments, ...)`: the Starlette app over a Broker.
- `KiteServerThread(app).start()`: serve it from a thread of this process (tests).
- `run_sim_exchange(port, ...)`: the simulated exchange in its own process (`legguard sim-exchange`,
  `python -m sim.kite_server`), so that it outlives a killed service.
"""

from sim.kite_server.app import build_app
from sim.kite_server.entry import READY_LINE, run_sim_exchange
from sim.kite_server.faults import Fault, FaultKind, FaultPlan
from sim.kite_server.runner import KiteServerThread

__all__ = [
    "READY_LINE",
    "Fault",
    "FaultKind",
    "FaultPlan",
    "KiteServerThread",
    "build_app",
    "run_sim_exchange",
]
