"""The Broker port: what legguard needs from a broker, implemented by the Kite adapter and SimBroker.

Only the gateway actor calls it. Errors say which kind they are:

- `BrokerRejected`: final. The broker refused the request (input, order, margin, permission, token).
  Sending the same thing again will not help.
- `BrokerRetryable`: the request was not processed (HTTP 429 rate limit); retry after backoff.
- `BrokerUnknownOutcome`: a timeout, a dropped connection or a 5xx. The order may or may not exist;
  look it up by tag before anything is sent again. Never send a fresh order for the same intent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from domain.messages import OrderUpdate, Tick
from domain.model import OrderType, Product, Side, Validity


class BrokerError(Exception):
    def __init__(self, message: str, *, code: int | None = None, kind: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.kind = kind  # the broker's own error type, e.g. Kite's "InputException"


class BrokerRejected(BrokerError):
    """Final: the broker refused it."""


class BrokerRetryable(BrokerError):
    """Not processed; safe to retry after `retry_after_s`."""

    def __init__(self, message: str, *, code: int | None = None, kind: str = "", retry_after_s: float = 1.0) -> None:
        super().__init__(message, code=code, kind=kind)
        self.retry_after_s = retry_after_s


class BrokerUnknownOutcome(BrokerError):
    """The request may or may not have taken effect; resolve by looking the order up by tag."""


@dataclass(frozen=True, slots=True)
class OrderRequest:
    tag: str
    tradingsymbol: str
    side: Side
    quantity: int
    order_type: OrderType
    product: Product = Product.NRML
    validity: Validity = Validity.DAY
    exchange: str = "NFO"
    price: float | None = None
    trigger_price: float | None = None
    market_protection: int | None = None
    variety: str = "regular"


@dataclass(frozen=True, slots=True)
class Trade:
    trade_id: str
    order_id: str
    exchange: str
    tradingsymbol: str
    side: Side
    quantity: int
    price: float
    fill_timestamp: str | None = None
    instrument_token: int = 0


@dataclass(frozen=True, slots=True)
class Position:
    exchange: str
    tradingsymbol: str
    product: str
    quantity: int  # net, signed: long > 0, short < 0
    average_price: float = 0.0
    last_price: float = 0.0
    pnl: float = 0.0
    buy_quantity: int = 0
    sell_quantity: int = 0
    instrument_token: int = 0


@dataclass(frozen=True, slots=True)
class Margins:
    """One segment's funds, as Kite's `margins()` reports them."""

    available: float  # what new positions may use (net)
    utilised: float
    cash: float = 0.0
    collateral: float = 0.0
    detail: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class OrderMargin:
    tradingsymbol: str
    span: float
    exposure: float
    option_premium: float
    total: float


@dataclass(frozen=True, slots=True)
class BasketMargins:
    """`initial` has no hedge benefit, `final` has it; the difference is why protection goes first."""

    initial_total: float
    final_total: float
    orders: tuple[OrderMargin, ...] = ()


class BrokerListener(Protocol):
    """Where a broker delivers what it pushes. Called from the broker's own thread or timer."""

    def on_order_update(self, update: OrderUpdate) -> None: ...

    def on_tick(self, tick: Tick) -> None: ...

    def on_connection(self, connected: bool) -> None:
        """False when the push channel drops, True when it is back: reconcile before new risk."""
        ...


class Broker(Protocol):
    def place_order(self, request: OrderRequest) -> str:
        """Returns the broker's order_id: accepted for processing, not yet placed."""
        ...

    def modify_order(
        self,
        order_id: str,
        *,
        quantity: int | None = None,
        price: float | None = None,
        trigger_price: float | None = None,
        order_type: OrderType | None = None,
        variety: str = "regular",
    ) -> str: ...

    def cancel_order(self, order_id: str, *, variety: str = "regular") -> str: ...

    def orders(self) -> list[OrderUpdate]: ...

    def order_history(self, order_id: str) -> list[OrderUpdate]: ...

    def trades(self) -> list[Trade]: ...

    def order_trades(self, order_id: str) -> list[Trade]: ...

    def positions(self) -> list[Position]: ...

    def margins(self) -> Margins: ...

    def basket_margins(self, orders: Sequence[OrderRequest], *, consider_positions: bool = True) -> BasketMargins: ...

    def ltp(self, tradingsymbols: Sequence[str], *, exchange: str = "NFO") -> dict[str, float]: ...

    def subscribe(self, listener: BrokerListener, tokens: Sequence[int] = ()) -> None:
        """Start pushing order updates (all of the account's) and ticks (for `tokens`) to `listener`."""
        ...

    def subscribe_ticks(self, tokens: Sequence[int]) -> None: ...

    def close(self) -> None: ...
