"""Broker port values → the JSON shapes Kite sends (the inverse of `brokers.kite.parse`).

Field sets follow `kite-mocks/` (orders.json, postback.json, trades.json, positions.json,
margins.json, basket_margins.json, ltp.json, quote.json). What the port does not know (charges,
overnight quantities, depth) is sent as zeros rather than left out: clients index these fields.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from brokers.port import BasketMargins, Margins, OrderMargin, Position, Trade
from domain.messages import OrderUpdate

ACCOUNT_ID = "SIM001"
APP_ID = 1
_IST = dt.timezone(dt.timedelta(hours=5, minutes=30), "IST")  # Kite's timestamps are exchange time
_KITE_TIME = "%Y-%m-%d %H:%M:%S"


def kite_time(epoch_s: float) -> str:
    return dt.datetime.fromtimestamp(epoch_s, _IST).strftime(_KITE_TIME)


def order_payload(update: OrderUpdate, *, instrument_token: int = 0) -> dict[str, Any]:
    """An order as `orders()` / `order_history()` return it."""
    placed_at = update.order_timestamp or (kite_time(update.ts) if update.ts else None)
    return {
        "account_id": ACCOUNT_ID,
        "placed_by": ACCOUNT_ID,
        "order_id": update.order_id,
        "exchange_order_id": update.exchange_order_id,
        "parent_order_id": update.parent_order_id,
        "status": update.status,
        "status_message": update.status_message,
        "status_message_raw": update.status_message,
        "order_timestamp": placed_at,
        "exchange_update_timestamp": update.exchange_update_timestamp,
        "exchange_timestamp": update.exchange_update_timestamp,
        "variety": update.variety,
        "modified": False,
        "exchange": update.exchange,
        "tradingsymbol": update.tradingsymbol,
        "instrument_token": update.instrument_token or instrument_token,
        "order_type": update.order_type,
        "transaction_type": update.transaction_type,
        "validity": update.validity,
        "validity_ttl": 0,
        "product": update.product,
        "quantity": update.quantity,
        "disclosed_quantity": 0,
        "price": update.price,
        "trigger_price": update.trigger_price,
        "average_price": update.average_price,
        "filled_quantity": update.filled_quantity,
        "pending_quantity": update.pending_quantity,
        "cancelled_quantity": update.cancelled_quantity,
        "market_protection": update.market_protection,
        "meta": {},
        "tag": update.tag,
        "tags": [update.tag] if update.tag else [],
        "guid": None,
    }


def postback_payload(update: OrderUpdate, *, instrument_token: int = 0) -> dict[str, Any]:
    """The postback / WebSocket shape: the order plus user, app and a checksum (blank on the socket)."""
    payload = order_payload(update, instrument_token=instrument_token)
    payload.update(
        user_id=ACCOUNT_ID,
        app_id=APP_ID,
        unfilled_quantity=update.pending_quantity,
        checksum="",
    )
    return payload


def trade_payload(trade: Trade, *, product: str = "NRML") -> dict[str, Any]:
    filled_at = trade.fill_timestamp
    return {
        "trade_id": trade.trade_id,
        "order_id": trade.order_id,
        "exchange": trade.exchange,
        "tradingsymbol": trade.tradingsymbol,
        "instrument_token": trade.instrument_token,
        "product": product,
        "average_price": trade.price,
        "quantity": trade.quantity,
        "exchange_order_id": None,
        "transaction_type": trade.side.value,
        "fill_timestamp": filled_at,
        "order_timestamp": filled_at[-8:] if filled_at else None,  # Kite sends only the time here
        "exchange_timestamp": filled_at,
    }


def position_payload(position: Position) -> dict[str, Any]:
    buy_value = position.buy_quantity * position.average_price if position.quantity > 0 else 0.0
    sell_value = position.sell_quantity * position.average_price if position.quantity < 0 else 0.0
    return {
        "tradingsymbol": position.tradingsymbol,
        "exchange": position.exchange,
        "instrument_token": position.instrument_token,
        "product": position.product,
        "quantity": position.quantity,
        "overnight_quantity": 0,
        "multiplier": 1,
        "average_price": position.average_price,
        "close_price": 0,
        "last_price": position.last_price,
        "value": sell_value - buy_value,
        "pnl": position.pnl,
        "m2m": position.pnl,
        "unrealised": position.pnl,
        "realised": 0,
        "buy_quantity": position.buy_quantity,
        "buy_price": 0,
        "buy_value": buy_value,
        "buy_m2m": buy_value,
        "sell_quantity": position.sell_quantity,
        "sell_price": 0,
        "sell_value": sell_value,
        "sell_m2m": sell_value,
        "day_buy_quantity": position.buy_quantity,
        "day_buy_price": 0,
        "day_buy_value": buy_value,
        "day_sell_quantity": position.sell_quantity,
        "day_sell_price": 0,
        "day_sell_value": sell_value,
    }


def _detail(detail: Mapping[str, float], name: str) -> float:
    return float(detail.get(f"utilised.{name}", detail.get(name, 0.0)))


def segment_margins_payload(margins: Margins) -> dict[str, Any]:
    utilised_names = ("exposure", "m2m_realised", "m2m_unrealised", "option_premium", "payout", "span")
    utilised: dict[str, float] = {"debits": margins.utilised}
    utilised.update({name: _detail(margins.detail, name) for name in utilised_names})
    utilised.update(holding_sales=0, turnover=0, liquid_collateral=0, stock_collateral=0, delivery=0)
    return {
        "enabled": True,
        "net": margins.available,
        "available": {
            "adhoc_margin": 0,
            "cash": margins.cash,
            "opening_balance": margins.cash,
            "live_balance": margins.available,
            "collateral": margins.collateral,
            "intraday_payin": 0,
        },
        "utilised": utilised,
    }


def empty_segment_payload() -> dict[str, Any]:
    return segment_margins_payload(Margins(available=0.0, utilised=0.0))


def _charges() -> dict[str, Any]:
    gst = {"igst": 0, "cgst": 0, "sgst": 0, "total": 0}
    return {
        "transaction_tax": 0,
        "transaction_tax_type": "",
        "exchange_turnover_charge": 0,
        "sebi_turnover_charge": 0,
        "brokerage": 0,
        "stamp_duty": 0,
        "gst": gst,
        "total": 0,
    }


def _margin_block(
    *,
    tradingsymbol: str,
    exchange: str,
    kind: str,
    span: float,
    exposure: float,
    option_premium: float,
    total: float,
) -> dict[str, Any]:
    return {
        "type": kind,
        "tradingsymbol": tradingsymbol,
        "exchange": exchange,
        "span": span,
        "exposure": exposure,
        "option_premium": option_premium,
        "additional": 0,
        "bo": 0,
        "cash": 0,
        "var": 0,
        "pnl": {"realised": 0, "unrealised": 0},
        "leverage": 1 if kind else 0,
        "charges": _charges(),
        "total": total,
    }


def order_margin_payload(margin: OrderMargin, *, exchange: str = "NFO") -> dict[str, Any]:
    return _margin_block(
        tradingsymbol=margin.tradingsymbol,
        exchange=exchange,
        kind="equity",
        span=margin.span,
        exposure=margin.exposure,
        option_premium=margin.option_premium,
        total=margin.total,
    )


def basket_margins_payload(basket: BasketMargins, *, exchange: str = "NFO") -> dict[str, Any]:
    """`initial` carries the orders' summed components (no hedge benefit); `final` only its total,
    because the port reports the hedged figure as a total."""
    orders = basket.orders
    initial = _margin_block(
        tradingsymbol="",
        exchange="",
        kind="",
        span=sum(o.span for o in orders),
        exposure=sum(o.exposure for o in orders),
        option_premium=sum(o.option_premium for o in orders),
        total=basket.initial_total,
    )
    final = _margin_block(
        tradingsymbol="",
        exchange="",
        kind="",
        span=0.0,
        exposure=0.0,
        option_premium=0.0,
        total=basket.final_total,
    )
    return {
        "initial": initial,
        "final": final,
        "orders": [order_margin_payload(o, exchange=exchange) for o in orders],
        "charges": _charges(),
    }


def ltp_payload(instrument_token: int, last_price: float) -> dict[str, Any]:
    return {"instrument_token": instrument_token, "last_price": last_price}


def quote_payload(instrument_token: int, last_price: float, *, timestamp: str) -> dict[str, Any]:
    empty_depth = [{"price": 0, "quantity": 0, "orders": 0} for _ in range(5)]
    return {
        "instrument_token": instrument_token,
        "timestamp": timestamp,
        "last_trade_time": timestamp,
        "last_price": last_price,
        "last_quantity": 0,
        "buy_quantity": 0,
        "sell_quantity": 0,
        "volume": 0,
        "average_price": last_price,
        "oi": 0,
        "oi_day_high": 0,
        "oi_day_low": 0,
        "net_change": 0,
        "lower_circuit_limit": 0,
        "upper_circuit_limit": 0,
        "ohlc": {"open": last_price, "high": last_price, "low": last_price, "close": last_price},
        "depth": {"buy": list(empty_depth), "sell": [dict(level) for level in empty_depth]},
    }
