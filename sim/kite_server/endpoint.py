"""One wrapper for every REST route: auth, injected faults, and the envelope around the answer.

A handler returns plain data (wrapped as `{"status": "success", "data": ...}`) or a ready Response
(the CSV dump); whatever it raises becomes Kite's error envelope with `error_type` and a status.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from starlette.requests import Request
from starlette.responses import Response

from brokers.port import BrokerError
from sim.kite_server.context import KiteContext
from sim.kite_server.envelope import KiteApiError, failure, from_broker_error, success
from sim.kite_server.faults import Fault, FaultKind

log = structlog.get_logger("kite_server")

Handler = Callable[[Request, KiteContext], Awaitable[Any]]

KITE_VERSION = "3"


def context_of(request: Request) -> KiteContext:
    ctx: KiteContext = request.app.state.kite
    return ctx


def check_auth(request: Request, ctx: KiteContext) -> None:
    version = request.headers.get("x-kite-version")
    if version is not None and version != KITE_VERSION:
        raise KiteApiError("InputException", f"Unsupported X-Kite-Version {version!r}.")
    if ctx.credentials.open:
        return  # started without --api-key/--access-token: any caller is the account holder
    if not ctx.credentials.accepts_header(request.headers.get("authorization")):
        raise KiteApiError("TokenException", "Incorrect `api_key` or `access_token`.")


def _fault_error(fault: Fault) -> KiteApiError:
    if fault.kind is FaultKind.RATE_LIMIT:
        return KiteApiError("NetworkException", "Too many requests", fault.status or 429)
    return KiteApiError("GeneralException", "Something went wrong (injected fault)", fault.status or 500)


async def _respond(request: Request, handler: Handler, route: str) -> Response:
    ctx = context_of(request)
    check_auth(request, ctx)
    fault = ctx.faults.take(route)
    if fault is not None and fault.before:
        raise _fault_error(fault)
    result = await handler(request, ctx)
    if fault is not None and fault.kind is FaultKind.ERROR_AFTER:
        raise _fault_error(fault)  # it took effect; the caller is told it failed
    if fault is not None and fault.kind is FaultKind.DELAY_AFTER:
        await asyncio.sleep(fault.delay_s)  # it took effect; the caller has given up waiting
    return result if isinstance(result, Response) else success(result)


def kite_endpoint(route: str, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        try:
            return await _respond(request, handler, route)
        except KiteApiError as exc:
            return failure(exc)
        except BrokerError as exc:
            return failure(from_broker_error(exc))
        except KeyError as exc:  # the broker does not know the order / instrument asked for
            return failure(KiteApiError("InputException", f"Unknown {exc}."))
        except Exception:
            log.exception("kite_route_failed", route=route, path=request.url.path)
            return failure(KiteApiError("GeneralException", "Internal server error"))

    endpoint.__name__ = f"kite_{route}"
    return endpoint
