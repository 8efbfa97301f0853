"""The exchange's books as the account and the invariant checker read them.

Kite's shapes for one account (orders, history, trades, positions, margins, basket margins, LTP),
and the ledger across accounts (net positions, orders by tag, fills): the truth invariants are
checked against. A mixin of `Exchange`; every read takes the exchange's lock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence

from brokers.port import BasketMargins, Margins, OrderMargin, OrderRequest, Position
from domain.instruments import InstrumentUniverse
from domain.messages import OrderUpdate
from runtime.config import ExchangeRules
from sim.exchange.accounts import Accounts, AccountSummary
from sim.exchange.depth import Quote
from sim.exchange.errors import InputRejected
from sim.exchange.events import EventLog
from sim.exchange.flow import OrderFlow
from sim.exchange.ledger import BookOrder, Fill, Ledger
from sim.exchange.margin import MarginBreakdown, MarginModel, MarginOrder
from sim.exchange.market import Market
from sim.exchange.orders import validate_request


class Books:
    _lock: threading.RLock
    _flow: OrderFlow
    _sync: Callable[[], None]
    universe: InstrumentUniverse
    market: Market
    ledger: Ledger
    accounts: Accounts
    margin: MarginModel
    log: EventLog
    rules: ExchangeRules

    def _own(self, account: str, order_id: str) -> BookOrder:
        order = self.ledger.get(order_id)
        if order is None or order.account != account:
            raise InputRejected(f"Invalid `order_id`: {order_id}")
        return order

    # ------------------------------------------------------------------ the account's books (Kite's shapes)

    def orders(self, account: str) -> list[OrderUpdate]:
        with self._lock:
            return [o.history[-1] for o in self.ledger.iter_orders(account)]

    def order_history(self, account: str, order_id: str) -> list[OrderUpdate]:
        with self._lock:
            return list(self._own(account, order_id).history)

    def account_fills(self, account: str, order_id: str | None = None) -> list[Fill]:
        with self._lock:
            if order_id is not None:
                self._own(account, order_id)
            return self.ledger.fills(order_id, account)

    def positions(self, account: str) -> list[Position]:
        with self._lock:
            self._sync()
            return self.accounts.positions(account)

    def margins(self, account: str) -> Margins:
        with self._lock:
            self._sync()
            return self.accounts.margins(account, self._flow.blocking.values())

    def account_summary(self, account: str) -> AccountSummary:
        with self._lock:
            self._sync()
            return self.accounts.summary(account, self._flow.blocking.values())

    def order_margins(self, requests: Sequence[OrderRequest]) -> list[OrderMargin]:
        """Each order alone, with no hedge benefit from positions or from each other."""
        with self._lock:
            self._sync()
            return [self._order_margin(r.tradingsymbol, self.margin.alone(self._margin_order(r))) for r in requests]

    def basket_margins(
        self, account: str, requests: Sequence[OrderRequest], *, consider_positions: bool = True
    ) -> BasketMargins:
        """`initial`: the orders' margins summed; `final`: the basket as one portfolio (on top of the
        account's positions when asked), so hedges inside it count."""
        with self._lock:
            self._sync()
            margin_orders = [self._margin_order(r) for r in requests]
            alone = [self.margin.alone(mo) for mo in margin_orders]
            holdings = self.accounts.holdings(account) if consider_positions else {}
            final = self.margin.incremental(holdings, margin_orders)
            return BasketMargins(
                initial_total=sum(m.total for m in alone),
                final_total=final.total,
                orders=tuple(self._order_margin(r.tradingsymbol, m) for r, m in zip(requests, alone, strict=True)),
            )

    def _margin_order(self, request: OrderRequest) -> MarginOrder:
        inst = validate_request(request, self.universe, self.rules)
        return self.accounts.request_margin_order(inst, request)

    @staticmethod
    def _order_margin(symbol: str, m: MarginBreakdown) -> OrderMargin:
        return OrderMargin(symbol, span=m.span, exposure=m.exposure, option_premium=m.option_premium, total=m.total)

    def ltp(self, symbols: Iterable[str]) -> dict[str, float]:
        with self._lock:
            self._sync()
            return self.market.ltps(symbols)

    def quote(self, symbol: str) -> Quote:
        with self._lock:
            self._sync()
            return self._flow.quote(self.universe[symbol])

    def spot(self, underlying: str) -> float:
        with self._lock:
            self._sync()
            return self.market.spot(underlying)

    # ------------------------------------------------------------------ the ledger (for invariants)

    def net_positions(self, account: str | None = None) -> dict[str, int]:
        with self._lock:
            return self.ledger.net_positions(account)

    def orders_by_tag(self, tag: str) -> list[OrderUpdate]:
        with self._lock:
            return [o.history[-1] for o in self.ledger.tagged(tag)]

    def order(self, order_id: str) -> OrderUpdate:
        with self._lock:
            order = self.ledger.get(order_id)
            if order is None:
                raise KeyError(order_id)
            return order.history[-1]

    def fills(self, order_id: str) -> list[Fill]:
        with self._lock:
            return self.ledger.fills(order_id)

    def all_orders(self, account: str | None = None) -> list[OrderUpdate]:
        with self._lock:
            return [o.history[-1] for o in self.ledger.iter_orders(account)]

    def trades(self, account: str | None = None) -> list[Fill]:
        with self._lock:
            return self.ledger.fills(None, account)

    def working_orders(self) -> list[OrderUpdate]:
        """Orders that could still fill (every non-terminal order)."""
        with self._lock:
            return [o.history[-1] for o in self.ledger.iter_orders() if not o.is_terminal]

    def digest(self) -> str:
        """A hash of every event so far: same seed and script, same digest."""
        return self.log.digest()
