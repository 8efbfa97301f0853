"""Seeded random streams kept apart by purpose.

Each purpose (market, exchange, faults, workload, scheduler) draws from its own stream derived
from the run's seed, so that switching a fault on does not change the market's price path.
"""

from __future__ import annotations

import hashlib
import random


class RandomStreams:
    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._streams: dict[str, random.Random] = {}

    def stream(self, purpose: str) -> random.Random:
        rng = self._streams.get(purpose)
        if rng is None:
            digest = hashlib.sha256(f"{self.seed}:{purpose}".encode()).digest()
            rng = random.Random(int.from_bytes(digest[:8], "big"))
            self._streams[purpose] = rng
        return rng
