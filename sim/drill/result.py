"""What one simulation seed leaves behind: its verdict, its trace hash, and how to replay it."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import Any

from sim.drill.coverage import Coverage


@dataclass
class SeedResult:
    seed: int
    violations: list[str]
    errors: list[str]  # the run itself went wrong: deadlock, step limit, unexpected actor failures
    trace_hash: str
    exchange_digest: str
    groups: dict[str, str]  # group id -> final state / outcome
    process_crashes: int
    actor_crashes: int
    virtual_s: float
    steps: int
    coverage: Coverage = field(default_factory=Coverage)
    mix_env: str = ""  # LEGGUARD_DRILL_MIX for a replay ("" for the full model)

    @property
    def ok(self) -> bool:
        return not self.violations and not self.errors

    def replay_command(self) -> str:
        env = f"LEGGUARD_DRILL_MIX={shlex.quote(self.mix_env)} " if self.mix_env else ""
        return f"{env}legguard drill --seeds 1 --first-seed {self.seed}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "ok": self.ok,
            "violations": self.violations,
            "errors": self.errors,
            "replay": self.replay_command(),
            "trace_hash": self.trace_hash,
            "exchange_digest": self.exchange_digest,
            "groups": self.groups,
            "process_crashes": self.process_crashes,
            "actor_crashes": self.actor_crashes,
            "virtual_s": round(self.virtual_s, 3),
            "steps": self.steps,
        }
