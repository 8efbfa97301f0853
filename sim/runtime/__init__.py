"""The deterministic actor runtime: legguard's pykka actors on greenlets, one seeded scheduler.

`SimRuntime` implements `runtime.actors.ActorRuntime`, as `ThreadRuntime` does for the service.
"""

from sim.runtime._errors import DeadlockError, ProcessCrashed, RuntimeStepLimit, SimRuntimeError
from sim.runtime._future import SimFuture
from sim.runtime._runtime import MARKET_OPEN_2026_11_03, SimRuntime

__all__ = [
    "MARKET_OPEN_2026_11_03",
    "DeadlockError",
    "ProcessCrashed",
    "RuntimeStepLimit",
    "SimFuture",
    "SimRuntime",
    "SimRuntimeError",
]
