"""Commands and events: immutable values that travel between actors.

Commands are imperative (`SubmitGroup`, `CancelChild`), events past tense (`LegFilled`). Every message
carries the ids of what it concerns, a timestamp read from the injected clock, and a correlation id
that follows one group's work across actors (contextvars would not: they are per thread).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    correlation_id: str = ""
    ts: float = 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderUpdate(Message):
    """An order's state as the broker reports it (WebSocket, postback, order book or simulator).

    Normalised from Kite's shape; `status` keeps Kite's raw status string. Updates can repeat, arrive
    out of order and skip states: they are applied by rank and by filled quantity, never as a sequence.
    """

    order_id: str
    status: str
    tag: str | None = None
    exchange: str = "NFO"
    tradingsymbol: str = ""
    transaction_type: str = ""
    order_type: str = ""
    product: str = ""
    variety: str = "regular"
    validity: str = "DAY"
    quantity: int = 0
    filled_quantity: int = 0
    pending_quantity: int = 0
    cancelled_quantity: int = 0
    price: float = 0.0
    trigger_price: float = 0.0
    average_price: float = 0.0
    market_protection: float = 0.0
    status_message: str | None = None
    exchange_order_id: str | None = None
    parent_order_id: str | None = None
    order_timestamp: str | None = None
    exchange_update_timestamp: str | None = None
    instrument_token: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Tick(Message):
    instrument_token: int
    last_price: float
    tradingsymbol: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Alert(Message):
    severity: str
    kind: str
    text: str
    group_id: str = ""
    details: dict[str, object] = field(default_factory=dict)
