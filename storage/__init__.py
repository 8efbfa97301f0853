"""LMDB storage: one environment per process, a versioned checksummed msgpack codec, one writer.

env = open_env(settings.storage)          # once per process per directory
store = Store(env)
boot = store.next_boot()
writer = ThreadedWriter(store)            # or WriterCore(store) driven by the writer actor
result = writer.submit(Batch().put_snapshot(group_key(gid), 1, body).mark_open(gid)).result(timeout)
"""

from storage.batch import Batch, CommitResult, KeyConflict, Refusal, StaleWrite
from storage.codec import SCHEMA_VERSION, Schema, decode, encode
from storage.env import StorageEnv, close_env, open_env
from storage.errors import CorruptRecord, StorageError, StorageFull
from storage.keys import child_key, child_prefix, group_key, leg_key, leg_prefix
from storage.records import Intent, JournalEntry, Scan, Snapshot
from storage.recovery import RecoveredGroup, RecoverySet
from storage.store import Store
from storage.writer import ThreadedWriter, WriterClosed, WriterCore

__all__ = [
    "SCHEMA_VERSION",
    "Batch",
    "CommitResult",
    "CorruptRecord",
    "Intent",
    "JournalEntry",
    "KeyConflict",
    "RecoveredGroup",
    "RecoverySet",
    "Refusal",
    "Scan",
    "Schema",
    "Snapshot",
    "StaleWrite",
    "StorageEnv",
    "StorageError",
    "StorageFull",
    "Store",
    "ThreadedWriter",
    "WriterClosed",
    "WriterCore",
    "child_key",
    "child_prefix",
    "close_env",
    "decode",
    "encode",
    "group_key",
    "leg_key",
    "leg_prefix",
    "open_env",
]
