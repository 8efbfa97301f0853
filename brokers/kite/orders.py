"""OrderRequest → the parameters `KiteConnect.place_order` sends, after the checks Kite would fail later.

Refusing here costs nothing; the same mistake sent to Kite costs a rejected order, a status update to
chase and an order from the per-second budget. Each refusal is final (`BrokerRejected`) with
`kind=LOCAL_REJECT` so it is told apart from Kite's own rejections.
"""

from __future__ import annotations

from typing import Any

from brokers.port import BrokerRejected, OrderRequest
from domain.model import OrderType
from runtime.config import ExchangeRules

LOCAL_REJECT = "LocalReject"

_NEEDS_PROTECTION = (OrderType.MARKET, OrderType.SL_M)
_NEEDS_PRICE = (OrderType.LIMIT, OrderType.SL)
_NEEDS_TRIGGER = (OrderType.SL, OrderType.SL_M)
_OPTION_SUFFIXES = ("CE", "PE")
_DERIVATIVE_EXCHANGES = ("NFO", "BFO")


def is_option(exchange: str, tradingsymbol: str) -> bool:
    """Kite's F&O option symbols end in CE or PE (NIFTY26DEC24500CE, NIFTY2612124500PE)."""
    return exchange in _DERIVATIVE_EXCHANGES and tradingsymbol.endswith(_OPTION_SUFFIXES)


def _refuse(message: str) -> BrokerRejected:
    return BrokerRejected(message, kind=LOCAL_REJECT)


def check_tag(tag: str, rules: ExchangeRules) -> None:
    # Kite rejects a longer tag rather than cutting it, and a cut tag would no longer be unique.
    if not tag or len(tag) > rules.tag_max_length:
        raise _refuse(f"tag {tag!r} must be 1..{rules.tag_max_length} characters")


def check_market_protection(value: int) -> None:
    if value != -1 and not 1 <= value <= 100:
        raise _refuse(f"market_protection {value} must be -1 (automatic) or 1..100")


def market_protection_for(
    order_type: OrderType | str, requested: int | None, rules: ExchangeRules
) -> int | None:
    """MARKET and SL-M orders must carry market_protection (rejected without it from 1 Apr 2026)."""
    if OrderType(order_type) not in _NEEDS_PROTECTION:
        return None
    value = rules.market_protection if requested is None else requested
    check_market_protection(value)
    return value


def check_order(request: OrderRequest, rules: ExchangeRules) -> None:
    check_tag(request.tag, rules)
    if request.quantity <= 0:
        raise _refuse(f"quantity {request.quantity} must be positive")
    if (
        request.order_type is OrderType.SL_M
        and not rules.sl_m_allowed_on_options
        and is_option(request.exchange, request.tradingsymbol)
    ):
        # NSE refuses SL-M on index and stock options (error 16052): a stop on an option is an SL order.
        raise _refuse(f"SL-M is not allowed on option {request.tradingsymbol}; use SL (trigger + limit)")
    if request.order_type in _NEEDS_PRICE and not request.price:
        raise _refuse(f"{request.order_type.value} order needs a price")
    if request.order_type in _NEEDS_TRIGGER and not request.trigger_price:
        raise _refuse(f"{request.order_type.value} order needs a trigger_price")


def place_params(request: OrderRequest, rules: ExchangeRules) -> dict[str, Any]:
    """Keyword arguments for `KiteConnect.place_order`; never autoslice (legguard slices itself)."""
    check_order(request, rules)
    params: dict[str, Any] = {
        "variety": request.variety,
        "exchange": request.exchange,
        "tradingsymbol": request.tradingsymbol,
        "transaction_type": request.side.value,
        "quantity": request.quantity,
        "product": request.product.value,
        "order_type": request.order_type.value,
        "validity": request.validity.value,
        "tag": request.tag,
    }
    if request.order_type in _NEEDS_PRICE:
        params["price"] = request.price
    if request.order_type in _NEEDS_TRIGGER:
        params["trigger_price"] = request.trigger_price
    protection = market_protection_for(request.order_type, request.market_protection, rules)
    if protection is not None:
        params["market_protection"] = protection
    return params


def margin_params(request: OrderRequest) -> dict[str, Any]:
    """One order of a `basket_order_margins` / `order_margins` JSON body."""
    return {
        "exchange": request.exchange,
        "tradingsymbol": request.tradingsymbol,
        "transaction_type": request.side.value,
        "variety": request.variety,
        "product": request.product.value,
        "order_type": request.order_type.value,
        "quantity": request.quantity,
        "price": request.price or 0,
        "trigger_price": request.trigger_price or 0,
    }
