"""Identifier generation: deterministic within a run, unique across restarts.

`boot` is a counter persisted in storage and incremented at every start, so ids minted after a
crash never collide with ids minted before it. Ids are short because a child order's tag must fit
Kite's 20-character limit.
"""

from __future__ import annotations

import itertools
import threading

_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


INSTANCE_LENGTH = 4


def new_instance_id(random_bits: int) -> str:
    """A data directory's id from `random_bits` (at least 21 bits of entropy): 4 base36 characters."""
    return base36(random_bits % 36**INSTANCE_LENGTH).rjust(INSTANCE_LENGTH, "0")


def base36(number: int) -> str:
    if number < 0:
        raise ValueError("base36 of a negative number")
    if number == 0:
        return "0"
    digits = []
    while number:
        number, rem = divmod(number, 36)
        digits.append(_ALPHABET[rem])
    return "".join(reversed(digits))


class IdGen:
    def __init__(self, boot: int = 0, instance: str = "") -> None:
        self.boot = boot
        # The data directory's id (a few base36 characters): tags stay unique across directories.
        self.instance = instance
        self._counters: dict[str, itertools.count[int]] = {}
        self._lock = threading.Lock()

    def next(self, kind: str) -> str:
        """A new id such as `g1-2a` (kind `g`, boot 1, 75th of its kind in this boot)."""
        with self._lock:
            counter = self._counters.setdefault(kind, itertools.count(1))
            value = next(counter)
        return f"{kind}{base36(self.boot)}-{base36(value)}"

    def tag(self) -> str:
        """A broker order tag: alphanumeric (Kite accepts nothing else), unique per intent, <= 20 chars.

        The boot is fixed-width so that boot 1 / counter "2bx" can never read the same as boot 12 /
        counter "bx".
        """
        with self._lock:
            counter = self._counters.setdefault("tag", itertools.count(1))
            value = next(counter)
        return f"LG{self.instance}{base36(self.boot).rjust(3, '0')}{base36(value)}"
