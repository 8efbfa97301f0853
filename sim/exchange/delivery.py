"""Pushing order updates and ticks to subscribers, the way a Kite WebSocket does: late, sometimes
twice, sometimes out of order, sometimes not at all, and nothing while the socket is down.

Every delivery goes through a clock timer, never a direct call, so a listener is never called
back inside an exchange request (or while the exchange holds its lock). The order book keeps
every update whatever happens here: a client that missed one reconciles from `orders()`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from brokers.port import BrokerListener
from domain.messages import OrderUpdate, Tick
from runtime.clock import Clock
from runtime.rng import RandomStreams
from sim.exchange.config import ExchangeConfig
from sim.exchange.events import EventLog
from sim.exchange.ledger import TERMINAL


class Subscription:
    __slots__ = ("account", "active", "down_until", "last_due", "last_prices", "listener", "number", "tokens")

    def __init__(self, number: int, account: str, listener: BrokerListener, tokens: Iterable[int]) -> None:
        self.number = number  # names the subscriber in the event log (object ids vary per process)
        self.account = account
        self.listener = listener
        self.tokens: dict[int, None] = dict.fromkeys(tokens)
        self.last_prices: dict[int, float] = {}
        self.down_until = -1.0
        self.last_due = 0.0  # a socket is a FIFO: no update is due before the one sent ahead of it
        self.active = True


class Delivery:
    def __init__(self, clock: Clock, streams: RandomStreams, config: ExchangeConfig, log: EventLog) -> None:
        self._clock = clock
        self._faults = config.faults
        self._push = config.latency.push
        self._log = log
        self._subs: list[Subscription] = []
        self._latency_rng = streams.stream("exchange.push")
        self._drop_rng = streams.stream("faults.drop")
        self._dup_rng = streams.stream("faults.duplicate")
        self._reorder_rng = streams.stream("faults.reorder")
        self._bad_tick_rng = streams.stream("faults.bad_tick")

    # ------------------------------------------------------------------ subscriptions

    def subscribe(self, account: str, listener: BrokerListener, tokens: Iterable[int]) -> None:
        sub = self._find(listener)
        if sub is None:
            self._subs.append(Subscription(len(self._subs) + 1, account, listener, tokens))
            return
        sub.account = account
        sub.tokens.update(dict.fromkeys(tokens))

    def add_tokens(self, listener: BrokerListener, tokens: Iterable[int]) -> None:
        sub = self._find(listener)
        if sub is None:
            raise KeyError("listener is not subscribed")
        sub.tokens.update(dict.fromkeys(tokens))

    def unsubscribe(self, listener: BrokerListener) -> None:
        sub = self._find(listener)
        if sub is not None:
            sub.active = False
            self._subs.remove(sub)

    def close(self) -> None:
        """Nothing more reaches anyone, including deliveries already on their way."""
        for sub in self._subs:
            sub.active = False
        self._subs.clear()

    def wanted_tokens(self) -> dict[int, None]:
        """Every subscribed token, in subscription order."""
        out: dict[int, None] = {}
        for sub in self._subs:
            out.update(sub.tokens)
        return out

    def has_tick_subscribers(self) -> bool:
        return any(sub.tokens for sub in self._subs)

    def _find(self, listener: BrokerListener) -> Subscription | None:
        for sub in self._subs:
            if sub.listener is listener:
                return sub
        return None

    # ------------------------------------------------------------------ order updates

    def publish_update(self, account: str, update: OrderUpdate) -> None:
        for sub in self._subs:
            if sub.account == account:
                self._publish_to(sub, update)

    def _publish_to(self, sub: Subscription, update: OrderUpdate) -> None:
        faults = self._faults
        label = (sub.number, update.order_id, update.status, update.filled_quantity)
        if self._is_down(sub):
            self._log.record("lost_disconnected", *label)
            return
        droppable = faults.drop_terminal or update.status not in TERMINAL
        if faults.drop_rate > 0.0 and self._drop_rng.random() < faults.drop_rate and droppable:
            self._log.record("dropped", *label)
            return
        now = self._clock.monotonic()
        due = now + self._push.draw(self._latency_rng)
        if faults.reorder_rate > 0.0 and self._reorder_rng.random() < faults.reorder_rate:
            # Held back outside the FIFO, so the updates sent after it overtake it.
            due += self._reorder_rng.uniform(0.0, faults.reorder_window_s)
            self._log.record("reordered", *label)
        else:
            due = sub.last_due = max(due, sub.last_due)
        delay = due - now
        self._clock.call_later(delay, self._deliver_update, sub, update)
        if faults.duplicate_rate > 0.0 and self._dup_rng.random() < faults.duplicate_rate:
            self._log.record("duplicated", *label)
            extra = self._dup_rng.uniform(0.0, faults.reorder_window_s)
            self._clock.call_later(delay + extra, self._deliver_update, sub, update)

    def _deliver_update(self, sub: Subscription, update: OrderUpdate) -> None:
        label = (sub.number, update.order_id, update.status, update.filled_quantity)
        if not sub.active or self._is_down(sub):
            self._log.record("lost_disconnected", *label)
            return
        self._log.record("delivered", *label)
        sub.listener.on_order_update(update)

    # ------------------------------------------------------------------ ticks

    def publish_ticks(self, prices: dict[int, tuple[float, str]], now: float) -> None:
        """Send each subscriber the tokens it wants whose price changed since it last saw them."""
        for sub in self._subs:
            if self._is_down(sub):
                continue
            for token in sub.tokens:
                quote = prices.get(token)
                if quote is None or sub.last_prices.get(token) == quote[0]:
                    continue
                sub.last_prices[token] = quote[0]
                price = self._maybe_bad(quote[0])
                self._log.record("tick", sub.number, token, price)
                tick = Tick(ts=now, instrument_token=token, last_price=price, tradingsymbol=quote[1])
                due = sub.last_due = max(self._clock.monotonic() + self._push.draw(self._latency_rng), sub.last_due)
                self._clock.call_later(due - self._clock.monotonic(), self._deliver_tick, sub, tick)

    def _maybe_bad(self, price: float) -> float:
        rate = self._faults.bad_tick_rate
        if rate > 0.0 and self._bad_tick_rng.random() < rate:
            return 0.0 if self._bad_tick_rng.random() < 0.5 else float("nan")
        return price

    def _deliver_tick(self, sub: Subscription, tick: Tick) -> None:
        if sub.active and not self._is_down(sub):
            sub.listener.on_tick(tick)

    # ------------------------------------------------------------------ the socket

    def disconnect(self, account: str, seconds: float) -> None:
        """Drop the push channel of `account`'s subscribers for `seconds`: updates meanwhile are lost."""
        now = self._clock.monotonic()
        for sub in self._subs:
            if sub.account == account:
                sub.down_until = now + seconds
                sub.last_prices.clear()
                self._log.record("disconnect", sub.number, seconds)
                self._clock.call_later(0.0, self._notify_connection, sub, False)
                self._clock.call_later(seconds, self._notify_connection, sub, True)

    def _is_down(self, sub: Subscription) -> bool:
        return self._clock.monotonic() < sub.down_until

    def _notify_connection(self, sub: Subscription, connected: bool) -> None:
        if sub.active:
            sub.listener.on_connection(connected)

    def describe(self) -> list[dict[str, Any]]:
        return [{"number": s.number, "account": s.account, "tokens": list(s.tokens)} for s in self._subs]
