"""Kite's per-account order rate limits: 10 a second, 400 a minute, a daily cap.

Over the limit the place call itself fails with HTTP 429 (kiteconnect raises NetworkException):
the order is not created, and the caller may retry after the window has moved on.
"""

from __future__ import annotations

from collections import deque

from runtime.config import ExchangeRules
from sim.exchange.errors import RateLimited


class _Window:
    __slots__ = ("limit", "span_s", "times")

    def __init__(self, limit: int, span_s: float) -> None:
        self.limit = limit
        self.span_s = span_s
        self.times: deque[float] = deque()

    def retry_after(self, now: float) -> float | None:
        """Seconds until one more order fits, or None if it fits now."""
        while self.times and self.times[0] <= now - self.span_s:
            self.times.popleft()
        if len(self.times) < self.limit:
            return None
        return self.times[0] + self.span_s - now


class OrderRateLimiter:
    def __init__(self, rules: ExchangeRules) -> None:
        self._rules = rules
        self._windows: dict[str, tuple[_Window, _Window]] = {}
        self._daily: dict[str, int] = {}

    def admit(self, account: str, now: float) -> None:
        """Count one order for `account` at monotonic time `now`, or raise RateLimited."""
        windows = self._windows.get(account)
        if windows is None:
            windows = (
                _Window(self._rules.orders_per_second, 1.0),
                _Window(self._rules.orders_per_minute, 60.0),
            )
            self._windows[account] = windows
        if self._daily.get(account, 0) >= self._rules.orders_per_day:
            raise RateLimited("Too many requests: the daily order limit is reached", retry_after_s=3600.0)
        for window in windows:
            wait = window.retry_after(now)
            if wait is not None:
                raise RateLimited(
                    f"Too many requests: more than {window.limit} orders in {window.span_s:g} s",
                    retry_after_s=max(wait, 0.001),
                )
        for window in windows:
            window.times.append(now)
        self._daily[account] = self._daily.get(account, 0) + 1
