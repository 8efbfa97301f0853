"""SimBroker: the in-process face of the simulated exchange, behind the Broker port.

It adds nothing of its own: each call goes to the exchange for one account, and the exchange's
errors become the port's three kinds exactly as the Kite adapter's do:

    InputRejected / OrderRefused (InputException / OrderException) → BrokerRejected (final)
    RateLimited (HTTP 429, NetworkException)                        → BrokerRetryable
    OutcomeUnknown (a timeout after or before the exchange got it)  → BrokerUnknownOutcome
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TypeVar

from brokers.port import (
    BasketMargins,
    BrokerListener,
    BrokerRejected,
    BrokerRetryable,
    BrokerUnknownOutcome,
    Margins,
    OrderRequest,
    Position,
    Trade,
)
from domain.messages import OrderUpdate
from domain.model import OrderType
from sim.exchange import Exchange, Fill
from sim.exchange.errors import ExchangeError, OutcomeUnknown, RateLimited
from sim.exchange.ledger import kite_time

T = TypeVar("T")


@contextmanager
def _port_errors() -> Iterator[None]:
    try:
        yield
    except RateLimited as exc:
        raise BrokerRetryable(
            exc.message, code=exc.http_status, kind=exc.kite_type, retry_after_s=exc.retry_after_s
        ) from exc
    except OutcomeUnknown as exc:
        raise BrokerUnknownOutcome(exc.message, code=exc.http_status, kind=exc.kite_type) from exc
    except ExchangeError as exc:
        raise BrokerRejected(exc.message, code=exc.http_status, kind=exc.kite_type) from exc


def _trade(fill: Fill) -> Trade:
    return Trade(
        trade_id=fill.trade_id,
        order_id=fill.order_id,
        exchange=fill.exchange,
        tradingsymbol=fill.tradingsymbol,
        side=fill.side,
        quantity=fill.quantity,
        price=fill.price,
        fill_timestamp=kite_time(fill.ts),
        instrument_token=fill.instrument_token,
    )


class SimBroker:
    """One account's session with the simulated exchange (implements `brokers.port.Broker`)."""

    def __init__(self, exchange: Exchange, account: str = "default") -> None:
        self.exchange = exchange
        self.account = account
        self._listeners: list[BrokerListener] = []

    def _call(self, fn: Callable[[], T]) -> T:
        with _port_errors():
            return fn()

    def place_order(self, request: OrderRequest) -> str:
        return self._call(lambda: self.exchange.place(self.account, request))

    def modify_order(
        self,
        order_id: str,
        *,
        quantity: int | None = None,
        price: float | None = None,
        trigger_price: float | None = None,
        order_type: OrderType | None = None,
        variety: str = "regular",
    ) -> str:
        return self._call(
            lambda: self.exchange.modify(
                self.account,
                order_id,
                quantity=quantity,
                price=price,
                trigger_price=trigger_price,
                order_type=order_type,
            )
        )

    def cancel_order(self, order_id: str, *, variety: str = "regular") -> str:
        return self._call(lambda: self.exchange.cancel(self.account, order_id))

    def orders(self) -> list[OrderUpdate]:
        return self._call(lambda: self.exchange.orders(self.account))

    def order_history(self, order_id: str) -> list[OrderUpdate]:
        return self._call(lambda: self.exchange.order_history(self.account, order_id))

    def trades(self) -> list[Trade]:
        return [_trade(f) for f in self._call(lambda: self.exchange.account_fills(self.account))]

    def order_trades(self, order_id: str) -> list[Trade]:
        return [_trade(f) for f in self._call(lambda: self.exchange.account_fills(self.account, order_id))]

    def positions(self) -> list[Position]:
        return self._call(lambda: self.exchange.positions(self.account))

    def margins(self) -> Margins:
        return self._call(lambda: self.exchange.margins(self.account))

    def basket_margins(self, orders: Sequence[OrderRequest], *, consider_positions: bool = True) -> BasketMargins:
        return self._call(
            lambda: self.exchange.basket_margins(self.account, orders, consider_positions=consider_positions)
        )

    def ltp(self, tradingsymbols: Sequence[str], *, exchange: str = "NFO") -> dict[str, float]:
        known = [s for s in tradingsymbols if s in self.exchange.universe]
        return self._call(lambda: self.exchange.ltp(known))

    def subscribe(self, listener: BrokerListener, tokens: Sequence[int] = ()) -> None:
        # One push channel per session, as on Kite: a new listener (a restarted gateway) replaces
        # the old one instead of both receiving.
        for old in self._listeners:
            self.exchange.unsubscribe(old)
        self._listeners = [listener]
        self.exchange.subscribe(self.account, listener, tokens)

    def subscribe_ticks(self, tokens: Sequence[int]) -> None:
        if not self._listeners:
            raise RuntimeError("subscribe a listener before adding tick tokens")
        for listener in self._listeners:
            self.exchange.subscribe_ticks(listener, tokens)

    def close(self) -> None:
        for listener in self._listeners:
            self.exchange.unsubscribe(listener)
        self._listeners.clear()
