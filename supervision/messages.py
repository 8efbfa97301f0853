"""Messages of the supervision protocol."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Restart(StrEnum):
    PERMANENT = "permanent"  # always restarted
    TRANSIENT = "transient"  # restarted only after a failure; a normal exit ends it
    TEMPORARY = "temporary"  # never restarted


class Strategy(StrEnum):
    ONE_FOR_ONE = "one_for_one"
    ONE_FOR_ALL = "one_for_all"
    REST_FOR_ONE = "rest_for_one"


@dataclass(frozen=True)
class ChildSpec:
    address: str
    actor_class: type[Any]
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    restart: Restart = Restart.PERMANENT
    shutdown_timeout_s: float = 5.0
    # Failures of an external resource (a broker connection) restart after a delay that doubles
    # with each consecutive restart, so a dead dependency is not hammered.
    backoff_s: float = 0.0
    backoff_max_s: float = 30.0
    # When set, a failure of this child is not restarted but handed to that address (ChildGaveUp).
    escalate_to: str | None = None


@dataclass(frozen=True)
class StartChild:
    spec: ChildSpec


@dataclass(frozen=True)
class StopChild:
    address: str


@dataclass(frozen=True)
class ChildFailed:
    address: str
    urn: str
    reason: str
    during: str = "receive"  # "start" or "receive"


@dataclass(frozen=True)
class ChildExited:
    address: str
    urn: str


@dataclass(frozen=True)
class ChildGaveUp:
    """A child (usually a supervisor past its restart limit) stopped for good and wants a safe state."""

    address: str
    reason: str


@dataclass(frozen=True)
class RestartChild:
    address: str
    generation: int


@dataclass(frozen=True)
class WhichChildren:
    pass


@dataclass(frozen=True)
class ChildInfo:
    address: str
    actor_class: str
    restart: Restart
    restarts: int
    alive: bool
    is_supervisor: bool


@dataclass(frozen=True)
class Describe:
    """Ask any actor for a summary of its state (introspection)."""


@dataclass(frozen=True)
class Poison:
    """Fault injection: the receiving actor fails as if its handler had raised (drills, tests)."""

    reason: str = "poisoned"
