"""Control routes under `/_sim/` for tests and drills that run the server in another process.

Not part of Kite's protocol. The server listens on loopback only, and these need no credentials:
they model the network and the OMS misbehaving, which a test must be able to ask for.

- `GET  /_sim/health`      → `{"status": "ok", "websockets": n}`
- `POST /_sim/ws/drop`     → close every WebSocket (clients reconnect)
- `POST /_sim/ws/mute`     → every current WebSocket goes silent without closing
- `POST /_sim/faults`      → JSON `{"route": "place", "kind": "error_after", "times": 1, "status": 500,
                              "delay_s": 0}`; kinds: rate_limit, error_before, error_after, delay_after
- `DELETE /_sim/faults`    → forget every armed fault

When the served exchange has scenario controls (the simulated exchange does; a bare Broker does
not, and these answer 404):

- `POST /_sim/rules`       → JSON order rule, e.g. `{"tag_prefix": "g1", "action": "reject",
                              "message": "RMS: margin"}` → `{"rule_id": n}` (see SimExchangeControl)
- `DELETE /_sim/rules`     → remove every rule
- `POST /_sim/release`     → `{"order_id": "..."}`: an order a `hold` rule keeps OPEN matches from now
                              on (404 when the exchange has no such order)
- `POST /_sim/funds`       → `{"amount": 1000000}` (the account's opening balance)
- `GET  /_sim/ledger`      → the exchange's own books: `net_positions`, `working_orders`, `digest`
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from sim.kite_server.context import KiteContext, ScenarioControl
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


def _control(request: Request) -> ScenarioControl | None:
    return _ctx(request).control


def _no_control() -> JSONResponse:
    return JSONResponse({"error": "this exchange has no scenario controls"}, status_code=404)


async def add_rule(request: Request) -> JSONResponse:
    control = _control(request)
    if control is None:
        return _no_control()
    try:
        return JSONResponse({"rule_id": control.add_rule(await request.json())})
    except (KeyError, TypeError, ValueError) as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)


async def clear_rules(request: Request) -> JSONResponse:
    control = _control(request)
    if control is None:
        return _no_control()
    control.clear_rules()
    return JSONResponse({"cleared": True})


async def release_order(request: Request) -> JSONResponse:
    control = _control(request)
    if control is None:
        return _no_control()
    try:
        order_id = str((await request.json())["order_id"])
    except (KeyError, TypeError, ValueError) as exc:
        return JSONResponse({"error": f"order_id is required: {exc}"}, status_code=400)
    try:
        control.release(order_id)
    except KeyError:
        return JSONResponse({"error": f"no order {order_id}"}, status_code=404)
    return JSONResponse({"released": order_id})


async def set_funds(request: Request) -> JSONResponse:
    control = _control(request)
    if control is None:
        return _no_control()
    body = await request.json()
    control.set_funds(float(body["amount"]), str(body.get("account", "default")))
    return JSONResponse({"funds": body["amount"]})


async def ledger(request: Request) -> JSONResponse:
    control = _control(request)
    if control is None:
        return _no_control()
    return JSONResponse(control.ledger())


def admin_routes() -> list[Route]:
    return [
        Route("/_sim/health", health, methods=["GET"]),
        Route("/_sim/ws/drop", drop_websockets, methods=["POST"]),
        Route("/_sim/ws/mute", mute_websockets, methods=["POST"]),
        Route("/_sim/faults", arm_fault, methods=["POST"]),
        Route("/_sim/faults", clear_faults, methods=["DELETE"]),
        Route("/_sim/rules", add_rule, methods=["POST"]),
        Route("/_sim/rules", clear_rules, methods=["DELETE"]),
        Route("/_sim/release", release_order, methods=["POST"]),
        Route("/_sim/funds", set_funds, methods=["POST"]),
        Route("/_sim/ledger", ledger, methods=["GET"]),
    ]
