"""Market data: the last good price of every instrument someone watches, fanned out as it arrives.

A tick that is zero, NaN, negative or stale is ignored and counted: a bad tick must never move a
stop or an exposure decision.
"""

from __future__ import annotations

import math
from typing import Any

from actors.messages import BrokerTick, MarketTick, SubscribeTicks, UnwatchTokens, WatchTokens
from supervision.base import SupervisedActor, handles


class MarketActor(SupervisedActor):
    def started(self) -> None:
        self.last: dict[int, MarketTick] = {}
        self.watchers: dict[int, dict[str, None]] = {}
        self.subscribed: set[int] = set()
        self.bad_ticks = {"zero_or_negative": 0, "not_finite": 0, "stale": 0}
        self.good_ticks = 0

    def describe(self) -> dict[str, Any]:
        return {
            "address": self.actor_address,
            "tokens": len(self.last),
            "good_ticks": self.good_ticks,
            "bad_ticks": dict(self.bad_ticks),
            "watched": len(self.watchers),
        }

    @handles(WatchTokens)
    def on_watch(self, message: WatchTokens) -> None:
        fresh = []
        for token in message.tokens:
            self.watchers.setdefault(token, {})[message.address] = None
            if token not in self.subscribed:
                self.subscribed.add(token)
                fresh.append(token)
            elif token in self.last:
                self.tell(message.address, self.last[token])
        if fresh:
            self.tell("gateway", SubscribeTicks(tuple(fresh)))

    @handles(UnwatchTokens)
    def on_unwatch(self, message: UnwatchTokens) -> None:
        for watchers in self.watchers.values():
            watchers.pop(message.address, None)

    @handles(BrokerTick)
    def on_tick(self, message: BrokerTick) -> None:
        tick = message.tick
        price = tick.last_price
        if not math.isfinite(price):
            self.bad_ticks["not_finite"] += 1
            return
        if price <= 0:
            self.bad_ticks["zero_or_negative"] += 1
            return
        now = self.ctx.clock.now()
        if tick.ts and now - tick.ts > self.ctx.settings.risk.stale_tick_s:
            self.bad_ticks["stale"] += 1
            return
        symbol = tick.tradingsymbol
        if not symbol:
            inst = self.ctx.universe.by_token(tick.instrument_token)
            symbol = inst.tradingsymbol if inst is not None else ""
        good = MarketTick(tick.instrument_token, symbol, price, tick.ts or now)
        self.good_ticks += 1
        self.last[tick.instrument_token] = good
        for address in self.watchers.get(tick.instrument_token, {}):
            self.tell(address, good)
