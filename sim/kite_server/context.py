"""What every route needs: the broker behind the face, the instruments, the rules, auth and faults.

The Broker port promises nothing about concurrent callers (in the service the gateway actor is its
only caller), while an HTTP server has many. Calls are therefore serialised under one lock and run
off the event loop, so a slow broker never stalls the WebSocket fan-out.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from starlette.concurrency import run_in_threadpool

from brokers.port import Broker
from domain.instruments import Instrument, InstrumentUniverse
from runtime.config import ExchangeRules
from sim.kite_server.faults import FaultPlan

T = TypeVar("T")


class ScenarioControl(Protocol):
    """Scenario controls a served exchange may offer (`/_sim/rules`, `/_sim/funds`, `/_sim/ledger`)."""

    def add_rule(self, spec: Mapping[str, Any]) -> int: ...

    def clear_rules(self) -> None: ...

    def release(self, order_id: str) -> None: ...

    def set_funds(self, amount: float, account: str = "default") -> None: ...

    def ledger(self) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class Credentials:
    """What the server was started with; a field left None accepts any value."""

    api_key: str | None = None
    access_token: str | None = None

    @property
    def open(self) -> bool:
        return self.api_key is None and self.access_token is None

    def accepts(self, api_key: str | None, access_token: str | None) -> bool:
        return (self.api_key is None or api_key == self.api_key) and (
            self.access_token is None or access_token == self.access_token
        )

    def accepts_header(self, authorization: str | None) -> bool:
        """`Authorization: token api_key:access_token`, as kiteconnect sends it."""
        scheme, _, pair = (authorization or "").partition(" ")
        api_key, sep, access_token = pair.partition(":")
        return scheme == "token" and bool(sep) and self.accepts(api_key, access_token)


class KiteContext:
    def __init__(
        self,
        broker: Broker,
        instruments: Iterable[Instrument],
        *,
        rules: ExchangeRules,
        credentials: Credentials,
        control: ScenarioControl | None = None,
    ) -> None:
        self.broker = broker
        self.control = control
        self.universe = InstrumentUniverse(instruments)
        self.rules = rules
        self.credentials = credentials
        self.faults = FaultPlan()
        self._lock = threading.Lock()

    def _locked(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        with self._lock:
            return fn(*args, **kwargs)

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await run_in_threadpool(self._locked, fn, *args, **kwargs)

    def token_of(self, tradingsymbol: str) -> int:
        inst = self.universe.get(tradingsymbol)
        return inst.instrument_token if inst is not None else 0

    def last_prices(self, tokens: Iterable[int]) -> dict[int, float]:
        """Token → last price, for the snapshot a subscriber gets (called off the event loop)."""
        by_exchange: defaultdict[str, list[Instrument]] = defaultdict(list)
        for token in tokens:
            inst = self.universe.by_token(token)
            if inst is not None:
                by_exchange[inst.exchange].append(inst)
        prices: dict[int, float] = {}
        for exchange, instruments in by_exchange.items():
            quoted = self._locked(self.broker.ltp, [i.tradingsymbol for i in instruments], exchange=exchange)
            prices.update(
                {i.instrument_token: quoted[i.tradingsymbol] for i in instruments if i.tradingsymbol in quoted}
            )
        return prices

    def watch_tokens(self, tokens: frozenset[int]) -> None:
        self._locked(self.broker.subscribe_ticks, sorted(tokens))
