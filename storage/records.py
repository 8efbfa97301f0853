"""What reads return, and the one place a stored snapshot is unpacked and shape-checked."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Generic, NamedTuple, TypeVar

from storage import codec
from storage.errors import CorruptRecord

T = TypeVar("T")


class Snapshot(NamedTuple):
    key: str
    seq: int
    body: dict[str, Any]


class JournalEntry(NamedTuple):
    seq: int
    event: dict[str, Any]


class Intent(NamedTuple):
    tag: str
    body: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Scan(Generic[T]):
    """Records found by a bulk read, and the ones that failed their checks (never silently dropped)."""

    items: tuple[T, ...] = ()
    corrupt: tuple[CorruptRecord, ...] = ()

    def __iter__(self) -> Iterator[T]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


def read_snapshot(key: str, raw: bytes, table: str) -> Snapshot:
    record = codec.decode(key, raw, table=table)
    seq, body = record.get("seq"), record.get("body")
    if isinstance(seq, bool) or not isinstance(seq, int) or not isinstance(body, dict):
        raise CorruptRecord(key, "snapshot record lacks an int seq and a map body", table=table)
    return Snapshot(key, seq, body)
