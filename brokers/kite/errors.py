"""What a failed Kite call means for legguard: final, retryable, or an unknown outcome.

`kiteconnect` raises `getattr(exceptions, error_type, GeneralException)(message, code=http_status)`, so
Kite's `MarginException` (HTTP 400) arrives as a GeneralException with code 400, while a 5xx from the
OMS arrives as a GeneralException, DataException or NetworkException with code >= 500. Transport
failures come straight from `requests`. For a write (place, modify, cancel) anything that may have
reached the OMS is an unknown outcome — the order may exist — and is resolved by tag; for a read the
same failure just means "try again".
"""

from __future__ import annotations

from kiteconnect import exceptions as kite

from brokers.port import BrokerError, BrokerRejected, BrokerRetryable, BrokerUnknownOutcome

RATE_LIMITED = 429
# Kite's per-second order limit is what a 429 usually means; one second clears it.
RATE_LIMIT_BACKOFF_S = 1.0

_FINAL = (kite.InputException, kite.OrderException, kite.TokenException, kite.PermissionException)
# Kite's margin refusals ("Insufficient funds. Required margin is ..."); a bare "margin" is not enough,
# a 5xx about the margin service is not a refusal.
_MARGIN_WORDS = ("insufficient funds", "required margin", "margin exceeds")


def is_margin_message(message: str) -> bool:
    lowered = message.lower()
    return any(word in lowered for word in _MARGIN_WORDS)


def _kite_code(exc: kite.KiteException) -> int | None:
    code = getattr(exc, "code", None)
    return code if isinstance(code, int) else None


def _classify_kite(exc: kite.KiteException, *, write: bool) -> BrokerError:
    message, code, kind = str(exc), _kite_code(exc), type(exc).__name__
    if isinstance(exc, _FINAL):
        return BrokerRejected(message, code=code, kind=kind)
    if isinstance(exc, kite.NetworkException) and code == RATE_LIMITED:
        return BrokerRetryable(message, code=code, kind=kind, retry_after_s=RATE_LIMIT_BACKOFF_S)
    if type(exc) is kite.GeneralException and (
        is_margin_message(message) or (code is not None and code < 500)
    ):
        # MarginException / UserException / HoldingException: Kite answered, and the answer was no.
        return BrokerRejected(message, code=code, kind=kind)
    return _unsure(message, code=code, kind=kind, write=write)


def _unsure(message: str, *, code: int | None, kind: str, write: bool) -> BrokerError:
    if write:
        return BrokerUnknownOutcome(message, code=code, kind=kind)
    return BrokerRetryable(message, code=code, kind=kind)


def classify_error(exc: BaseException, *, write: bool) -> BrokerError:
    """The port error for an exception raised by a `KiteConnect` call.

    Anything not recognised (a timeout, a refused connection, a response the client could not read)
    counts as "may have reached the OMS": unknown for a write, retryable for a read.
    """
    if isinstance(exc, BrokerError):
        return exc
    if isinstance(exc, kite.KiteException):
        return _classify_kite(exc, write=write)
    return _unsure(f"{type(exc).__name__}: {exc}", code=None, kind=type(exc).__name__, write=write)
