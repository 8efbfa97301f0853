"""Accounts: funds, what is utilised, what is available, and positions in the Broker port's shapes.

The cash model, per account:
  cash flow    = option premium received on sells - premium paid on buys (settled at each fill)
  short MTM    = what it would cost now to buy back every short option (≤ 0)
  futures P&L  = realised and unrealised P&L of futures (marked to market, never paid in full)
  utilised     = span + exposure of the positions + margin blocked by working orders
  available    = funds + cash flow + short MTM + futures P&L - utilised
A short's premium is offset by its buy-back cost, so it is never spendable; a long's value is not
collateral. A working order blocks what it was checked against, released as it fills or ends.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from brokers.port import Margins, OrderRequest, Position
from domain.instruments import Instrument
from domain.model import OrderType
from sim.exchange.config import MarginConfig
from sim.exchange.ledger import BookOrder, Ledger
from sim.exchange.margin import MarginModel, MarginOrder
from sim.exchange.market import Market


@dataclass(frozen=True, slots=True)
class AccountSummary:
    funds: float
    cash_flow: float
    short_mtm: float
    futures_pnl: float
    span: float
    exposure: float
    blocked: float
    long_premium: float  # cost of the open long option positions
    realised: float
    unrealised: float

    @property
    def utilised(self) -> float:
        return self.span + self.exposure + self.blocked

    @property
    def available(self) -> float:
        return self.funds + self.cash_flow + self.short_mtm + self.futures_pnl - self.utilised


class Accounts:
    def __init__(self, ledger: Ledger, market: Market, margin: MarginModel, config: MarginConfig) -> None:
        self._ledger = ledger
        self._market = market
        self.margin = margin
        self._default_funds = config.funds
        self._funds: dict[str, float] = {}

    def funds(self, account: str) -> float:
        return self._funds.get(account, self._default_funds)

    def set_funds(self, account: str, amount: float) -> None:
        self._funds[account] = amount

    def holdings(self, account: str) -> dict[Instrument, int]:
        return {book.instrument: book.net for _, book in self._ledger.position_books(account) if book.net}

    def summary(self, account: str, blocking: Iterable[BookOrder]) -> AccountSummary:
        holdings = self.holdings(account)
        need = self.margin.requirement(holdings)
        short_mtm = futures_pnl = long_premium = realised = unrealised = 0.0
        for _, book in self._ledger.position_books(account):
            ltp = self._market.ltp(book.instrument)
            realised += book.realised
            unrealised += book.unrealised(ltp)
            if not book.instrument.is_option:
                futures_pnl += book.realised + book.unrealised(ltp)
            elif book.net < 0:
                short_mtm += book.net * ltp
            elif book.net > 0:
                long_premium += book.net * book.average_price
        blocked = sum(o.blocked_margin * o.pending_quantity / o.quantity for o in blocking if o.account == account)
        return AccountSummary(
            funds=self.funds(account),
            cash_flow=self._ledger.cash_flow(account),
            short_mtm=short_mtm,
            futures_pnl=futures_pnl,
            span=need.span,
            exposure=need.exposure,
            blocked=blocked,
            long_premium=long_premium,
            realised=realised,
            unrealised=unrealised,
        )

    def request_margin_order(self, inst: Instrument, request: OrderRequest) -> MarginOrder:
        """A request as a margin input: a buy pays its limit, a market buy the LTP."""
        price = request.price if request.order_type in (OrderType.LIMIT, OrderType.SL) else None
        return MarginOrder(inst, request.side, request.quantity, price or self._market.ltp(inst))

    def order_need(self, order: BookOrder) -> float:
        """What accepting `order` adds to the account's requirement, given its positions."""
        mo = MarginOrder(order.instrument, order.side, order.quantity, self.premium_price(order))
        return self.margin.incremental(self.holdings(order.account), [mo]).total

    def premium_price(self, order: BookOrder) -> float:
        if order.order_type in (OrderType.LIMIT, OrderType.SL):
            return order.price
        return order.limit or self._market.ltp(order.instrument)

    def margins(self, account: str, blocking: Iterable[BookOrder]) -> Margins:
        s = self.summary(account, blocking)
        return Margins(
            available=s.available,
            utilised=s.utilised,
            cash=s.funds + s.cash_flow,
            collateral=0.0,
            detail={
                "opening_balance": s.funds,
                "span": s.span,
                "exposure": s.exposure,
                "blocked": s.blocked,
                "option_premium": s.long_premium,
                "m2m_realised": s.realised,
                "m2m_unrealised": s.unrealised,
                "net": s.available,
            },
        )

    def positions(self, account: str) -> list[Position]:
        out = []
        for _, book in self._ledger.position_books(account):
            inst = book.instrument
            ltp = self._market.ltp(inst)
            out.append(
                Position(
                    exchange=inst.exchange,
                    tradingsymbol=inst.tradingsymbol,
                    product="NRML",
                    quantity=book.net,
                    average_price=book.average_price,
                    last_price=ltp,
                    pnl=book.realised + book.unrealised(ltp),
                    buy_quantity=book.buy_quantity,
                    sell_quantity=book.sell_quantity,
                    instrument_token=inst.instrument_token,
                )
            )
        return out
