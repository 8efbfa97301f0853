"""Kite JSON payloads → the Broker port's values.

Accepts both the raw JSON Kite sends (postbacks, WebSocket order updates, the simulator's bodies) and
what `kiteconnect` hands back after `_format_response`, which turns 19-character timestamps into
`datetime` objects. Every timestamp leaves here as Kite's own `YYYY-MM-DD HH:MM:SS` text, so an order
read from the book and the same order pushed on the WebSocket compare equal.

Binary tick packets and the instrument dump have their own modules (`packets`, `instruments`); they
are re-exported here so that one import covers every Kite shape.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from brokers.kite.instruments import parse_instrument_rows, parse_instruments_csv
from brokers.kite.packets import parse_tick_frame, parse_tick_packet
from brokers.port import BasketMargins, Margins, OrderMargin, Position, Trade
from domain.messages import OrderUpdate
from domain.model import Side

__all__ = [
    "AutosliceChild",
    "AutosliceResult",
    "KiteErrorPayload",
    "PostbackChecksumError",
    "Quote",
    "parse_autoslice",
    "parse_basket_margins",
    "parse_instrument_rows",
    "parse_instruments_csv",
    "parse_ltp",
    "parse_margins",
    "parse_order",
    "parse_order_margins",
    "parse_order_response",
    "parse_orders",
    "parse_position",
    "parse_positions",
    "parse_postback",
    "parse_quote",
    "parse_tick_frame",
    "parse_tick_packet",
    "parse_trade",
    "parse_trades",
    "postback_checksum",
]

Payload = Mapping[str, Any]
_KITE_TIME = "%Y-%m-%d %H:%M:%S"


@dataclass(frozen=True, slots=True)
class KiteErrorPayload:
    error_type: str
    message: str
    code: int | None = None


@dataclass(frozen=True, slots=True)
class AutosliceChild:
    """One slice: placed (`order_id`) or refused (`error`) — a refusal can hide inside a success."""

    order_id: str | None = None
    error: KiteErrorPayload | None = None

    @property
    def placed(self) -> bool:
        return self.order_id is not None


@dataclass(frozen=True, slots=True)
class AutosliceResult:
    order_id: str
    children: tuple[AutosliceChild, ...]

    @property
    def failed(self) -> tuple[AutosliceChild, ...]:
        return tuple(child for child in self.children if not child.placed)


@dataclass(frozen=True, slots=True)
class Quote:
    key: str  # "EXCHANGE:TRADINGSYMBOL", as Kite keys quotes
    instrument_token: int
    last_price: float

    @property
    def tradingsymbol(self) -> str:
        return self.key.split(":", 1)[-1]


class PostbackChecksumError(ValueError):
    """A postback whose checksum does not match: not from Kite, or not for this app."""


# --------------------------------------------------------------------------- scalars


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _float(value: Any) -> float:
    return 0.0 if value is None or value == "" else float(value)


def _int(value: Any) -> int:
    return 0 if value is None or value == "" else int(value)


def _timestamp(value: Any) -> str | None:
    if isinstance(value, dt.datetime):
        return value.strftime(_KITE_TIME)
    return _text(value)


# --------------------------------------------------------------------------- orders


def parse_order(payload: Payload, *, ts: float = 0.0) -> OrderUpdate:
    """One order in any of Kite's order shapes: order book row, history row, postback, WebSocket update."""
    return OrderUpdate(
        ts=ts,
        order_id=str(payload["order_id"]),
        status=str(payload["status"]),
        tag=_text(payload.get("tag")),
        exchange=str(payload.get("exchange") or ""),
        tradingsymbol=str(payload.get("tradingsymbol") or ""),
        transaction_type=str(payload.get("transaction_type") or ""),
        order_type=str(payload.get("order_type") or ""),
        product=str(payload.get("product") or ""),
        variety=str(payload.get("variety") or "regular"),
        validity=str(payload.get("validity") or "DAY"),
        quantity=_int(payload.get("quantity")),
        filled_quantity=_int(payload.get("filled_quantity")),
        pending_quantity=_int(payload.get("pending_quantity")),
        cancelled_quantity=_int(payload.get("cancelled_quantity")),
        price=_float(payload.get("price")),
        trigger_price=_float(payload.get("trigger_price")),
        average_price=_float(payload.get("average_price")),
        market_protection=_float(payload.get("market_protection")),
        status_message=_text(payload.get("status_message")),
        exchange_order_id=_text(payload.get("exchange_order_id")),
        parent_order_id=_text(payload.get("parent_order_id")),
        order_timestamp=_timestamp(payload.get("order_timestamp")),
        exchange_update_timestamp=_timestamp(payload.get("exchange_update_timestamp")),
        instrument_token=_int(payload.get("instrument_token")),
    )


def parse_orders(data: Sequence[Payload], *, ts: float = 0.0) -> list[OrderUpdate]:
    """`orders()` (the day's book) and `order_history()` (one order's states, oldest first)."""
    return [parse_order(item, ts=ts) for item in data]


def postback_checksum(order_id: str, order_timestamp: str, api_secret: str) -> str:
    return hashlib.sha256(f"{order_id}{order_timestamp}{api_secret}".encode()).hexdigest()


