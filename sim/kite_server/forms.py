"""Request bodies → Broker port requests, refusing what Kite's API refuses (as InputException).

Orders arrive form-encoded (`place_order`, `modify_order`), margin baskets as JSON. The checks here
are the API's own (tag length, market_protection on MARKET / SL-M, known enums); what the exchange
refuses (SL-M on options, freeze quantity, bands, margin) is the broker's business and shows up as a
REJECTED order or a broker error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from brokers.port import OrderRequest
from domain.model import OrderType, Product, Side, Validity
from runtime.config import ExchangeRules
from sim.kite_server.envelope import input_error

_REQUIRED = ("exchange", "tradingsymbol", "transaction_type", "quantity", "product", "order_type")
_NEEDS_PROTECTION = (OrderType.MARKET, OrderType.SL_M)


def parse_form(body: bytes) -> dict[str, str]:
    """`application/x-www-form-urlencoded` without python-multipart (which Starlette would need)."""
    return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))


def _enum(enum: Any, fields: Mapping[str, Any], name: str, default: Any = None) -> Any:
    raw = fields.get(name)
    if raw in (None, ""):
        if default is None:
            raise input_error(f"Missing `{name}`.")
        return default
    try:
        return enum(str(raw))
    except ValueError:
        raise input_error(f"Invalid `{name}`: {raw!r}.") from None


def _number(fields: Mapping[str, Any], name: str, kind: type) -> Any:
    raw = fields.get(name)
    if raw in (None, ""):
        return None
    try:
        value = kind(float(raw)) if kind is int else kind(raw)
    except (TypeError, ValueError):
        raise input_error(f"Invalid `{name}`: {raw!r}.") from None
    if kind is int and float(raw) != value:
        raise input_error(f"Invalid `{name}`: {raw!r} is not a whole number.")
    return value


def _market_protection(fields: Mapping[str, Any], order_type: OrderType) -> int | None:
    value: int | None = _number(fields, "market_protection", int)
    if order_type in _NEEDS_PROTECTION and value is None:
        # From 1 Apr 2026 Kite rejects API market orders without it.
        raise input_error(f"`market_protection` is required for {order_type.value} orders.")
    if value is not None and value != -1 and not 1 <= value <= 100:
        raise input_error("`market_protection` must be -1 or between 1 and 100.")
    return value


def _tag(fields: Mapping[str, Any], rules: ExchangeRules) -> str:
    tag = str(fields.get("tag") or "")
    if len(tag) > rules.tag_max_length:
        raise input_error(f"Tag length should be at most {rules.tag_max_length} characters.")
    return tag


def order_request(fields: Mapping[str, Any], *, variety: str, rules: ExchangeRules) -> OrderRequest:
    missing = [name for name in _REQUIRED if fields.get(name) in (None, "")]
    if missing:
        raise input_error(f"Missing `{missing[0]}`.")
    if str(fields.get("autoslice", "")).lower() == "true":
        raise input_error("autoslice is not offered here: legguard slices orders itself.")
    order_type = _enum(OrderType, fields, "order_type")
    quantity = _number(fields, "quantity", int)
    if quantity is None or quantity <= 0:
        raise input_error("Invalid `quantity`.")
    return OrderRequest(
        tag=_tag(fields, rules),
        tradingsymbol=str(fields["tradingsymbol"]),
        side=_enum(Side, fields, "transaction_type"),
        quantity=quantity,
        order_type=order_type,
        product=_enum(Product, fields, "product"),
        validity=_enum(Validity, fields, "validity", Validity.DAY),
        exchange=str(fields["exchange"]),
        price=_number(fields, "price", float),
        trigger_price=_number(fields, "trigger_price", float),
        market_protection=_market_protection(fields, order_type),
        variety=variety,
    )


def modify_arguments(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword arguments for `Broker.modify_order` (the port does not carry market_protection)."""
    order_type = fields.get("order_type")
    return {
        "quantity": _number(fields, "quantity", int),
        "price": _number(fields, "price", float),
        "trigger_price": _number(fields, "trigger_price", float),
        "order_type": _enum(OrderType, fields, "order_type") if order_type else None,
    }


def margin_orders(body: Any, *, rules: ExchangeRules) -> list[OrderRequest]:
    """A `/margins/orders` or `/margins/basket` JSON body: a list of orders (no tags, no protection)."""
    if not isinstance(body, list) or not all(isinstance(item, Mapping) for item in body):
        raise input_error("The body must be a JSON list of orders.")
    requests = []
    for item in body:
        fields = dict(item)
        fields.setdefault("tag", "margin")
        fields.setdefault("market_protection", -1)
        requests.append(order_request(fields, variety=str(fields.get("variety") or "regular"), rules=rules))
    return requests
