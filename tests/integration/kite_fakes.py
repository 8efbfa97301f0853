"""A small in-memory Broker for the Kite-protocol server's tests (not a model of an exchange).

It accepts orders, fills a marketable one at the last price, leaves the rest OPEN, emits Kite's
status sequence to its listener, and keeps trades and positions. Exchange behaviour is SimBroker's
job; this only has to be a faithful *port* so the server's wire shapes can be tested on their own.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import threading
from collections.abc import Iterable, Sequence

from brokers.port import (
    BasketMargins,
    BrokerListener,
    BrokerRejected,
    Margins,
    OrderMargin,
    OrderRequest,
    Position,
    Trade,
)
from domain.instruments import Instrument, InstrumentKind
from domain.messages import OrderUpdate, Tick
from domain.model import OrderType, Side
from runtime.config import Settings
from sim.kite_server.entry import ExchangeFace

NFO_SEGMENT = 2
FUNDS = 1_000_000.0


def nfo_token(exchange_token: int) -> int:
    """Kite's tokens carry the segment in the low byte; the ticker's price scale depends on it."""
    return exchange_token << 8 | NFO_SEGMENT


def nifty_chain(expiry: dt.date = dt.date(2026, 1, 27)) -> list[Instrument]:
    out = []
    for n, strike in enumerate(range(23_800, 24_250, 50)):
        for kind in (InstrumentKind.CE, InstrumentKind.PE):
            out.append(
                Instrument(
                    instrument_token=nfo_token(40_000 + 2 * n + (kind is InstrumentKind.PE)),
                    exchange="NFO",
                    tradingsymbol=f"NIFTY26JAN{strike}{kind.value}",
                    underlying="NIFTY",
                    expiry=expiry,
                    strike=float(strike),
                    kind=kind,
                    lot_size=65,
                    tick_size=0.05,
                    freeze_quantity=1800,
                )
            )
    return out


_TERMINAL = frozenset({"COMPLETE", "CANCELLED", "REJECTED"})


class FakeBroker:
    def __init__(self, instruments: Iterable[Instrument], prices: dict[str, float]) -> None:
        self.instruments = {i.tradingsymbol: i for i in instruments}
        self.prices = dict(prices)
        self.reject_symbols: set[str] = set()  # the "exchange" rejects orders on these (status REJECTED)
        self.listener: BrokerListener | None = None
        self.tick_tokens: set[int] = set()
        self._lock = threading.RLock()
        self._ids = itertools.count(261_121_000_000_001)
        self._trade_ids = itertools.count(90_000_001)
        self._history: dict[str, list[OrderUpdate]] = {}
        self._trades: list[Trade] = []

    # ------------------------------------------------------------------ orders

    def place_order(self, request: OrderRequest) -> str:
        with self._lock:
            inst = self.instruments.get(request.tradingsymbol)
            if inst is None:
                raise BrokerRejected(
                    f"Invalid tradingsymbol {request.tradingsymbol}", code=400, kind="InputException"
                )
            order_id = str(next(self._ids))
            order = OrderUpdate(
                order_id=order_id,
                status="PUT ORDER REQ RECEIVED",
                tag=request.tag or None,
                exchange=request.exchange,
                tradingsymbol=request.tradingsymbol,
                transaction_type=request.side.value,
                order_type=request.order_type.value,
                product=request.product.value,
                variety=request.variety,
                validity=request.validity.value,
                quantity=request.quantity,
                pending_quantity=request.quantity,
                price=request.price or 0.0,
                trigger_price=request.trigger_price or 0.0,
                market_protection=float(request.market_protection or 0),
                order_timestamp="2026-01-20 10:00:00",
                instrument_token=inst.instrument_token,
            )
            self._emit(order)
            if request.tradingsymbol in self.reject_symbols:
                self._emit(
                    dataclasses.replace(
                        order,
                        status="REJECTED",
                        pending_quantity=0,
                        status_message="RMS: rejected by the fake exchange",
                    )
                )
                return order_id
            self._emit(dataclasses.replace(order, status="OPEN", exchange_order_id=f"1{order_id}"))
            self._fill_if_marketable(order_id)
            return order_id

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
        with self._lock:
            current = self._working(order_id)
            changed = dataclasses.replace(
                current,
                status="OPEN",
                quantity=quantity or current.quantity,
                pending_quantity=(quantity or current.quantity) - current.filled_quantity,
                price=current.price if price is None else price,
                trigger_price=current.trigger_price if trigger_price is None else trigger_price,
                order_type=current.order_type if order_type is None else order_type.value,
            )
            self._emit(dataclasses.replace(changed, status="MODIFIED"))
            self._emit(changed)
            self._fill_if_marketable(order_id)
            return order_id

    def cancel_order(self, order_id: str, *, variety: str = "regular") -> str:
        with self._lock:
            current = self._working(order_id)
            self._emit(
                dataclasses.replace(
                    current,
                    status="CANCELLED",
                    pending_quantity=0,
                    cancelled_quantity=current.pending_quantity,
                )
            )
            return order_id

    def _working(self, order_id: str) -> OrderUpdate:
        if order_id not in self._history:
            raise BrokerRejected(f"Couldn't find order {order_id}", code=400, kind="InputException")
        current = self._history[order_id][-1]
        if current.status in _TERMINAL:
            raise BrokerRejected(f"Order {order_id} is {current.status}", code=400, kind="OrderException")
        return current

    def _fill_if_marketable(self, order_id: str) -> None:
        order = self._history[order_id][-1]
        last = self.prices[order.tradingsymbol]
        side = Side(order.transaction_type)
        limit_crosses = last <= order.price if side is Side.BUY else last >= order.price
        if order.order_type != "MARKET" and not (order.order_type == "LIMIT" and limit_crosses):
            return
        self._trades.append(
            Trade(
                trade_id=str(next(self._trade_ids)),
                order_id=order_id,
                exchange=order.exchange,
                tradingsymbol=order.tradingsymbol,
                side=side,
                quantity=order.pending_quantity,
                price=last,
                fill_timestamp="2026-01-20 10:00:01",
                instrument_token=order.instrument_token,
            )
        )
        self._emit(
            dataclasses.replace(
                order,
                status="COMPLETE",
                filled_quantity=order.quantity,
                pending_quantity=0,
                average_price=last,
            )
        )

    def _emit(self, update: OrderUpdate) -> None:
        self._history.setdefault(update.order_id, []).append(update)
        if self.listener is not None:
            self.listener.on_order_update(update)

    # ------------------------------------------------------------------ reads

    def orders(self) -> list[OrderUpdate]:
        with self._lock:
            return [history[-1] for history in self._history.values()]

    def order_history(self, order_id: str) -> list[OrderUpdate]:
        with self._lock:
            return list(self._history.get(order_id, []))

    def trades(self) -> list[Trade]:
        with self._lock:
            return list(self._trades)

    def order_trades(self, order_id: str) -> list[Trade]:
        return [t for t in self.trades() if t.order_id == order_id]

    def positions(self) -> list[Position]:
        net: dict[str, int] = {}
        for t in self.trades():
            net[t.tradingsymbol] = net.get(t.tradingsymbol, 0) + t.side.sign * t.quantity
        return [
            Position(
                exchange="NFO",
                tradingsymbol=s,
                product="NRML",
                quantity=q,
                last_price=self.prices[s],
                instrument_token=self.instruments[s].instrument_token,
            )
            for s, q in net.items()
        ]

    def margins(self) -> Margins:
        used = sum(abs(p.quantity) * 100.0 for p in self.positions())
        return Margins(available=FUNDS - used, utilised=used, cash=FUNDS, detail={"span": used})

    def basket_margins(
        self, orders: Sequence[OrderRequest], *, consider_positions: bool = True
    ) -> BasketMargins:
        legs = tuple(
            OrderMargin(
                tradingsymbol=o.tradingsymbol,
                span=o.quantity * 100.0 if o.side is Side.SELL else 0.0,
                exposure=0.0,
                option_premium=o.quantity * self.prices[o.tradingsymbol] if o.side is Side.BUY else 0.0,
                total=0.0,
            )
            for o in orders
        )
        legs = tuple(dataclasses.replace(m, total=m.span + m.option_premium) for m in legs)
        initial = sum(m.total for m in legs)
        hedged = any(o.side is Side.BUY for o in orders) and any(o.side is Side.SELL for o in orders)
        return BasketMargins(
            initial_total=initial, final_total=initial / 3 if hedged else initial, orders=legs
        )

    def ltp(self, tradingsymbols: Sequence[str], *, exchange: str = "NFO") -> dict[str, float]:
        return {s: self.prices[s] for s in tradingsymbols if s in self.prices}

    # ------------------------------------------------------------------ push

    def subscribe(self, listener: BrokerListener, tokens: Sequence[int] = ()) -> None:
        self.listener = listener
        self.tick_tokens.update(tokens)

    def subscribe_ticks(self, tokens: Sequence[int]) -> None:
        self.tick_tokens.update(tokens)

    def move_price(self, tradingsymbol: str, price: float) -> None:
        """Test hook: the market moves; a tick goes out if someone watches the instrument."""
        self.prices[tradingsymbol] = price
        token = self.instruments[tradingsymbol].instrument_token
        if self.listener is not None and token in self.tick_tokens:
            self.listener.on_tick(Tick(instrument_token=token, last_price=price, tradingsymbol=tradingsymbol))

    def close(self) -> None:
        return None


def fake_exchange(seed: int, settings: Settings) -> ExchangeFace:
    """A broker factory for `python -m sim.kite_server --broker-factory kite_fakes:fake_exchange`."""
    chain = nifty_chain()
    prices = {inst.tradingsymbol: 100.0 + inst.strike / 1000 for inst in chain}
    return ExchangeFace(broker=FakeBroker(chain, prices), instruments=tuple(chain))
