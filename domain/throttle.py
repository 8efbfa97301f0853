"""The account's order budget: Kite allows 10 orders/s and 400/min per account (and a daily cap).

Part of each window is reserved for emergency orders (reversals, hedges, stop fallbacks) so that a
burst of new entries can never starve the order that closes a naked leg. Time is passed in.
"""

from __future__ import annotations

import bisect
from collections import deque


class OrderBudget:
    def __init__(self, *, per_second: int, per_minute: int, per_day: int, emergency_reserve: int) -> None:
        if emergency_reserve >= per_second:
            raise ValueError("the emergency reserve must leave room for normal orders")
        self.per_second = per_second
        self.per_minute = per_minute
        self.per_day = per_day
        self.reserve = emergency_reserve
        self._recent: deque[float] = deque()  # send times within the last minute, ascending
        self.sent_today = 0

    def _prune(self, now: float) -> None:
        while self._recent and self._recent[0] <= now - 60.0:
            self._recent.popleft()

    def _in_window(self, now: float, seconds: float) -> int:
        times = list(self._recent) if seconds < 60.0 else None
        if times is None:
            return len(self._recent)
        return len(times) - bisect.bisect_right(times, now - seconds)

    def _limits(self, emergency: bool) -> tuple[int, int, int]:
        if emergency:
            return self.per_second, self.per_minute, self.per_day
        minute_reserve = self.reserve * self.per_minute // self.per_second
        return self.per_second - self.reserve, self.per_minute - minute_reserve, self.per_day - self.reserve

    def can_send(self, now: float, *, emergency: bool) -> bool:
        self._prune(now)
        per_s, per_m, per_d = self._limits(emergency)
        return self._in_window(now, 1.0) < per_s and len(self._recent) < per_m and self.sent_today < per_d

    def record(self, now: float) -> None:
        self._recent.append(now)
        self.sent_today += 1

    def next_slot(self, now: float, *, emergency: bool) -> float | None:
        """Seconds until a send of this kind could fit, or None when the day's cap is reached."""
        self._prune(now)
        per_s, per_m, per_d = self._limits(emergency)
        if self.sent_today >= per_d:
            return None
        waits = [0.0]
        times = list(self._recent)
        second = [t for t in times if t > now - 1.0]
        if len(second) >= per_s:
            waits.append(second[len(second) - per_s] + 1.0 - now)
        if len(times) >= per_m:
            waits.append(times[len(times) - per_m] + 60.0 - now)
        return max(waits) + 1e-6
