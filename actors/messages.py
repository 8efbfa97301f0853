"""Messages between legguard's actors.

Commands are imperative, events past tense. Every message is an immutable value; ids travel in the
message (the correlation id is the group id for everything a group causes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from brokers.port import OrderRequest
from domain.execution import ChildRecord, LegProgress
from domain.messages import OrderUpdate, Tick
from domain.model import GroupSpec

# --------------------------------------------------------------------------- writer


@dataclass(frozen=True)
class Commit:
    """Make `batch` durable, then deliver each (address, message) in `then`, in order.

    Delivering the follow-ups from the writer, after the commit, is what makes "durable before
    external" structural: an order can only reach the gateway once its intent is on disk.
    """

    batch: Any  # storage.store.Batch
    then: tuple[tuple[str, Any], ...] = ()
    reply_to: str | None = None  # gets CommitFailed if the commit fails
    future: Any = None  # a pykka Future set with the CommitResult (callers outside actors)


@dataclass(frozen=True)
class Flush:
    pass


@dataclass(frozen=True)
class Barrier:
    """Answered once everything queued before it is durable (a restarted actor reads after this).

    Sent through the directory with a future rather than asked of a ref: if the writer is itself
    restarting, the barrier is held for its successor instead of failing with the dead instance."""

    future: Any = None


@dataclass(frozen=True)
class CommitFailed:
    reason: str
    batch: Any


# --------------------------------------------------------------------------- gateway


@dataclass(frozen=True)
class PlaceOrder:
    child_address: str
    request: OrderRequest
    emergency: bool = False
    correlation_id: str = ""


@dataclass(frozen=True)
class CancelOrder:
    child_address: str
    order_id: str
    emergency: bool = False
    variety: str = "regular"


@dataclass(frozen=True)
class ModifyOrder:
    child_address: str
    order_id: str
    price: float | None = None
    trigger_price: float | None = None
    quantity: int | None = None
    order_type: str | None = None


@dataclass(frozen=True)
class LookupTag:
    """Find the broker's order for an intent by its tag (after an unknown outcome, or on restart)."""

    child_address: str
    tag: str


@dataclass(frozen=True)
class LookupOrder:
    child_address: str
    order_id: str


@dataclass(frozen=True)
class Route:
    """Send updates for this tag (and its order, once known) to this address."""

    tag: str
    address: str


@dataclass(frozen=True)
class FetchBook:
    future: Any  # set with list[OrderUpdate]


@dataclass(frozen=True)
class BrokerRead:
    """A read of the broker (margins, basket margins, LTP, positions, the book) through the gateway,
    the only caller of the broker. The future is set with the result or the error."""

    method: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    future: Any = None


@dataclass(frozen=True)
class SubscribeTicks:
    tokens: tuple[int, ...]


@dataclass(frozen=True)
class MarketTick:
    """A validated last price, fanned out by the market actor to who asked for it."""

    instrument_token: int
    tradingsymbol: str
    last_price: float
    ts: float


@dataclass(frozen=True)
class WatchTokens:
    address: str
    tokens: tuple[int, ...]


@dataclass(frozen=True)
class UnwatchTokens:
    address: str


@dataclass(frozen=True)
class HedgeExposure:
    """From the exposure monitor: the group is past its interim delta limit; hedge now."""

    tradingsymbol: str
    side: str
    quantity: int
    delta: float
    reason: str


@dataclass(frozen=True)
class BrokerOrderUpdate:
    update: OrderUpdate


@dataclass(frozen=True)
class BrokerTick:
    tick: Tick


@dataclass(frozen=True)
class BrokerConnection:
    connected: bool


@dataclass(frozen=True)
class DrainQueue:
    pass


@dataclass(frozen=True)
class BrokerStateChanged:
    """Told to the risk actor: while the broker is reconnecting or reconciling, no new risk."""

    reconciling: bool


# gateway → child


@dataclass(frozen=True)
class OrderSent:
    tag: str
    order_id: str


