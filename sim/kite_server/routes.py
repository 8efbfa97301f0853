"""The REST routes the execution path uses (KITE.md's table), each a thin call into the Broker port."""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from brokers.kite.instruments import instruments_csv
from sim.kite_server.context import KiteContext
from sim.kite_server.endpoint import kite_endpoint
from sim.kite_server.envelope import csv_response, input_error
from sim.kite_server.forms import margin_orders, modify_arguments, order_request, parse_form
from sim.kite_server.shapes import (
    basket_margins_payload,
    empty_segment_payload,
    kite_time,
    ltp_payload,
    order_margin_payload,
    order_payload,
    position_payload,
    quote_payload,
    segment_margins_payload,
    trade_payload,
)

# F&O margins are in Kite's equity segment; the simulator trades nothing in commodity.
SEGMENTS = ("equity", "commodity")


# --------------------------------------------------------------------------- orders


async def _json_body(request: Request) -> Any:
    try:
        return await request.json()
    except ValueError:
        raise input_error("The body is not valid JSON.") from None


async def place(request: Request, ctx: KiteContext) -> Any:
    fields = parse_form(await request.body())
    order = order_request(fields, variety=request.path_params["variety"], rules=ctx.rules)
    return {"order_id": await ctx.call(ctx.broker.place_order, order)}


async def modify(request: Request, ctx: KiteContext) -> Any:
    arguments = modify_arguments(parse_form(await request.body()))
    order_id = request.path_params["order_id"]
    variety = request.path_params["variety"]
    return {"order_id": await ctx.call(ctx.broker.modify_order, order_id, variety=variety, **arguments)}


async def cancel(request: Request, ctx: KiteContext) -> Any:
    order_id = request.path_params["order_id"]
    variety = request.path_params["variety"]
    return {"order_id": await ctx.call(ctx.broker.cancel_order, order_id, variety=variety)}


async def orders(_request: Request, ctx: KiteContext) -> Any:
    return [order_payload(o, instrument_token=ctx.token_of(o.tradingsymbol)) for o in await ctx.call(ctx.broker.orders)]


async def order_history(request: Request, ctx: KiteContext) -> Any:
    history = await ctx.call(ctx.broker.order_history, request.path_params["order_id"])
    if not history:
        raise input_error("Couldn't find that `order_id`.")
    return [order_payload(o, instrument_token=ctx.token_of(o.tradingsymbol)) for o in history]


async def _products(ctx: KiteContext) -> dict[str, str]:
    return {o.order_id: o.product for o in await ctx.call(ctx.broker.orders)}


async def order_trades(request: Request, ctx: KiteContext) -> Any:
    trades = await ctx.call(ctx.broker.order_trades, request.path_params["order_id"])
    products = await _products(ctx)
    return [trade_payload(t, product=products.get(t.order_id, "NRML")) for t in trades]


async def trades(_request: Request, ctx: KiteContext) -> Any:
    fills = await ctx.call(ctx.broker.trades)
    products = await _products(ctx)
    return [trade_payload(t, product=products.get(t.order_id, "NRML")) for t in fills]


# --------------------------------------------------------------------------- portfolio and margins


async def positions(_request: Request, ctx: KiteContext) -> Any:
    # Everything in the simulator was traded today, so the day book is the net book.
    rows = [position_payload(p) for p in await ctx.call(ctx.broker.positions)]
    return {"net": rows, "day": [dict(row) for row in rows]}


async def margins(_request: Request, ctx: KiteContext) -> Any:
    equity = segment_margins_payload(await ctx.call(ctx.broker.margins))
    return {"equity": equity, "commodity": empty_segment_payload()}


async def segment_margins(request: Request, ctx: KiteContext) -> Any:
    segment = request.path_params["segment"]
    if segment not in SEGMENTS:
        raise input_error(f"Invalid segment `{segment}`.")
    if segment == "commodity":
        return empty_segment_payload()
    return segment_margins_payload(await ctx.call(ctx.broker.margins))