def parse_postback(payload: Payload, *, api_secret: str | None = None, ts: float = 0.0) -> OrderUpdate:
    """An HTTP postback. With `api_secret`, its checksum must match or it is refused.

    WebSocket updates carry a blank checksum (KITE.md), so only HTTP postbacks are verified.
    """
    if api_secret is not None:
        expected = postback_checksum(
            str(payload["order_id"]), _timestamp(payload.get("order_timestamp")) or "", api_secret
        )
        if not hmac.compare_digest(expected, str(payload.get("checksum") or "")):
            raise PostbackChecksumError(f"postback checksum mismatch for order {payload.get('order_id')}")
    return parse_order(payload, ts=ts)


def parse_order_response(data: Payload) -> str:
    """`place_order` / `modify_order` / `cancel_order` → the order_id (accepted, not yet placed)."""
    return str(data["order_id"])


def parse_autoslice(data: Payload) -> AutosliceResult:
    children = []
    for child in data.get("children") or ():
        error = child.get("error")
        if error:
            children.append(
                AutosliceChild(
                    error=KiteErrorPayload(
                        error_type=str(error.get("error_type") or "GeneralException"),
                        message=str(error.get("message") or ""),
                        code=error.get("code"),
                    )
                )
            )
        else:
            children.append(AutosliceChild(order_id=str(child["order_id"])))
    return AutosliceResult(order_id=str(data["order_id"]), children=tuple(children))


# --------------------------------------------------------------------------- trades and positions


def parse_trade(payload: Payload) -> Trade:
    return Trade(
        trade_id=str(payload["trade_id"]),
        order_id=str(payload["order_id"]),
        exchange=str(payload.get("exchange") or ""),
        tradingsymbol=str(payload.get("tradingsymbol") or ""),
        side=Side(payload["transaction_type"]),
        quantity=_int(payload.get("quantity")),
        price=_float(payload.get("average_price")),
        fill_timestamp=_timestamp(payload.get("fill_timestamp")),
        instrument_token=_int(payload.get("instrument_token")),
    )


def parse_trades(data: Sequence[Payload]) -> list[Trade]:
    return [parse_trade(item) for item in data]


def parse_position(payload: Payload) -> Position:
    return Position(
        exchange=str(payload.get("exchange") or ""),
        tradingsymbol=str(payload["tradingsymbol"]),
        product=str(payload.get("product") or ""),
        quantity=_int(payload.get("quantity")),
        average_price=_float(payload.get("average_price")),
        last_price=_float(payload.get("last_price")),
        pnl=_float(payload.get("pnl")),
        buy_quantity=_int(payload.get("buy_quantity")),
        sell_quantity=_int(payload.get("sell_quantity")),
        instrument_token=_int(payload.get("instrument_token")),
    )


def parse_positions(data: Payload, *, book: str = "net") -> list[Position]:
    """`positions()` returns `net` (what the account holds) and `day` (today's trading); legguard
    reconciles against `net`."""
    return [parse_position(item) for item in data.get(book) or ()]


# --------------------------------------------------------------------------- margins


def parse_margins(data: Payload, *, segment: str = "equity") -> Margins:
    """`margins()` (every segment) or `margins(segment)` (one). `net` is what new positions may use."""
    funds = data[segment] if isinstance(data.get(segment), Mapping) else data
    available = funds.get("available") or {}
    utilised = funds.get("utilised") or {}
    detail = {f"available.{k}": _float(v) for k, v in available.items() if isinstance(v, int | float)}
    detail.update({f"utilised.{k}": _float(v) for k, v in utilised.items() if isinstance(v, int | float)})
    return Margins(
        available=_float(funds.get("net")),
        utilised=_float(utilised.get("debits")),
        cash=_float(available.get("cash")),
        collateral=_float(available.get("collateral")),
        detail=detail,
    )


def _order_margin(payload: Payload) -> OrderMargin:
    return OrderMargin(
        tradingsymbol=str(payload.get("tradingsymbol") or ""),
        span=_float(payload.get("span")),
        exposure=_float(payload.get("exposure")),
        option_premium=_float(payload.get("option_premium")),
        total=_float(payload.get("total")),
    )


def parse_order_margins(data: Sequence[Payload]) -> list[OrderMargin]:
    return [_order_margin(item) for item in data]


def parse_basket_margins(data: Payload) -> BasketMargins:
    """`initial` is the basket without hedge benefit, `final` with it (KITE.md: 96,505 vs 34,787)."""
    return BasketMargins(
        initial_total=_float((data.get("initial") or {}).get("total")),
        final_total=_float((data.get("final") or {}).get("total")),
        orders=tuple(_order_margin(item) for item in data.get("orders") or ()),
    )


# --------------------------------------------------------------------------- quotes


def parse_ltp(data: Mapping[str, Payload]) -> dict[str, Quote]:
    """`ltp()` and `quote()` share the keys and the two fields legguard reads."""
    return {
        key: Quote(
            key=key,
            instrument_token=_int(item.get("instrument_token")),
            last_price=_float(item["last_price"]),
        )
        for key, item in data.items()
    }


parse_quote = parse_ltp
