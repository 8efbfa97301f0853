"""The run's trace: every message delivered and every exchange event, hashed.

Two runs of one seed must give the same `hexdigest()`, so nothing that differs between processes
may enter a line: no object ids, no pykka urns, no wall time, no order taken from `hash()`.
Fields are rendered here so that every component renders them the same way: addresses and urns
are cut out of reprs, and a set given as a field is sorted. A set *inside* a message still
renders in hash order, so messages carry tuples or frozensets that they sort in their repr.
"""

from __future__ import annotations

import hashlib
import re
from collections import deque
from typing import IO

from pykka.messages import ProxyCall, ProxyGetAttr, ProxySetAttr, _ActorStop

__all__ = ["TraceRecorder", "render"]

_SEPARATOR = "\x1f"  # a control character cannot occur in a message's repr by accident
_FLUSH_EVERY = 4096  # lines hashed per batch: one hash update per batch is far cheaper than per line

_PROXY_MESSAGES = (ProxyCall, ProxyGetAttr, ProxySetAttr)
_PLAIN = (int, float, bool, type(None))
# Default reprs carry the object's address, and refs carry their urn: both differ between runs.
_UNSTABLE = re.compile(r" at 0x[0-9a-fA-F]+|urn:uuid:[0-9a-fA-F-]{36}")


def render(value: object) -> str:
    """A rendering of a message or field that is the same in every run of a seed."""
    kind = type(value)
    if kind is str:
        return value  # type: ignore[return-value]
    if kind in _PLAIN:
        return repr(value)
    if kind in _PROXY_MESSAGES:
        # The arguments may hold futures or refs; the attribute path says what was called.
        return f"{kind.__name__}({'.'.join(value.attr_path)})"  # type: ignore[attr-defined]
    if kind is _ActorStop:
        return "_ActorStop"
    if kind is set or kind is frozenset:
        return "{" + ", ".join(sorted(map(render, value))) + "}"  # type: ignore[call-overload]
    text = repr(value)
    if "0x" in text or "urn:" in text:
        text = _UNSTABLE.sub("", text)
    return text


class TraceRecorder:
    """Hashes trace lines as they come, optionally keeping the last `keep_last` for a dump."""

    def __init__(self, *, keep_last: int = 0) -> None:
        self._hash = hashlib.blake2b(digest_size=16)
        self._unhashed: list[str] = []
        self._last: deque[str] | None = deque(maxlen=keep_last) if keep_last > 0 else None
        self.events = 0

    def record(self, kind: str, *fields: object) -> None:
        line = _SEPARATOR.join([kind, *[f if f.__class__ is str else render(f) for f in fields]])
        self.events += 1
        self._unhashed.append(line)
        if self._last is not None:
            self._last.append(line)
        if len(self._unhashed) >= _FLUSH_EVERY:
            self._flush()

    def hexdigest(self) -> str:
        """The hash of every line so far; recording may go on afterwards."""
        self._flush()
        return self._hash.hexdigest()

    def last(self) -> list[str]:
        """The kept lines, oldest first, fields separated by ' | ' for reading."""
        return [line.replace(_SEPARATOR, " | ") for line in self._last or ()]

    def dump(self, file: IO[str] | None = None) -> str:
        text = "\n".join(self.last())
        if file is not None:
            file.write(text + "\n")
        return text

    def _flush(self) -> None:
        if self._unhashed:
            # Each line ends with a newline, so batching does not change the hash.
            self._hash.update(("\n".join(self._unhashed) + "\n").encode())
            self._unhashed.clear()
