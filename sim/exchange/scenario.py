"""Scenario control: what a test, a scenario script or a drill does to the exchange on purpose.

Targeted order rules (`add_rule`), scripted prices and moves (`set_spot`, `gap`, `halt`, `set_ltp`,
`set_band`, `set_vol`), funds, and a dropped push channel. A mixin of `Exchange`.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Sequence
from typing import Any

from domain.instruments import InstrumentUniverse
from sim.exchange.accounts import Accounts
from sim.exchange.delivery import Delivery
from sim.exchange.events import EventLog
from sim.exchange.flow import OrderFlow
from sim.exchange.ledger import Ledger
from sim.exchange.market import Market, Script
from sim.exchange.rules import OrderRule, RuleBook


class ScenarioControl:
    _lock: threading.RLock
    _flow: OrderFlow
    _rules: RuleBook
    _delivery: Delivery
    _sync: Callable[[], None]
    _arm: Callable[[], None]
    _after_move: Callable[[list[str]], None]
    universe: InstrumentUniverse
    market: Market
    ledger: Ledger
    accounts: Accounts
    log: EventLog

    def add_rule(self, rule: OrderRule) -> int:
        with self._lock:
            return self._rules.add(rule)

    def remove_rule(self, rule_id: int) -> None:
        with self._lock:
            self._rules.remove(rule_id)

    def clear_rules(self) -> None:
        with self._lock:
            self._rules.clear()

    def release(self, order_id: str) -> None:
        """Let a held order match normally from now on."""
        with self._lock:
            self._sync()
            order = self.ledger.get(order_id)
            if order is None:
                raise KeyError(order_id)
            self._flow.release(order)
            self._arm()

    def set_spot(self, underlying: str, price: float) -> None:
        self._move(underlying, lambda: self.market.set_spot(underlying, price))

    def gap(self, underlying: str, *, pct: float | None = None, to_price: float | None = None) -> None:
        self._move(underlying, lambda: self.market.gap(underlying, pct=pct, to_price=to_price))

    def set_vol(self, underlying: str, atm_vol: float) -> None:
        self._move(underlying, lambda: self.market.set_vol(underlying, atm_vol))

    def halt(self, underlying: str, seconds: float) -> None:
        """No trading (no fills, no triggers, no ticks, a frozen price) for `seconds`."""
        with self._lock:
            self._sync()
            self.market.halt(underlying, seconds)
            self.log.record("halt", underlying, seconds)
            self._arm()

    def resume_trading(self, underlying: str | None = None) -> None:
        """Reopen a halted underlying (all of them by default) as a new session would."""
        with self._lock:
            self._sync()
            for name in [underlying] if underlying else list(self.config.market.underlyings):
                self.market.resume(name)
                self.log.record("resume", name)
            self._arm()

    def set_faults(self, faults: Any, latency: Any = None) -> None:
        """Replace the fault settings (and optionally the latencies) from now on."""
        with self._lock:
            changes: dict[str, Any] = {"faults": faults}
            if latency is not None:
                changes["latency"] = latency
            self.config = dataclasses.replace(self.config, **changes)
            self._flow._config = self.config
            self._delivery._faults = self.config.faults
            self._delivery._push = self.config.latency.push

    def set_ltp(
        self, symbol: str, price: float, *, spread_ticks: int = 0, level_lots: Sequence[int] | None = None
    ) -> None:
        """Script one instrument's price (the model no longer moves it) and, optionally, its book."""
        script = Script(price, spread_ticks, tuple(level_lots) if level_lots is not None else None)
        underlying = self.universe[symbol].underlying
        self._move(underlying, lambda: self.market.set_ltp(symbol, script))

    def clear_ltp(self, symbol: str) -> None:
        self._move(self.universe[symbol].underlying, lambda: self.market.clear_ltp(symbol))

    def set_band(self, symbol: str, low: float, high: float) -> None:
        self._move(self.universe[symbol].underlying, lambda: self.market.set_band(symbol, low, high))

    def set_funds(self, account: str, amount: float) -> None:
        with self._lock:
            self.accounts.set_funds(account, amount)

    def disconnect(self, account: str, seconds: float) -> None:
        """Drop the account's push channel: updates sent meanwhile are lost (the book keeps them)."""
        with self._lock:
            self._delivery.disconnect(account, seconds)

    def _move(self, underlying: str, change: Callable[[], object]) -> None:
        with self._lock:
            self._sync()
            change()
            self.log.record("scripted", underlying, round(self.market.spot(underlying), 4))
            self._after_move([underlying])
            self._arm()
