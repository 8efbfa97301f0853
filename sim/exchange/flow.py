"""An order's way through the exchange: the Kite status sequence, hop by hop, then matching.

    PUT ORDER REQ RECEIVED → VALIDATION PENDING → OPEN PENDING → OPEN → COMPLETE
                                      ↘ REJECTED (RMS)    ↘ REJECTED (exchange)
                                                          ↘ TRIGGER PENDING → OPEN (SL, on trigger)
    any live state → CANCEL PENDING → CANCELLED (user), OPEN → CANCELLED (exchange, IOC, unsolicited)

Each arrow is one hop of latency on the clock. Every status is recorded in the ledger and pushed to
subscribers. All entry points run under the exchange's lock: the timer callbacks take it themselves.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from domain.instruments import Instrument
from domain.model import OrderType, Side, Validity
from runtime.clock import Clock
from runtime.rng import RandomStreams
from sim.exchange.accounts import Accounts
from sim.exchange.config import ExchangeConfig
from sim.exchange.delivery import Delivery
from sim.exchange.depth import DepthBook, Level, Quote
from sim.exchange.events import EventLog
from sim.exchange.ledger import BookOrder, Fill, Ledger
from sim.exchange.market import Band, Market
from sim.exchange.orders import exchange_rejection, is_triggered, plan_fills, protection_limit, rms_rejection
from sim.exchange.rules import Delay, FillAfter, Hold, Partial, Reject, RuleAction

_RANDOM_REJECTIONS = (
    "RMS:Rule: Check circuit limit including square off order exceeds",
    "RMS:Blocked for NRML product",
    "Your order has been rejected due to a temporary exchange issue. Please try again.",
)


@dataclass(frozen=True, slots=True)
class Modification:
    quantity: int | None = None
    price: float | None = None
    trigger_price: float | None = None
    order_type: OrderType | None = None


class OrderFlow:
    def __init__(
        self,
        *,
        clock: Clock,
        streams: RandomStreams,
        config: ExchangeConfig,
        lock: threading.RLock,
        market: Market,
        depth: DepthBook,
        accounts: Accounts,
        ledger: Ledger,
        delivery: Delivery,
        log: EventLog,
        on_enter: Callable[[], None],
        on_exit: Callable[[], None],
    ) -> None:
        self._clock = clock
        self._config = config
        self._lock = lock
        self._market = market
        self._depth = depth
        self._accounts = accounts
        self._ledger = ledger
        self._delivery = delivery
        self._log = log
        self._on_enter = on_enter  # brings the market up to now before anything is decided
        self._on_exit = on_exit  # arms the price-step timer if anything now needs it
        self._hop_rng = streams.stream("exchange.latency")
        self._gap_rng = streams.stream("exchange.fill_gap")
        self._partial_rng = streams.stream("faults.partial")
        self._reject_rng = streams.stream("faults.reject")
        self._remainder_rng = streams.stream("faults.remainder_cancel")
        self._exchange_ids = itertools.count(1)
        self._trade_ids = itertools.count(1)
        self.live: dict[str, BookOrder] = {}  # reached the exchange, not yet terminal
        self.blocking: dict[str, BookOrder] = {}  # passed RMS, not yet terminal: they block margin
        self._actions: dict[str, RuleAction] = {}

    # ------------------------------------------------------------------ plumbing

    def _after(self, delay: float, fn: Callable[..., None], *args: Any) -> None:
        self._clock.call_later(delay, self._locked, fn, *args)

    def _hop(self, order: BookOrder, fn: Callable[..., None], *args: Any) -> None:
        extra = self._actions.get(order.order_id)
        delay = self._config.latency.order_hop.draw(self._hop_rng)
        if isinstance(extra, Delay):
            delay += extra.seconds
        elif isinstance(extra, Reject):
            delay += extra.after_s
        self._after(delay, fn, order, *args)

    def _locked(self, fn: Callable[..., None], *args: Any) -> None:
        with self._lock:
            self._on_enter()
            fn(*args)
            self._on_exit()

    def _emit(self, order: BookOrder, status: str, message: str | None = None) -> None:
        update = self._ledger.record(order, status, self._clock.now(), message)
        self._log.record("status", order.order_id, status, order.filled_quantity, order.pending_quantity)
        self._delivery.publish_update(order.account, update)

    def _retire(self, order: BookOrder) -> None:
        self.live.pop(order.order_id, None)
        self.blocking.pop(order.order_id, None)
        self._actions.pop(order.order_id, None)
        order.blocked_margin = 0.0

    def _reject(self, order: BookOrder, message: str) -> None:
        self._emit(order, "REJECTED", message)
        self._retire(order)

    # ------------------------------------------------------------------ the status sequence

    def accept(self, order: BookOrder, action: RuleAction | None) -> None:
        """A new order, just created by a place call (under the lock)."""
        self._ledger.add(order)
        if action is not None:
            self._actions[order.order_id] = action
        self._emit(order, "PUT ORDER REQ RECEIVED")
        self._hop(order, self._validation_pending)

    def _validation_pending(self, order: BookOrder) -> None:
        if order.status == "PUT ORDER REQ RECEIVED":
            self._emit(order, "VALIDATION PENDING")
            self._hop(order, self._rms_check)

    def _rms_check(self, order: BookOrder) -> None:
        if order.status != "VALIDATION PENDING":
            return
        reason = self._rms_reason(order)
        if reason is not None:
            self._reject(order, reason)
            return
        self.blocking[order.order_id] = order
        self._emit(order, "OPEN PENDING")
        self._hop(order, self._exchange_accept)

    def _rms_reason(self, order: BookOrder) -> str | None:
        action = self._actions.get(order.order_id)
        if isinstance(action, Reject):
            return action.message
        rate = self._config.faults.reject_rate
        if rate > 0.0 and self._reject_rng.random() < rate:
            return self._reject_rng.choice(_RANDOM_REJECTIONS)
        inst = order.instrument
        reason = rms_rejection(
            inst,
            order_type=order.order_type,
            side=order.side,
            quantity=order.quantity,
            price=order.price,
            trigger=order.trigger_price,
            band=self._market.band(inst),
            ltp=self._market.ltp(inst),
        )
        if reason is not None or not self._config.check_margin:
            return reason
        need = self._accounts.order_need(order)
        available = self._accounts.summary(order.account, self.blocking.values()).available
        if need > available + 1e-6:
            return (
                f"RMS:Margin Exceeds, Required:{need:.2f}, Available:{available:.2f} for entity account-"
                f"{order.account} across exchange across segment across product"
            )
        order.blocked_margin = max(0.0, need)
        return None

    def _exchange_accept(self, order: BookOrder) -> None:
        if order.status != "OPEN PENDING":
            return
        reason = exchange_rejection(order.order_type, order.instrument, self._config.rules)
        if reason is not None:
            self._reject(order, reason)
            return
        order.exchange_order_id = f"{1_100_000_000_000_000 + next(self._exchange_ids)}"
        order.live = True
        self.live[order.order_id] = order
        if order.order_type in (OrderType.SL, OrderType.SL_M):
            self._emit(order, "TRIGGER PENDING")
            self.check_trigger(order)
            return
        self._emit(order, "OPEN")
        self._start_working(order)

    def _start_working(self, order: BookOrder) -> None:
        """The order can match from now on: fix its limit, apply the scenario's action, try it."""
        order.triggered = True
        order.limit = self._limit(order)
        action = self._actions.get(order.order_id)
        if isinstance(action, Hold):
            order.held = True
        elif isinstance(action, Partial):
            order.chunks = [min(action.quantity, order.pending_quantity)]
            order.forced = order.hold_after_chunks = True
        elif isinstance(action, FillAfter):
            order.held = True
            self._after(action.seconds, self._fill_after, order)
        self.match(order)

    def _fill_after(self, order: BookOrder) -> None:
        if not order.is_terminal:
            order.held = False
            order.forced = True
            order.chunks = [order.pending_quantity]
            self.match(order)

    def _limit(self, order: BookOrder) -> float:
        if order.order_type in (OrderType.LIMIT, OrderType.SL):
            return order.price
        inst = order.instrument
        protection = order.request.market_protection or -1
        pct = self._config.market.auto_protection_pct if protection == -1 else float(protection)
        return protection_limit(order.side, self._market.ltp(inst), pct, self._market.band(inst), inst.tick_size)

    # ------------------------------------------------------------------ stops and matching

    def on_prices_moved(self, underlyings: list[str]) -> None:
        for order in list(self.live.values()):
            if order.instrument.underlying in underlyings:
                if order.triggered:
                    self.match(order)
                else:
                    self.check_trigger(order)

    def check_trigger(self, order: BookOrder) -> None:
        if order.triggered or order.is_terminal or self._market.is_halted(order.instrument.underlying):
            return
        if is_triggered(order.side, order.trigger_price, self._market.ltp(order.instrument)):
            if order.status == "TRIGGER PENDING":
                self._emit(order, "OPEN")
            self._start_working(order)

    def match(self, order: BookOrder) -> None:
        if not order.is_working or self._market.is_halted(order.instrument.underlying):
            return
        if not order.chunks:
            order.chunks = self._plan(order)
        fills = self._take(order, order.chunks[0])
        filled = sum(level.quantity for level in fills)
        for level in fills:
            self._fill(order, level.quantity, level.price)
        chunk_done = False
        if filled:
            order.chunks[0] -= filled
            if order.chunks[0] <= 0:
                order.chunks.pop(0)
                chunk_done = True
        if order.pending_quantity == 0:
            self._emit(order, "COMPLETE")
            self._retire(order)
            return
        if order.request.validity is Validity.IOC:
            self._cancel_rest(order, "IOC order's unfilled quantity cancelled by the exchange")
            return
        if filled:
            self._emit(order, order.status)
            self._after_partial_fill(order, chunk_done=chunk_done)

    def _plan(self, order: BookOrder) -> list[int]:
        pieces = self._config.faults.partial_fills
        if order.request.validity is Validity.IOC or pieces[1] <= 1:
            return [order.pending_quantity]
        return plan_fills(order.pending_quantity, order.instrument.lot_size, pieces, self._partial_rng)

    def _take(self, order: BookOrder, quantity: int) -> list[Level]:
        inst = order.instrument
        band = self._market.band(inst)
        limit = min(order.limit, band.high) if order.side is Side.BUY else max(order.limit, band.low)
        if order.forced:
            return [Level(self._forced_price(order.side, limit, self._market.ltp(inst), band), quantity)]
        return self._depth.take(
            inst,
            self.quote(inst),
            side=order.side,
            limit=limit,
            quantity=quantity,
            epoch=self._market.epoch(inst),
        )

    @staticmethod
    def _forced_price(side: Side, limit: float, ltp: float, band: Band) -> float:
        """A scripted fill: at the market if that is at the limit or better, else at the limit."""
        price = band.clip(ltp)
        return min(price, limit) if side is Side.BUY else max(price, limit)

    def quote(self, inst: Instrument) -> Quote:
        market = self._market
        return self._depth.quote(
            inst,
            fair=market.fair(inst),
            ltp=market.ltp(inst),
            band=market.band(inst),
            epoch=market.epoch(inst),
            script=market.script(inst.tradingsymbol),
        )

    def _fill(self, order: BookOrder, quantity: int, price: float) -> None:
        fill = Fill(
            trade_id=f"{next(self._trade_ids):08d}",
            order_id=order.order_id,
            account=order.account,
            tradingsymbol=order.instrument.tradingsymbol,
            side=order.side,
            quantity=quantity,
            price=price,
            ts=self._clock.now(),
            instrument_token=order.instrument.instrument_token,
            exchange=order.instrument.exchange,
            mono=self._clock.monotonic(),
        )
        self._ledger.add_fill(order, fill)
        self._log.record("fill", fill.trade_id, order.order_id, quantity, price)

    def _after_partial_fill(self, order: BookOrder, *, chunk_done: bool) -> None:
        rate = self._config.faults.remainder_cancel_rate
        if rate > 0.0 and self._remainder_rng.random() < rate:
            self._hop(order, self._cancel_rest, "Your order's remaining quantity has been cancelled by the exchange")
        if order.hold_after_chunks and not order.chunks:
            order.held, order.forced = True, False
        elif chunk_done and order.chunks:
            # The next planned piece fills a little later, as a separate trade and update.
            order.waiting = True
            self._after(self._config.latency.fill_gap.draw(self._gap_rng), self._resume, order)

    def _resume(self, order: BookOrder) -> None:
        order.waiting = False
        self.match(order)

    # ------------------------------------------------------------------ cancel and modify

    def request_cancel(self, order: BookOrder) -> None:
        order.cancel_requested = True
        self._emit(order, "CANCEL PENDING")
        self._hop(order, self._cancel_rest, None)

    def _cancel_rest(self, order: BookOrder, message: str | None) -> None:
        if order.is_terminal:
            return
        order.cancelled_quantity = order.pending_quantity
        self._emit(order, "CANCELLED", message)
        self._retire(order)

    def request_modify(self, order: BookOrder, change: Modification) -> None:
        order.modifications += 1
        self._log.record("modify", order.order_id, order.modifications)
        self._hop(order, self._modify_lands, change)

    def _modify_lands(self, order: BookOrder, change: Modification) -> None:
        if order.is_terminal or order.cancel_requested:
            return
        if change.quantity is not None and change.quantity > order.filled_quantity:
            order.quantity = change.quantity
        if change.price is not None:
            order.price = change.price
        if change.trigger_price is not None:
            order.trigger_price = change.trigger_price
        if change.order_type is not None:
            order.order_type = change.order_type
        if not order.forced:  # a scenario's scripted fill keeps its plan; otherwise re-plan the rest
            order.chunks = []
        stop = order.order_type in (OrderType.SL, OrderType.SL_M)
        if order.triggered or not stop:
            order.triggered = True
            order.limit = self._limit(order)
            self._emit(order, "OPEN")
            self.match(order)
        else:
            self._emit(order, "TRIGGER PENDING")
            self.check_trigger(order)

    def release(self, order: BookOrder) -> None:
        order.held = False
        order.hold_after_chunks = False
        order.forced = False
        self._actions.pop(order.order_id, None)
        self.match(order)
