"""What every actor receives at construction: the injected services and its place in the tree."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from runtime.faults import FaultPlan, NoFaults

if TYPE_CHECKING:
    from domain.instruments import InstrumentUniverse
    from runtime.actors import ActorRuntime
    from runtime.clock import Clock
    from runtime.config import Settings
    from runtime.ids import IdGen
    from storage.store import Store
    from supervision.directory import Directory


@dataclass(frozen=True)
class ActorContext:
    runtime: ActorRuntime
    settings: Settings
    directory: Directory
    ids: IdGen
    store: Store
    universe: InstrumentUniverse
    faults: FaultPlan = field(default_factory=NoFaults)
    # Extra collaborators by name (the broker for the gateway, alert sinks, bench probes).
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def clock(self) -> Clock:
        return self.runtime.clock

    def tell(self, address: str, message: Any) -> bool:
        return self.directory.tell(address, message)
