"""The HTTP service over the actor system (FastAPI, chosen for its request handling and OpenAPI).

Request bodies are validated by legguard's own validator (not by pydantic models) so that every
refusal carries one of the bad-input codes of RELIABILITY.md and the offending field.
"""

from __future__ import annotations

import contextlib
import hmac
import ipaddress
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from api.views import group_view
from domain.errors import DenialCode, Denied
from domain.gate import check_group_action
from domain.lifecycle import GroupState

MAX_BODY = 64 * 1024

_STATUS = {
    DenialCode.UNKNOWN_GROUP: 404,
    DenialCode.IDEMPOTENCY_CONFLICT: 409,
    DenialCode.TERMINAL_STATE: 409,
    DenialCode.UNAUTHORIZED: 401,
    DenialCode.THROTTLED: 429,
    DenialCode.RECOVERING: 503,
    DenialCode.KILL_SWITCH_ACTIVE: 423,
    DenialCode.MARGIN: 422,
    DenialCode.EXPOSURE_LIMIT: 422,
    DenialCode.POSITION_LIMIT: 422,
}


def denied_response(denied: Denied) -> JSONResponse:
    return JSONResponse({"error": denied.as_dict()}, status_code=_STATUS.get(denied.code, 400))


def _is_loopback(host: str | None) -> bool:
    if host is None:
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def create_app(
    service: Any, *, token: str = "", submit_timeout_s: float = 15.0, on_shutdown: Callable[[], None] | None = None
) -> FastAPI:
    """`service` offers submit_and_wait, submit_intent_and_wait, cancel, kill_switch, health, tree and
    a `store`. `on_shutdown` runs when the server stops (SIGTERM included: uvicorn re-raises the
    signal after the lifespan has ended, so code after `server.run()` would never run)."""

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        if on_shutdown is not None:
            on_shutdown()

    app = FastAPI(title="legguard", version="0.1.0", lifespan=lifespan)

    @app.middleware("http")
    async def authorize(request: Request, call_next: Callable[..., Any]) -> Any:
        peer = request.client.host if request.client else None
        if not _is_loopback(peer):
            presented = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
            if not token or not hmac.compare_digest(presented.encode(), token.encode()):
                return denied_response(Denied(DenialCode.UNAUTHORIZED, "authorization", "missing or wrong token"))
        return await call_next(request)

    @app.post("/v1/groups", status_code=201)
    async def submit_group(request: Request) -> Any:
        return await _submit(request, service.submit_and_wait)

    @app.post("/v1/intents", status_code=201)
    async def submit_intent(request: Request) -> Any:
        """A strategy's intent: legs as lot ratios plus a confidence; risk decides the quantity."""
        return await _submit(request, service.submit_intent_and_wait)

    async def _submit(request: Request, submit: Callable[..., Any]) -> Any:
        raw = await request.body()
        if len(raw) > MAX_BODY:
            return denied_response(Denied(DenialCode.SCHEMA_ERROR, "$", f"body over {MAX_BODY} bytes"))
        try:
            payload = json.loads(raw or b"null", parse_constant=_refuse_constant)
        except ValueError as exc:
            return denied_response(Denied(DenialCode.SCHEMA_ERROR, "$", f"not JSON: {exc}"))
        from starlette.concurrency import run_in_threadpool

        try:
            accepted = await run_in_threadpool(submit, payload, submit_timeout_s)
        except Denied as denied:
            return denied_response(denied)
        status = 200 if accepted.duplicate else 201
        body = {"group_id": accepted.group_id, "duplicate": accepted.duplicate}
        if accepted.sizing:
            body["sizing"] = accepted.sizing
        return JSONResponse(body, status_code=status)

    @app.get("/v1/groups/{group_id}")
    def get_group(group_id: str) -> Any:
        view = group_view(service.store, group_id) if _valid_id(group_id) else None
        if view is None:
            return denied_response(Denied(DenialCode.UNKNOWN_GROUP, "group_id", "no such group"))
        return view

    @app.post("/v1/groups/{group_id}/cancel")
    def cancel_group(group_id: str) -> Any:
        view = group_view(service.store, group_id) if _valid_id(group_id) else None
        try:
            state = GroupState(view["state"]) if view else None
            check_group_action(state if not (view and view["settled"]) else GroupState.CLOSED, "cancel")
        except Denied as denied:
            return denied_response(denied)
        service.cancel(group_id, "cancelled through the API")
        return {"group_id": group_id, "cancelling": True}

    @app.post("/v1/kill-switch")
    async def kill_switch(request: Request) -> Any:
        try:
            body = json.loads(await request.body() or b"{}")
            engaged = body["engaged"]
            if not isinstance(engaged, bool):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            return denied_response(Denied(DenialCode.SCHEMA_ERROR, "engaged", "a boolean is required"))
        return service.kill_switch(engaged, str(body.get("reason", "API")))

    @app.get("/v1/health")
    def health() -> Any:
        return service.health()

    @app.get("/v1/supervision")
    def supervision() -> Any:
        return service.tree()

    return app


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


def _valid_id(group_id: str) -> bool:
    return 0 < len(group_id) <= 64 and "/" not in group_id and "\x00" not in group_id
