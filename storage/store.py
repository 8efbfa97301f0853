"""`Store`: the synchronous storage API of the single writer and of recovery.

Writes go through `commit_many`, one LMDB write transaction for every batch handed over (group
commit), durable when it returns. Each batch is atomic on its own: it runs in a nested transaction
that is dropped if any of its operations is refused, so one caller's stale snapshot never costs the
others their commit. Reads open their own read transaction and may run on any thread.

Tables and what they hold (key layout of snapshots in storage.keys):

    snapshots      key → {seq, body}; a write older than the stored seq is refused (StaleWrite)
    journal        stream NUL seq → event; append-only, each entry written once
    intents        child-order tag → intent; written once, indexed by body["group_id"]
    meta           key → value; "store/" keys are the store's own (the boot counter)
    idempotency    idempotency key → request; written once
    open_groups    group id → b"" while the group is not settled
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import lmdb

from storage import codec, keys
from storage.apply import apply_op
from storage.batch import RESERVED_META_PREFIX, Batch, CommitResult
from storage.env import IDEMPOTENCY, INTENTS, JOURNAL, META, SNAPSHOTS, StorageEnv
from storage.errors import CorruptRecord, StorageError, StorageFull
from storage.records import JournalEntry, Scan, Snapshot, read_snapshot
from storage.recovery import RecoverySet, load_recovery, open_group_ids, prefixed, scan_snapshots

if TYPE_CHECKING:
    from storage.env import Db, Txn

BOOT_KEY = RESERVED_META_PREFIX + "boot"
INSTANCE_KEY = RESERVED_META_PREFIX + "instance"


class Store:
    def __init__(self, env: StorageEnv) -> None:
        self._env = env
        self._tables = env.tables

    @property
    def env(self) -> StorageEnv:
        return self._env

    # -- writes ---------------------------------------------------------------------------------

    def commit(self, batch: Batch) -> CommitResult:
        return self.commit_many([batch])[0]

    def commit_many(self, batches: Sequence[Batch]) -> list[CommitResult]:
        """Commit every batch in one durable transaction; each is refused or written as a whole.

        Raises StorageFull / StorageError when the transaction itself fails: then nothing is written.
        """
        with self._write_txn() as txn:
            return [self._commit_batch(txn, batch) for batch in batches]

    def next_boot(self) -> int:
        """Count this start durably; ids minted in this boot never collide with earlier boots'."""
        with self._write_txn() as txn:
            raw = txn.get(BOOT_KEY.encode(), db=self._tables.meta)
            boot = 0 if raw is None else _boot_number(raw)
            txn.put(BOOT_KEY.encode(), codec.encode({"value": boot + 1}), db=self._tables.meta)
        return boot + 1

    def instance_id(self, generate: Callable[[], str]) -> str:
        """This data directory's own id, made once by `generate` and kept.

        Order tags carry it: Kite's order book keeps the whole day, so a service started on a fresh
        directory must never read an earlier process's order as one of its own.
        """
        with self._write_txn() as txn:
            raw = txn.get(INSTANCE_KEY.encode(), db=self._tables.meta)
            if raw is not None:
                return str(codec.decode(INSTANCE_KEY, raw, table="meta")["value"])
            value = generate()
            txn.put(INSTANCE_KEY.encode(), codec.encode({"value": value}), db=self._tables.meta)
        return value

    def _commit_batch(self, txn: Txn, batch: Batch) -> CommitResult:
        if not batch.ops:
            return CommitResult()
        nested = self._env.lmdb.begin(write=True, parent=txn)
        try:
            for op in batch.ops:
                refusal = apply_op(nested, self._tables, op)
                if refusal is not None:
                    nested.abort()
                    return CommitResult(refusal=refusal)
        except BaseException:
            nested.abort()
            raise
        nested.commit()
        return CommitResult()

    @contextmanager
    def _write_txn(self) -> Iterator[Txn]:
        try:
            # Leaving the block commits (with fsync: the env is opened sync + metasync); an
            # exception aborts, so a failed commit leaves nothing half-written.
            with self._env.lmdb.begin(write=True) as txn:
                yield txn
        except lmdb.MapFullError as exc:
            info = self._env.lmdb.info()
            raise StorageFull(
                f"LMDB map full at {self._env.path} ({info['map_size']} bytes); transaction aborted"
            ) from exc
        except lmdb.Error as exc:
            raise StorageError(f"LMDB write failed at {self._env.path}: {exc}") from exc

    # -- reads ----------------------------------------------------------------------------------

    def snapshot(self, key: str) -> tuple[int, dict[str, Any]] | None:
        raw = self._get(self._tables.snapshots, keys.key_bytes(key))
        if raw is None:
            return None
        found = read_snapshot(key, raw, SNAPSHOTS)
        return found.seq, found.body

    def scan_snapshots(self, prefix: str) -> Scan[Snapshot]:
        with self._env.lmdb.begin() as txn:
            return scan_snapshots(txn, self._tables, prefix)

    def journal(self, stream: str, from_seq: int = 0) -> Scan[JournalEntry]:
        prefix = keys.journal_prefix(stream)
        entries: list[JournalEntry] = []
        corrupt: list[CorruptRecord] = []
        with self._env.lmdb.begin() as txn:
            cursor = txn.cursor(db=self._tables.journal)
            if cursor.set_range(keys.journal_key(stream, from_seq)):
                for raw_key, raw in cursor.iternext():
                    if not raw_key.startswith(prefix):
                        break
                    seq = keys.journal_seq(raw_key)
                    try:
                        event = codec.decode(keys.journal_label(stream, seq), raw, table=JOURNAL)
                        entries.append(JournalEntry(seq, event))
                    except CorruptRecord as exc:
                        corrupt.append(exc)
        return Scan(tuple(entries), tuple(corrupt))

    def intent(self, tag: str) -> dict[str, Any] | None:
        return self._get_decoded(self._tables.intents, tag, INTENTS)

    def idempotency(self, key: str) -> dict[str, Any] | None:
        return self._get_decoded(self._tables.idempotency, key, IDEMPOTENCY)

    def meta(self, key: str) -> Any:
        record = self._get_decoded(self._tables.meta, key, META)
        if record is None:
            return None
        if "value" not in record:
            raise CorruptRecord(key, "meta record without a value", table=META)
        return record["value"]

    def open_groups(self) -> list[str]:
        with self._env.lmdb.begin() as txn:
            return open_group_ids(txn, self._tables)

    def load_recovery(self, prefixes: Iterable[str] = ()) -> RecoverySet:
        """Every open group with its legs, children and intents, plus snapshots under `prefixes`."""
        with self._env.lmdb.begin() as txn:
            return load_recovery(txn, self._tables, prefixes)

    def find_corrupt(self) -> list[CorruptRecord]:
        """Check every stored record (a full read of the store): what fails, with its key."""
        found: list[CorruptRecord] = []
        with self._env.lmdb.begin() as txn:
            found.extend(scan_snapshots(txn, self._tables, "").corrupt)
            for raw_key, raw in prefixed(txn, self._tables.journal, b""):
                found.extend(_decode_failure(keys.journal_label_of(raw_key), raw, JOURNAL))
            tables = self._tables
            for table, db in (
                (INTENTS, tables.intents),
                (META, tables.meta),
                (IDEMPOTENCY, tables.idempotency),
            ):
                for raw_key, raw in prefixed(txn, db, b""):
                    found.extend(_decode_failure(raw_key, raw, table))
        return found

    def _get(self, db: Db, key: bytes) -> bytes | None:
        with self._env.lmdb.begin() as txn:
            raw: bytes | None = txn.get(key, db=db)
            return raw

    def _get_decoded(self, db: Db, key: str, table: str) -> dict[str, Any] | None:
        raw = self._get(db, keys.key_bytes(key))
        return None if raw is None else codec.decode(key, raw, table=table)


def _decode_failure(key: bytes | str, raw: bytes, table: str) -> list[CorruptRecord]:
    try:
        codec.decode(key, raw, table=table)
    except CorruptRecord as exc:
        return [exc]
    return []


def _boot_number(raw: bytes) -> int:
    # A corrupt boot counter stops the start: guessing a number could reuse ids of an earlier boot.
    value = codec.decode(BOOT_KEY, raw, table=META).get("value")
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise CorruptRecord(BOOT_KEY, f"boot counter holds {value!r}", table=META)
    return value
