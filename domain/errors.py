"""Local denials: a request legguard refuses itself, with a code and the offending field.

These are distinct from broker rejections (an order the broker refused after it was sent): a denial
means nothing was persisted and nothing was sent.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class DenialCode(StrEnum):
    SCHEMA_ERROR = "SCHEMA_ERROR"
    INVALID_LEGS = "INVALID_LEGS"
    UNKNOWN_INSTRUMENT = "UNKNOWN_INSTRUMENT"
    INVALID_QTY = "INVALID_QTY"
    QTY_LIMIT = "QTY_LIMIT"
    INVALID_PRICE = "INVALID_PRICE"
    PRICE_BAND = "PRICE_BAND"
    INVALID_STOP = "INVALID_STOP"
    INVALID_ORDER_TYPE = "INVALID_ORDER_TYPE"
    MARGIN = "MARGIN"
    EXPOSURE_LIMIT = "EXPOSURE_LIMIT"
    POSITION_LIMIT = "POSITION_LIMIT"
    THROTTLED = "THROTTLED"
    KILL_SWITCH_ACTIVE = "KILL_SWITCH_ACTIVE"
    RECOVERING = "RECOVERING"
    IDEMPOTENCY_CONFLICT = "IDEMPOTENCY_CONFLICT"
    UNKNOWN_GROUP = "UNKNOWN_GROUP"
    TERMINAL_STATE = "TERMINAL_STATE"
    UNAUTHORIZED = "UNAUTHORIZED"


class Denied(Exception):
    """A request refused before anything was persisted or sent."""

    def __init__(self, code: DenialCode, field: str, message: str, **details: Any) -> None:
        super().__init__(f"{code.value} at {field}: {message}")
        self.code = code
        self.field = field
        self.message = message
        self.details = details

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code.value, "field": self.field, "message": self.message}
        if self.details:
            body["details"] = self.details
        return body
