"""Kite's response envelopes, and how a Broker port error becomes one.

`kiteconnect` reads `Content-Type` on every response (a missing header is a KeyError in the client)
and raises `getattr(exceptions, error_type, GeneralException)(message, code=http_status)` on an error
(a missing `error_type` is a TypeError). So every response here has both, including 404 and 500.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse, Response

from brokers.port import BrokerError, BrokerRetryable, BrokerUnknownOutcome

# The client knows the first seven; Margin/User/Holding arrive there as GeneralException, as on Kite.
KITE_ERROR_STATUS = {
    "InputException": 400,
    "OrderException": 400,
    "MarginException": 400,
    "UserException": 400,
    "HoldingException": 400,
    "TokenException": 403,
    "PermissionException": 403,
    "NetworkException": 503,
    "DataException": 502,
    "GeneralException": 500,
}
RATE_LIMITED = 429
GATEWAY_TIMEOUT = 504


class KiteApiError(Exception):
    def __init__(self, error_type: str, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.status = status if status is not None else KITE_ERROR_STATUS.get(error_type, 500)


def input_error(message: str) -> KiteApiError:
    return KiteApiError("InputException", message)


def success(data: Any) -> JSONResponse:
    return JSONResponse({"status": "success", "data": data})


def failure(error: KiteApiError) -> JSONResponse:
    body = {"status": "error", "message": error.message, "error_type": error.error_type, "data": None}
    return JSONResponse(body, status_code=error.status)


def csv_response(text: str) -> Response:
    return Response(text, media_type="text/csv")


def _kite_type(kind: str, fallback: str) -> str:
    return kind if kind in KITE_ERROR_STATUS else fallback


def from_broker_error(exc: BrokerError) -> KiteApiError:
    """The port's three kinds, as Kite would answer them.

    A rejection keeps the broker's own error type (the simulator tags its rejections with Kite's) and
    a 4xx; a retryable error is Kite's rate limit; an unknown outcome is a gateway timeout, which
    the adapter reads as "unknown" for a write, exactly what the port meant.
    """
    if isinstance(exc, BrokerRetryable):
        return KiteApiError(_kite_type(exc.kind, "NetworkException"), exc.message, exc.code or RATE_LIMITED)
    if isinstance(exc, BrokerUnknownOutcome):
        server_status = exc.code if exc.code and exc.code >= 500 else GATEWAY_TIMEOUT
        return KiteApiError(_kite_type(exc.kind, "NetworkException"), exc.message, server_status)
    client_status = exc.code if exc.code and 400 <= exc.code < 500 else None
    return KiteApiError(_kite_type(exc.kind, "OrderException"), exc.message, client_status)