def _flag(request: Request, name: str, default: bool) -> bool:
    raw = request.query_params.get(name)
    return default if raw is None else raw.lower() in ("true", "1", "yes")


async def basket_margins(request: Request, ctx: KiteContext) -> Any:
    basket = margin_orders(await _json_body(request), rules=ctx.rules)
    consider = _flag(request, "consider_positions", True)
    return basket_margins_payload(await ctx.call(ctx.broker.basket_margins, basket, consider_positions=consider))


async def order_margins(request: Request, ctx: KiteContext) -> Any:
    """Each order on its own, against the current positions (what Kite's `order_margins` answers)."""
    out: list[dict[str, Any]] = []
    for order in margin_orders(await _json_body(request), rules=ctx.rules):
        basket = await ctx.call(ctx.broker.basket_margins, [order], consider_positions=True)
        out.extend(order_margin_payload(m, exchange=order.exchange) for m in basket.orders)
    return out


# --------------------------------------------------------------------------- market data


async def _last_prices(request: Request, ctx: KiteContext) -> dict[str, tuple[int, float]]:
    """`i=EXCHANGE:SYMBOL` keys → (token, last price); unknown instruments are left out, as on Kite."""
    wanted: defaultdict[str, list[str]] = defaultdict(list)
    for key in request.query_params.getlist("i"):
        exchange, _, symbol = key.partition(":")
        if symbol in ctx.universe and ctx.universe[symbol].exchange == exchange:
            wanted[exchange].append(symbol)
    out: dict[str, tuple[int, float]] = {}
    for exchange, symbols in wanted.items():
        prices = await ctx.call(ctx.broker.ltp, symbols, exchange=exchange)
        out.update({f"{exchange}:{s}": (ctx.token_of(s), p) for s, p in prices.items()})
    return out


async def ltp(request: Request, ctx: KiteContext) -> Any:
    return {key: ltp_payload(token, price) for key, (token, price) in (await _last_prices(request, ctx)).items()}


async def quote(request: Request, ctx: KiteContext) -> Any:
    now = kite_time(time.time())  # the quote's display timestamp; nothing decides on it
    prices = await _last_prices(request, ctx)
    return {key: quote_payload(token, price, timestamp=now) for key, (token, price) in prices.items()}


async def instruments(request: Request, ctx: KiteContext) -> Any:
    exchange = request.path_params.get("exchange")
    chosen = [i for i in ctx.universe.values() if exchange is None or i.exchange == exchange.upper()]
    return csv_response(instruments_csv(chosen))


# --------------------------------------------------------------------------- table


def _route(path: str, name: str, handler: Any, method: str) -> Route:
    return Route(path, kite_endpoint(name, handler), methods=[method])


def rest_routes() -> list[Route]:
    return [
        _route("/orders", "orders", orders, "GET"),
        _route("/trades", "trades", trades, "GET"),
        _route("/orders/{order_id}/trades", "order_trades", order_trades, "GET"),
        _route("/orders/{variety}/{order_id}", "modify", modify, "PUT"),
        _route("/orders/{variety}/{order_id}", "cancel", cancel, "DELETE"),
        _route("/orders/{order_id}", "order_history", order_history, "GET"),
        _route("/orders/{variety}", "place", place, "POST"),
        _route("/portfolio/positions", "positions", positions, "GET"),
        _route("/user/margins", "margins", margins, "GET"),
        _route("/user/margins/{segment}", "margins", segment_margins, "GET"),
        _route("/margins/orders", "order_margins", order_margins, "POST"),
        _route("/margins/basket", "basket_margins", basket_margins, "POST"),
        _route("/quote/ltp", "ltp", ltp, "GET"),
        _route("/quote", "quote", quote, "GET"),
        _route("/instruments", "instruments", instruments, "GET"),
        _route("/instruments/{exchange}", "instruments", instruments, "GET"),
    ]
