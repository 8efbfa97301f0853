"""The exchange's ledger: every order with its full status history, every fill, every position.

This is the truth. Invariant checkers read it (never the service's own view), and the order book
queries of both faces (SimBroker, the Kite-protocol server) are answered from it.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterator
from dataclasses import dataclass

from brokers.port import OrderRequest
from domain.instruments import Instrument
from domain.messages import OrderUpdate
from domain.model import OrderType, Side

_IST = dt.timezone(dt.timedelta(hours=5, minutes=30), "IST")
TERMINAL = frozenset({"COMPLETE", "CANCELLED", "REJECTED"})


def kite_time(epoch: float) -> str:
    """Kite's timestamp format, in exchange (IST) time (whole seconds, as Kite sends them)."""
    return _kite_second(int(epoch))


@functools.lru_cache(maxsize=4096)
def _kite_second(second: int) -> str:
    # Every update carries two timestamps and most fall in the same few seconds: format each once.
    return dt.datetime.fromtimestamp(second, _IST).strftime("%Y-%m-%d %H:%M:%S")


@dataclass(frozen=True, slots=True)
class Fill:
    trade_id: str
    order_id: str
    account: str
    tradingsymbol: str
    side: Side
    quantity: int
    price: float
    ts: float
    instrument_token: int = 0
    exchange: str = "NFO"
    # The clock's monotonic time: wall time (`ts`) jumps when the clock does (the fault model moves
    # it by ±300 s), and a duration measured across a jump would be wrong.
    mono: float = 0.0


class BookOrder:
    """One order's mutable state inside the exchange. Never handed out: queries return snapshots."""

    __slots__ = (
        "account", "average_price", "blocked_margin", "cancel_requested", "cancelled_quantity", "chunks",
        "exchange_order_id", "filled_quantity", "forced", "held", "history", "hold_after_chunks",
        "instrument", "limit", "live", "modifications", "order_id", "order_type", "placed_at", "price",
        "quantity", "request", "status", "status_message", "trigger_price", "triggered", "updated_at",
        "waiting",
    )  # fmt: skip

    def __init__(self, order_id: str, account: str, request: OrderRequest, instrument: Instrument, now: float) -> None:
        self.order_id = order_id
        self.exchange_order_id: str | None = None
        self.account = account
        self.request = request
        self.instrument = instrument
        self.order_type = request.order_type
        self.quantity = request.quantity
        self.price = request.price or 0.0
        self.trigger_price = request.trigger_price or 0.0
        self.status = "PUT ORDER REQ RECEIVED"
        self.status_message: str | None = None
        self.filled_quantity = 0
        self.average_price = 0.0
        self.cancelled_quantity = 0
        self.modifications = 0
        self.placed_at = now
        self.updated_at = now
        self.limit = 0.0  # the price matching uses (a MARKET order's protection limit)
        self.live = False  # reached the exchange (OPEN or TRIGGER PENDING at least once)
        self.triggered = False  # can match: not a stop, or a stop whose trigger was crossed
        self.cancel_requested = False
        self.held = False  # a scenario holds it unfilled until released
        self.forced = False  # a scenario fills it at its limit whatever the book shows
        self.hold_after_chunks = False  # a scenario's partial fill: hold once the planned chunks are done
        self.waiting = False  # between two planned partial fills
        self.chunks: list[int] = []  # partial-fill plan: quantities still to fill, in order
        self.blocked_margin = 0.0
        self.history: list[OrderUpdate] = []

    @property
    def side(self) -> Side:
        return self.request.side

    @property
    def pending_quantity(self) -> int:
        return 0 if self.is_terminal else self.quantity - self.filled_quantity

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def is_working(self) -> bool:
        """At the exchange and able to fill now."""
        return self.live and self.triggered and not (self.held or self.waiting or self.is_terminal)

    def snapshot(self, now: float) -> OrderUpdate:
        req = self.request
        return OrderUpdate(
            ts=now,
            order_id=self.order_id,
            status=self.status,
            tag=req.tag or None,
            exchange=req.exchange,
            tradingsymbol=req.tradingsymbol,
            transaction_type=req.side.value,
            order_type=self.order_type.value,
            product=req.product.value,
            variety=req.variety,
            validity=req.validity.value,
            quantity=self.quantity,
            filled_quantity=self.filled_quantity,
            pending_quantity=self.pending_quantity,
            cancelled_quantity=self.cancelled_quantity,
            price=0.0 if self.order_type is OrderType.MARKET else self.price,
            trigger_price=self.trigger_price,
            average_price=self.average_price,
            market_protection=float(req.market_protection or 0),
            status_message=self.status_message,
            exchange_order_id=self.exchange_order_id,
            order_timestamp=kite_time(self.placed_at),
            exchange_update_timestamp=kite_time(now) if self.exchange_order_id else None,
            instrument_token=self.instrument.instrument_token,
        )


