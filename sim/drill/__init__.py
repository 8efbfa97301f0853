"""Drills: the fault model of RELIABILITY.md thrown at the real actor system, checked by invariants.

- `run_seed(seed)` / `run_seeds(first, count)`: deterministic simulation seeds (`legguard drill --seeds N`);
- `run_process_drill(kills, seed)`: SIGKILLs of a real `legguard serve` against `legguard sim-exchange`
  (`legguard drill --process --kills K`);
- `run_actor_kill_drill(kills, seed)`: Poison to random actors of a running threaded service
  (`legguard drill --actor-kills N`).

Each returns a result whose `violations` must be empty; a failing seed carries the command that replays it.
"""

from sim.drill.actor_kills import ActorKillResult, run_actor_kill_drill
from sim.drill.process import ProcessDrillResult, run_process_drill
from sim.drill.runner import RunSummary, run_seeds
from sim.drill.seed import SeedResult, run_seed

__all__ = [
    "ActorKillResult",
    "ProcessDrillResult",
    "RunSummary",
    "SeedResult",
    "run_actor_kill_drill",
    "run_process_drill",
    "run_seed",
    "run_seeds",
]
