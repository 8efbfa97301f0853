"""The Starlette application: Kite's REST routes at `/`, the ticker at `/ws`, controls at `/_sim/`."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

from brokers.port import Broker
from domain.instruments import Instrument
from runtime.config import ExchangeRules
from sim.kite_server.admin import admin_routes
from sim.kite_server.context import Credentials, KiteContext, ScenarioControl
from sim.kite_server.envelope import KiteApiError, failure
from sim.kite_server.routes import rest_routes
from sim.kite_server.stream import StreamHub

# Kite's own ticker sends a heartbeat about once a second when there is nothing else to send.
HEARTBEAT_S = 1.0
_POLICY_VIOLATION = 1008  # closing before accept: the handshake is answered with HTTP 403


async def _http_error(_request: Request, exc: Exception) -> Response:
    """404/405 in Kite's envelope: the client reads Content-Type and `error_type` on every answer."""
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    return failure(KiteApiError("GeneralException", "Route not found" if status == 404 else str(exc), status))


def _ws_endpoint(hub: StreamHub, credentials: Credentials) -> Callable[[WebSocket], Awaitable[None]]:
    async def ticker(websocket: WebSocket) -> None:
        params = websocket.query_params
        if not credentials.accepts(params.get("api_key"), params.get("access_token")):
            await websocket.close(code=_POLICY_VIOLATION)
            return
        await hub.serve(websocket)

    return ticker


def build_app(
    broker: Broker,
    instruments: Iterable[Instrument],
    *,
    rules: ExchangeRules | None = None,
    api_key: str | None = None,
    access_token: str | None = None,
    heartbeat_s: float = HEARTBEAT_S,
    control: ScenarioControl | None = None,
) -> Starlette:
    """The Kite-protocol face of `broker`. Credentials given → only they are accepted (else 403)."""
    credentials = Credentials(api_key or None, access_token or None)
    ctx = KiteContext(broker, instruments, rules=rules or ExchangeRules(), credentials=credentials, control=control)
    hub = StreamHub(
        heartbeat_s=heartbeat_s,
        snapshot=ctx.last_prices,
        watch_tokens=ctx.watch_tokens,
        token_of=ctx.token_of,
    )

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        hub.bind_loop(asyncio.get_running_loop())
        broker.subscribe(hub)
        try:
            yield
        finally:
            hub.bind_loop(None)

    app = Starlette(
        routes=[*rest_routes(), WebSocketRoute("/ws", _ws_endpoint(hub, credentials)), *admin_routes()],
        lifespan=lifespan,
        exception_handlers={HTTPException: _http_error},
    )
    app.state.kite = ctx
    app.state.hub = hub
    return app
