"""What callers hand the writer: a batch of operations that commits as a whole or not at all.

A `Batch` is an immutable value built by chaining (`Batch().put_snapshot(...).mark_open(...)`), so it
can cross threads to the writer without copying. Bodies are encoded when the batch is built: a body
msgpack cannot carry fails in the caller, never inside the shared write transaction where it would
take the other callers' batches down with it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from storage import codec, keys
from storage.errors import CorruptRecord

# Meta keys under this prefix belong to the store itself (the boot counter).
RESERVED_META_PREFIX = "store/"


@dataclass(frozen=True, slots=True)
class PutSnapshot:
    key: str
    seq: int
    record: bytes


@dataclass(frozen=True, slots=True)
class DeleteSnapshot:
    key: str


@dataclass(frozen=True, slots=True)
class AppendJournal:
    stream: str
    seq: int
    record: bytes


@dataclass(frozen=True, slots=True)
class PutIntent:
    tag: str
    group_id: str | None
    record: bytes


@dataclass(frozen=True, slots=True)
class PutMeta:
    key: str
    record: bytes


@dataclass(frozen=True, slots=True)
class PutIdempotency:
    key: str
    record: bytes


@dataclass(frozen=True, slots=True)
class MarkOpen:
    group_id: str


@dataclass(frozen=True, slots=True)
class MarkSettled:
    group_id: str


Op = (
    PutSnapshot
    | DeleteSnapshot
    | AppendJournal
    | PutIntent
    | PutMeta
    | PutIdempotency
    | MarkOpen
    | MarkSettled
)


@dataclass(frozen=True, slots=True)
class Batch:
    ops: tuple[Op, ...] = ()

    def put_snapshot(self, key: str, seq: int, body: Mapping[str, Any]) -> Batch:
        """Replace the snapshot at `key` if `seq` is newer; see `StaleWrite` for when it is refused."""
        keys.key_bytes(key)
        return self._with(PutSnapshot(key, keys.check_seq(seq), snapshot_record(seq, body)))

    def delete_snapshot(self, key: str) -> Batch:
        keys.key_bytes(key)
        return self._with(DeleteSnapshot(key))

    def append_journal(self, stream: str, seq: int, event: Mapping[str, Any]) -> Batch:
        """Append `event` to `stream`; an entry is written once (the same event again is a no-op)."""
        keys.journal_key(stream, seq)
        return self._with(AppendJournal(stream, seq, codec.encode(event)))

    def put_intent(self, tag: str, body: Mapping[str, Any]) -> Batch:
        """Record what will be sent under `tag`, once: a different body under a used tag is refused."""
        keys.key_bytes(tag)
        record = codec.encode(body)
        group_id = body.get("group_id")
        if group_id is not None:
            keys.intent_group_key(group_id, tag)
        return self._with(PutIntent(tag, group_id, record))

    def put_meta(self, key: str, value: Any) -> Batch:
        keys.key_bytes(key)
        if key.startswith(RESERVED_META_PREFIX):
            raise ValueError(f"meta key {key!r} is reserved for the store")
        return self._with(PutMeta(key, codec.encode({"value": value})))

    def put_idempotency(self, key: str, body: Mapping[str, Any]) -> Batch:
        """Bind an idempotency key to its request, once: a different body under a used key is refused."""
        keys.key_bytes(key)
        return self._with(PutIdempotency(key, codec.encode(body)))

    def mark_open(self, group_id: str) -> Batch:
        keys.group_key(group_id)
        return self._with(MarkOpen(group_id))

    def mark_settled(self, group_id: str) -> Batch:
        keys.group_key(group_id)
        return self._with(MarkSettled(group_id))

    def __len__(self) -> int:
        return len(self.ops)

    def _with(self, op: Op) -> Batch:
        return Batch((*self.ops, op))


def snapshot_record(seq: int, body: Mapping[str, Any]) -> bytes:
    """A snapshot is stored with its sequence number inside the checksummed record."""
    if not isinstance(body, Mapping):
        raise TypeError(f"a snapshot body is a mapping, not {type(body).__name__}")
    return codec.encode({"seq": seq, "body": dict(body)})


@dataclass(frozen=True, slots=True)
class StaleWrite:
    """A snapshot write older than what is stored, or as old but different: someone is behind."""

    key: str
    stored_seq: int
    new_seq: int

    def __str__(self) -> str:
        if self.new_seq < self.stored_seq:
            return (
                f"stale write to {self.key!r}: seq {self.new_seq} is older than the stored {self.stored_seq}"
            )
        return f"stale write to {self.key!r}: seq {self.new_seq} is stored with a different body"


@dataclass(frozen=True, slots=True)
class KeyConflict:
    """A write-once key (journal entry, intent tag, idempotency key) already holds a different body."""

    table: str
    key: str

    def __str__(self) -> str:
        return f"{self.table} key {self.key!r} already holds a different record"


# Why a batch was refused as a whole. A corrupt stored snapshot refuses an overwrite: replacing it
# must be explicit (delete_snapshot then put_snapshot in one batch), never a side effect.
Refusal = StaleWrite | KeyConflict | CorruptRecord


@dataclass(frozen=True, slots=True)
class CommitResult:
    """The outcome of one batch. `ok` means durable on disk."""

    refusal: Refusal | None = None
    # Set when the transaction failed (StorageFull, a disk error): nothing of any batch in it was written.
    error: Exception | None = None

    @property
    def ok(self) -> bool:
        return self.refusal is None and self.error is None

    def __str__(self) -> str:
        if self.error is not None:
            return f"commit failed: {self.error}"
        if self.refusal is not None:
            return f"batch refused: {self.refusal}"
        return "committed"
