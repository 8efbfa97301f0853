"""Applying a batch's operations inside the writer's transaction.

Each function checks the operation against what the transaction sees now (earlier batches of the
same group commit included) and either writes or returns the reason the whole batch is refused.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from storage import codec, keys
from storage.batch import (
    AppendJournal,
    DeleteSnapshot,
    KeyConflict,
    MarkOpen,
    MarkSettled,
    Op,
    PutIdempotency,
    PutIntent,
    PutMeta,
    PutSnapshot,
    Refusal,
    StaleWrite,
)
from storage.env import IDEMPOTENCY, INTENTS, JOURNAL, SNAPSHOTS, Tables
from storage.errors import CorruptRecord
from storage.records import read_snapshot

if TYPE_CHECKING:
    from storage.env import Db, Txn


def apply_op(txn: Txn, tables: Tables, op: Op) -> Refusal | None:
    return _APPLY[type(op)](txn, tables, op)


def _put_snapshot(txn: Txn, tables: Tables, op: PutSnapshot) -> Refusal | None:
    key = keys.key_bytes(op.key)
    stored_raw = txn.get(key, db=tables.snapshots)
    if stored_raw is not None:
        try:
            stored = read_snapshot(op.key, stored_raw, SNAPSHOTS)
        except CorruptRecord as corrupt:
            return corrupt
        if stored.seq > op.seq:
            return StaleWrite(op.key, stored.seq, op.seq)
        if stored.seq == op.seq:
            same = _same_body(stored_raw, op.record, lambda r: read_snapshot(op.key, r, SNAPSHOTS).body)
            return None if same else StaleWrite(op.key, stored.seq, op.seq)
    txn.put(key, op.record, db=tables.snapshots)
    return None


def _delete_snapshot(txn: Txn, tables: Tables, op: DeleteSnapshot) -> Refusal | None:
    txn.delete(keys.key_bytes(op.key), db=tables.snapshots)
    return None


def _append_journal(txn: Txn, tables: Tables, op: AppendJournal) -> Refusal | None:
    key = keys.journal_key(op.stream, op.seq)
    return _put_once(
        txn, tables.journal, key, op.record, table=JOURNAL, label=keys.journal_label(op.stream, op.seq)
    )


def _put_intent(txn: Txn, tables: Tables, op: PutIntent) -> Refusal | None:
    refusal = _put_once(txn, tables.intents, keys.key_bytes(op.tag), op.record, table=INTENTS, label=op.tag)
    if refusal is None and op.group_id is not None:
        txn.put(keys.intent_group_key(op.group_id, op.tag), b"", db=tables.intent_groups)
    return refusal


def _put_meta(txn: Txn, tables: Tables, op: PutMeta) -> Refusal | None:
    txn.put(keys.key_bytes(op.key), op.record, db=tables.meta)
    return None


def _put_idempotency(txn: Txn, tables: Tables, op: PutIdempotency) -> Refusal | None:
    return _put_once(
        txn, tables.idempotency, keys.key_bytes(op.key), op.record, table=IDEMPOTENCY, label=op.key
    )


def _mark_open(txn: Txn, tables: Tables, op: MarkOpen) -> Refusal | None:
    txn.put(keys.key_bytes(op.group_id), b"", db=tables.open_groups)
    return None


def _mark_settled(txn: Txn, tables: Tables, op: MarkSettled) -> Refusal | None:
    txn.delete(keys.key_bytes(op.group_id), db=tables.open_groups)
    return None


def _put_once(txn: Txn, db: Db, key: bytes, record: bytes, *, table: str, label: str) -> Refusal | None:
    """Write-once: the same record again is a no-op (a retried batch), a different one a conflict."""
    stored_raw = txn.get(key, db=db)
    if stored_raw is None:
        txn.put(key, record, db=db)
        return None
    try:
        same = _same_body(stored_raw, record, lambda r: codec.decode(label, r, table=table))
    except CorruptRecord as corrupt:
        return corrupt
    return None if same else KeyConflict(table, label)


def _same_body(stored_raw: bytes, record: bytes, body_of: Callable[[bytes], Any]) -> bool:
    # Equal bytes are the common retry case; otherwise compare decoded values, because the same
    # map built in a different key order encodes to different bytes.
    return bytes(stored_raw) == record or body_of(stored_raw) == body_of(record)


_APPLY: dict[type, Callable[[Txn, Tables, Any], Refusal | None]] = {
    PutSnapshot: _put_snapshot,
    DeleteSnapshot: _delete_snapshot,
    AppendJournal: _append_journal,
    PutIntent: _put_intent,
    PutMeta: _put_meta,
    PutIdempotency: _put_idempotency,
    MarkOpen: _mark_open,
    MarkSettled: _mark_settled,
}