@dataclass(frozen=True)
class SendRejected:
    tag: str
    reason: str
    kind: str = ""


@dataclass(frozen=True)
class SendUnknown:
    tag: str
    reason: str


@dataclass(frozen=True)
class TagLookedUp:
    tag: str
    update: OrderUpdate | None
    queued: bool = False  # the gateway still holds it in its order budget's queue


@dataclass(frozen=True)
class CancelRefused:
    order_id: str
    reason: str


@dataclass(frozen=True)
class ChildUpdate:
    """An order update routed to the child that owns it."""

    update: OrderUpdate


# --------------------------------------------------------------------------- child, leg, group


@dataclass(frozen=True)
class CancelChild:
    reason: str = ""


@dataclass(frozen=True)
class CheckChild:
    """Timer: look the order up if no update arrived for a while (lost updates)."""

    generation: int


@dataclass(frozen=True)
class ChildProgress:
    child: ChildRecord


@dataclass(frozen=True)
class EnterLeg:
    """Send the leg's entry orders (its phase of the plan has started)."""


@dataclass(frozen=True)
class ReverseLeg:
    """Flatten what the leg filled (and keep doing so for late fills); cancel its working entries."""

    reason: str = ""


@dataclass(frozen=True)
class CancelLegEntries:
    reason: str = ""


@dataclass(frozen=True)
class RequestProgress:
    pass


@dataclass(frozen=True)
class LegReport:
    progress: LegProgress
    reconciled: bool = True


@dataclass(frozen=True)
class ReissueReversal:
    generation: int


@dataclass(frozen=True)
class PhaseTimeout:
    phase: str
    generation: int


@dataclass(frozen=True)
class FailGroup:
    reason: str


@dataclass(frozen=True)
class GroupSettled:
    group_id: str
    state: str
    outcome: str


@dataclass(frozen=True)
class GroupChanged:
    """Published to watchers (risk, exposure, API waiters) after every durable group transition."""

    group_id: str
    state: str
    seq: int
    ts: float
    legs: tuple[LegProgress, ...] = ()
    outcome: str = ""
    reason: str = ""


# --------------------------------------------------------------------------- gate


@dataclass(frozen=True)
class SubmitGroup:
    payload: dict[str, Any]
    future: Any = None  # set with GroupAccepted or the Denied error
    correlation_id: str = ""


@dataclass(frozen=True)
class SubmitIntent:
    """A strategy's intent: legs in lot ratios, a direction and a confidence; risk sizes it."""

    payload: dict[str, Any]
    future: Any = None


@dataclass(frozen=True)
class GroupAccepted:
    group_id: str
    duplicate: bool = False
    spec: GroupSpec | None = None
    sizing: dict[str, Any] | None = None


@dataclass(frozen=True)
class StartGroup:
    spec: GroupSpec
    recovering: bool = False


@dataclass(frozen=True)
class KillSwitch:
    """Engage (HALTED: cancel everything working, flatten, refuse new risk) or release."""

    engaged: bool
    reason: str = ""


@dataclass(frozen=True)
class KillSwitchCommitted:
    engaged: bool
    reason: str


@dataclass(frozen=True)
class PurgeEntries:
    """Drop queued non-emergency orders: all of them (the kill switch: no new risk may leave), or one
    group's (an escalated group)."""

    reason: str
    group_id: str | None = None


@dataclass(frozen=True)
class ResumeEntries:
    """The kill switch was released: entries may leave again."""


@dataclass(frozen=True)
class CloseGroup:
    """Flatten a settled group's position (kill switch, or a close request): → CLOSED."""

    group_id: str
    reason: str


@dataclass(frozen=True)
class EscalateGroup:
    group_id: str
    reason: str


@dataclass(frozen=True)
class RecoveryDone:
    groups: int
    reversed: int = 0
    resumed: int = 0


@dataclass(frozen=True)
class GroupReconciled:
    group_id: str
    decision: str


@dataclass(frozen=True)
class Watch:
    address: str
    kinds: tuple[str, ...] = field(default=("group",))
