"""Services injected into every actor: clock and timers, random streams, ids, config, logging.

Actors never read the wall clock, draw random numbers, mint uuids or start threads themselves;
they receive these through their constructors so that the same actor classes run threaded in the
service and deterministically in the simulator.
"""

from runtime.clock import Clock, SystemClock, Timer
from runtime.ids import IdGen
from runtime.rng import RandomStreams

__all__ = ["Clock", "IdGen", "RandomStreams", "SystemClock", "Timer"]
