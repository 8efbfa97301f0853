"""Drills: the fault model of RELIABILITY.md thrown at the real actor system, checked by invariants.

- `run_seed(seed)` / `run_seeds(first, count)`: deterministic simulation seeds (`legguard drill --seeds N`);
- `run_process_drill(kills, seed)`: SIGKILLs of a real `legguard serve` against `legguard sim-exchange`
  (`legguard drill --process --kills K`);
- `run_actor_kill_drill(kills, seed)`: Poison to random actors of a running threaded service
  (`legguard drill --actor-kills N`).

Each returns a result whose `violations` must be empty; a failing seed carries the command that replays
it. Submodules are imported by name (`sim.drill.seed`, ...): importing this package starts nothing.
"""
