"""Logical addresses → the current ActorRef.

A restarted pykka actor is a new object with a new ref, so actors address each other by logical id
(`group/g1-4`, `leg/g1-4/L0`, `child/g1-4/c1-9`) through this directory and never keep refs. A message
to an address whose actor is dead or restarting is held and delivered, in order, to the next actor
registered there; only an address that was released for good turns messages into dead letters.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Any

import pykka

DeadLetterSink = Callable[[str, Any], None]


def _drop(address: str, message: Any) -> None:
    return None


class Directory:
    def __init__(self, *, on_dead_letter: DeadLetterSink = _drop, held_limit: int = 10_000) -> None:
        # A lock, not a clock or a thread: it only guards the maps against the service's threads.
        self._lock = threading.Lock()  # runtime-ok
        self._refs: dict[str, pykka.ActorRef[Any]] = {}
        self._held: dict[str, deque[Any]] = {}
        self._on_dead_letter = on_dead_letter
        self._held_limit = held_limit
        self.dead_letters = 0

    def reserve(self, address: str) -> None:
        """Claim an address before its actor exists: messages sent now are held for it."""
        with self._lock:
            self._held.setdefault(address, deque())

    def register(self, address: str, ref: pykka.ActorRef[Any]) -> None:
        """Point `address` at `ref` and deliver whatever was held for it, oldest first."""
        while True:
            with self._lock:
                held = self._held.get(address)
                if not held:
                    self._refs[address] = ref
                    self._held.pop(address, None)
                    return
                batch = list(held)
                held.clear()
            for message in batch:
                ref.tell(message)

    def release(self, address: str) -> None:
        """The address is gone for good (its work is finished); later messages are dead letters."""
        with self._lock:
            self._refs.pop(address, None)
            held = self._held.pop(address, None)
        for message in held or ():
            self._dead_letter(address, message)

    def tell(self, address: str, message: Any) -> bool:
        """Deliver or hold. False only when the address is unknown (a dead letter)."""
        while True:
            with self._lock:
                ref = self._refs.get(address)
                held = self._held.get(address)
                if held is not None:
                    if len(held) >= self._held_limit:
                        held.popleft()
                        self.dead_letters += 1
                    held.append(message)
                    return True
                if ref is None:
                    break
                if not ref.is_alive():
                    # Dead and not yet restarted by its supervisor: keep the message for the successor.
                    self._refs.pop(address, None)
                    self._held[address] = deque([message])
                    return True
            # Delivered outside the lock: every tell in the process goes through here.
            try:
                ref.tell(message)
                return True
            except pykka.ActorDeadError:
                # Died since the check: look again (held for its successor, or the successor itself).
                with self._lock:
                    if self._refs.get(address) is ref:
                        self._refs.pop(address, None)
                        self._held.setdefault(address, deque())
        self._dead_letter(address, message)
        return False

    def salvage(self, address: str, messages: list[Any]) -> None:
        """Messages a failed actor had not handled yet: held for its successor ahead of anything sent
        to the address since it died (they were sent before), or handed to a successor already up."""
        successor = None
        with self._lock:
            ref = self._refs.get(address)
            if ref is not None and ref.is_alive():
                successor = ref
            elif ref is not None or address in self._held:
                self._refs.pop(address, None)
                self._held.setdefault(address, deque()).extendleft(reversed(messages))
                return
        for message in messages:
            if successor is not None:
                successor.tell(message)
            else:
                self._dead_letter(address, message)

    def lookup(self, address: str) -> pykka.ActorRef[Any] | None:
        with self._lock:
            ref = self._refs.get(address)
        return ref if ref is not None and ref.is_alive() else None

    def is_known(self, address: str) -> bool:
        with self._lock:
            return address in self._refs or address in self._held

    def addresses(self, prefix: str = "") -> list[str]:
        with self._lock:
            known = list(self._refs) + [a for a in self._held if a not in self._refs]
        return sorted(a for a in known if a.startswith(prefix))

    def held_count(self, address: str) -> int:
        with self._lock:
            return len(self._held.get(address, ()))

    def _dead_letter(self, address: str, message: Any) -> None:
        self.dead_letters += 1
        self._on_dead_letter(address, message)
