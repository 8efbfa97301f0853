"""What the exchange's request calls raise, tagged with Kite's error type and HTTP status.

Both faces map these: SimBroker to the Broker port's error classes, the Kite-protocol server to
`{"status": "error", "error_type": kite_type, ...}` with `http_status`. A rejection that happens
after the call returned is not an exception: it is an order update with status REJECTED.
"""

from __future__ import annotations


class ExchangeError(Exception):
    kite_type = "GeneralException"
    http_status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InputRejected(ExchangeError):
    """The request itself is invalid (tag too long, bad quantity, missing protection): final."""

    kite_type = "InputException"
    http_status = 400


class OrderRefused(ExchangeError):
    """A valid request the order's state refuses (modify a complete order, 26th modification): final."""

    kite_type = "OrderException"
    http_status = 400


class RateLimited(ExchangeError):
    """Over the account's order rate: not processed, retry after `retry_after_s`."""

    kite_type = "NetworkException"
    http_status = 429

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class OutcomeUnknown(ExchangeError):
    """The caller's request timed out. The order may exist (accepted) or not (lost on the way)."""

    kite_type = "NetworkException"
    http_status = 504