class PositionBook:
    """Net position of one account in one instrument, with average-cost realised P&L."""

    __slots__ = (
        "average_price",
        "buy_quantity",
        "buy_value",
        "instrument",
        "net",
        "realised",
        "sell_quantity",
        "sell_value",
    )

    def __init__(self, instrument: Instrument) -> None:
        self.instrument = instrument
        self.net = 0
        self.average_price = 0.0  # of the open quantity
        self.buy_quantity = self.sell_quantity = 0
        self.buy_value = self.sell_value = 0.0
        self.realised = 0.0

    def apply(self, side: Side, quantity: int, price: float) -> None:
        if side is Side.BUY:
            self.buy_quantity += quantity
            self.buy_value += quantity * price
        else:
            self.sell_quantity += quantity
            self.sell_value += quantity * price
        signed = side.sign * quantity
        if self.net == 0 or (self.net > 0) == (signed > 0):
            self.average_price = (self.average_price * abs(self.net) + price * quantity) / (abs(self.net) + quantity)
            self.net += signed
            return
        closed = min(quantity, abs(self.net))
        self.realised += closed * (price - self.average_price) * (1 if self.net > 0 else -1)
        self.net += signed
        if self.net == 0:
            self.average_price = 0.0
        elif (self.net > 0) == (signed > 0):  # flipped through zero: the rest opens at this price
            self.average_price = price

    def unrealised(self, ltp: float) -> float:
        return self.net * (ltp - self.average_price)


class Ledger:
    def __init__(self) -> None:
        self._orders: dict[str, BookOrder] = {}
        self._by_tag: dict[str, list[str]] = {}
        self._fills: list[Fill] = []
        self._fills_by_order: dict[str, list[Fill]] = {}
        self._positions: dict[tuple[str, str], PositionBook] = {}
        self._cash_flow: dict[str, float] = {}  # option premium received minus paid, per account

    def add(self, order: BookOrder) -> None:
        self._orders[order.order_id] = order
        if order.request.tag:
            self._by_tag.setdefault(order.request.tag, []).append(order.order_id)

    def record(self, order: BookOrder, status: str, now: float, message: str | None = None) -> OrderUpdate:
        """Move an order to `status` and keep the snapshot in its history."""
        order.status = status
        if message is not None:
            order.status_message = message
        order.updated_at = now
        update = order.snapshot(now)
        order.history.append(update)
        return update

    def add_fill(self, order: BookOrder, fill: Fill) -> None:
        total = order.average_price * order.filled_quantity + fill.price * fill.quantity
        order.filled_quantity += fill.quantity
        order.average_price = round(total / order.filled_quantity, 4)
        self._fills.append(fill)
        self._fills_by_order.setdefault(order.order_id, []).append(fill)
        key = (order.account, order.instrument.tradingsymbol)
        book = self._positions.get(key)
        if book is None:
            book = self._positions[key] = PositionBook(order.instrument)
        book.apply(fill.side, fill.quantity, fill.price)
        if order.instrument.is_option:  # option premium settles at once; futures are marked to market
            flow = -fill.side.sign * fill.quantity * fill.price
            self._cash_flow[order.account] = self._cash_flow.get(order.account, 0.0) + flow

    # ------------------------------------------------------------------ queries (the invariants' view)

    def get(self, order_id: str) -> BookOrder | None:
        return self._orders.get(order_id)

    def iter_orders(self, account: str | None = None) -> Iterator[BookOrder]:
        return (o for o in self._orders.values() if account is None or o.account == account)

    def tagged(self, tag: str) -> list[BookOrder]:
        return [self._orders[oid] for oid in self._by_tag.get(tag, ())]

    def fills(self, order_id: str | None = None, account: str | None = None) -> list[Fill]:
        source = self._fills if order_id is None else self._fills_by_order.get(order_id, [])
        return [f for f in source if account is None or f.account == account]

    def position_books(self, account: str | None = None) -> list[tuple[str, PositionBook]]:
        return [(acc, book) for (acc, _), book in self._positions.items() if account is None or acc == account]

    def net_positions(self, account: str | None = None) -> dict[str, int]:
        """Net signed quantity per tradingsymbol (summed over accounts when none is given)."""
        out: dict[str, int] = {}
        for (acc, symbol), book in self._positions.items():
            if account is None or acc == account:
                out[symbol] = out.get(symbol, 0) + book.net
        return out

    def cash_flow(self, account: str) -> float:
        return self._cash_flow.get(account, 0.0)

    def __len__(self) -> int:
        return len(self._orders)
