"""`KiteBroker`: the Broker port over Kite Connect (REST through `KiteConnect`, push through `KiteTicker`).

The same code talks to Kite itself or to `legguard sim-exchange` on loopback: only
`KiteConfig.api_root` / `ws_root` differ. One `KiteConnect` per adapter, and a lock around it: the
client shares one `requests.Session` and has no lock of its own. The client has no retries, no
throttling and no idempotency key; the gateway does the first two, and tags (unique per intent) stand
in for the third — after an unknown outcome, `order_by_tag` finds what was really placed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from brokers.kite.errors import classify_error
from brokers.kite.orders import margin_params, market_protection_for, place_params
from brokers.kite.parse import (
    parse_basket_margins,
    parse_instrument_rows,
    parse_ltp,
    parse_margins,
    parse_orders,
    parse_positions,
    parse_trades,
)
from brokers.kite.ticker import KitePushChannel
from brokers.port import BasketMargins, BrokerListener, Margins, OrderRequest, Position, Trade
from domain.instruments import Instrument
from domain.messages import OrderUpdate
from domain.model import OrderType
from runtime.clock import Clock
from runtime.config import ExchangeRules, KiteConfig

T = TypeVar("T")

MARGIN_SEGMENT = "equity"  # F&O margins live in Kite's equity segment


def _default_client(config: KiteConfig) -> Any:
    from kiteconnect import KiteConnect

    return KiteConnect(
        config.api_key, access_token=config.access_token, root=config.api_root, timeout=config.timeout_s
    )


class KiteBroker:
    def __init__(
        self,
        config: KiteConfig,
        *,
        rules: ExchangeRules,
        clock: Clock,
        push: KitePushChannel | None = None,
        client_factory: Callable[[KiteConfig], Any] = _default_client,
    ) -> None:
        self._rules = rules
        self._clock = clock
        self._client = client_factory(config)
        self._lock = threading.Lock()
        self._push = push if push is not None else KitePushChannel(config, clock=clock)

    @property
    def push(self) -> KitePushChannel:
        """The push channel (its `connected` flag and `connects` count are what operators watch)."""
        return self._push

    # ------------------------------------------------------------------ calls

    def _call(self, fn: Callable[..., T], *args: Any, write: bool, **kwargs: Any) -> T:
        with self._lock:
            try:
                return fn(*args, **kwargs)
            except Exception as exc:
                raise classify_error(exc, write=write) from exc

    def _read(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return self._call(fn, *args, write=False, **kwargs)

    def _write(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return self._call(fn, *args, write=True, **kwargs)

    # ------------------------------------------------------------------ orders

    def place_order(self, request: OrderRequest) -> str:
        params = place_params(request, self._rules)  # local refusals raise before anything is sent
        return str(self._write(self._client.place_order, **params))

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
        protection = market_protection_for(order_type, None, self._rules) if order_type is not None else None
        return str(
            self._write(
                self._client.modify_order,
                variety,
                order_id,
                quantity=quantity,
                price=price,
                trigger_price=trigger_price,
                order_type=order_type.value if order_type is not None else None,
                market_protection=protection,
            )
        )

    def cancel_order(self, order_id: str, *, variety: str = "regular") -> str:
        return str(self._write(self._client.cancel_order, variety, order_id))

    # ------------------------------------------------------------------ reads

    def orders(self) -> list[OrderUpdate]:
        return parse_orders(self._read(self._client.orders), ts=self._clock.now())

    def order_history(self, order_id: str) -> list[OrderUpdate]:
        return parse_orders(self._read(self._client.order_history, order_id), ts=self._clock.now())

    def order_by_tag(self, tag: str) -> list[OrderUpdate]:
        """Today's orders carrying `tag`: how an unknown outcome is resolved (empty: never placed)."""
        return [order for order in self.orders() if order.tag == tag]

    def trades(self) -> list[Trade]:
        return parse_trades(self._read(self._client.trades))

    def order_trades(self, order_id: str) -> list[Trade]:
        return parse_trades(self._read(self._client.order_trades, order_id))

    def positions(self) -> list[Position]:
        return parse_positions(self._read(self._client.positions))

    def margins(self) -> Margins:
        return parse_margins(self._read(self._client.margins, MARGIN_SEGMENT))

    def basket_margins(
        self, orders: Sequence[OrderRequest], *, consider_positions: bool = True
    ) -> BasketMargins:
        body = [margin_params(order) for order in orders]
        data = self._read(self._client.basket_order_margins, body, consider_positions=consider_positions)
        return parse_basket_margins(data)

    def ltp(self, tradingsymbols: Sequence[str], *, exchange: str = "NFO") -> dict[str, float]:
        if not tradingsymbols:
            return {}
        data = self._read(self._client.ltp, [f"{exchange}:{symbol}" for symbol in tradingsymbols])
        return {quote.tradingsymbol: quote.last_price for quote in parse_ltp(data).values()}

    def instruments(self, freeze_quantities: Mapping[str, int], *, exchange: str = "NFO") -> list[Instrument]:
        """The exchange's contracts from Kite's dump, with freeze quantities from settings."""
        return parse_instrument_rows(self._read(self._client.instruments, exchange), freeze_quantities)

    # ------------------------------------------------------------------ push

    def subscribe(self, listener: BrokerListener, tokens: Sequence[int] = ()) -> None:
        self._push.start(listener, tokens)

    def subscribe_ticks(self, tokens: Sequence[int]) -> None:
        self._push.subscribe_ticks(tokens)

    def close(self) -> None:
        self._push.close()
        with self._lock:
            self._client.reqsession.close()
