"""Control routes under `/_sim/` for tests and drills that run the server in another process.

Not part of Kite's protocol. The server listens on loopback only, and these need no credentials:
they model the network and the OMS misbehaving, which a test must be able to ask for.

- `GET  /_sim/health`      → `{"status": "ok", "websockets": n}`
- `POST /_sim/ws/drop`     → close every WebSocket (clients reconnect)
- `POST /_sim/ws/mute`     → every current WebSocket goes silent without closing
- `POST /_sim/faults`      → JSON `{"route": "place", "kind": "error_after", "times": 1, "status": 500,
                              "delay_s": 0}`; kinds: rate_limit, error_before, error_after, delay_after
- `DELETE /_sim/faults`    → forget every armed fault
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from sim.kite_server.context import KiteContext
from sim.kite_server.faults import Fault, FaultKind
from sim.kite_server.stream import StreamHub


def _ctx(request: Request) -> KiteContext:
    ctx: KiteContext = request.app.state.kite
    return ctx


def _hub(request: Request) -> StreamHub:
    hub: StreamHub = request.app.state.hub
    return hub


async def health(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok", "websockets": _hub(request).client_count})


async def drop_websockets(request: Request) -> JSONResponse:
    hub = _hub(request)
    count = hub.client_count
    hub.drop_all()
    return JSONResponse({"dropped": count})


async def mute_websockets(request: Request) -> JSONResponse:
    hub = _hub(request)
    count = hub.client_count
    hub.mute_all()
    return JSONResponse({"muted": count})


async def arm_fault(request: Request) -> JSONResponse:
    body = await request.json()
    try:
        fault = Fault(
            kind=FaultKind(body["kind"]),
            status=int(body.get("status", 0)),
            delay_s=float(body.get("delay_s", 0.0)),
        )
        _ctx(request).faults.arm(str(body["route"]), fault, times=int(body.get("times", 1)))
    except (KeyError, TypeError, ValueError) as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    return JSONResponse({"armed": body})


async def clear_faults(request: Request) -> JSONResponse:
    _ctx(request).faults.clear()
    return JSONResponse({"cleared": True})


def admin_routes() -> list[Route]:
    return [
        Route("/_sim/health", health, methods=["GET"]),
        Route("/_sim/ws/drop", drop_websockets, methods=["POST"]),
        Route("/_sim/ws/mute", mute_websockets, methods=["POST"]),
        Route("/_sim/faults", arm_fault, methods=["POST"]),
        Route("/_sim/faults", clear_faults, methods=["DELETE"]),
    ]
