"""The LMDB environment: one per process per directory, opened once, closed once.

LMDB's locks are per (process, file), so a second open of the same files in one process would share
and then release the first one's locks; py-lmdb refuses it outright. `open_env` therefore hands back
the environment already open for a directory. The map is reserved up front (LMDB only uses what it
writes) because growing it needs every transaction in the process stopped.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeAlias

import lmdb

from runtime.config import StorageConfig
from storage.errors import StorageError, StorageFull

SNAPSHOTS = "snapshots"
JOURNAL = "journal"
INTENTS = "intents"
INTENT_GROUPS = "intent_groups"  # index: group id, NUL, tag → b"", so recovery need not scan all intents
META = "meta"
IDEMPOTENCY = "idempotency"
OPEN_GROUPS = "open_groups"  # index: group id → b"" for every group not yet settled
TABLE_NAMES = (SNAPSHOTS, JOURNAL, INTENTS, INTENT_GROUPS, META, IDEMPOTENCY, OPEN_GROUPS)
# Headroom so a later table needs no reopen with a larger max_dbs.
MAX_DBS = 16


if TYPE_CHECKING:
    # The stubs make Transaction generic over bytes/memoryview; legguard never asks for buffers.
    Txn: TypeAlias = lmdb.Transaction[bytes]
    Db: TypeAlias = lmdb._Database


@dataclass(frozen=True, slots=True)
class Tables:
    snapshots: Db
    journal: Db
    intents: Db
    intent_groups: Db
    meta: Db
    idempotency: Db
    open_groups: Db


@dataclass(frozen=True, slots=True)
class StorageEnv:
    path: str
    lmdb: lmdb.Environment
    tables: Tables
    # Reader slots of dead processes released at open; a killed writer leaves one behind.
    stale_readers_cleared: int
    # LMDB environments must not be used across fork(); a forked child sees a different pid.
    opened_by_pid: int


_open_envs: dict[str, StorageEnv] = {}
_registry_lock = threading.Lock()


def open_env(config: StorageConfig) -> StorageEnv:
    """The environment for `config.path`, opened now or earlier in this process.

    A second call for the same directory returns the first environment as is: its map size and
    flags were fixed by the first open.
    """
    os.makedirs(config.path, mode=0o700, exist_ok=True)
    path = os.path.realpath(config.path)
    with _registry_lock:
        env = _open_envs.get(path)
        if env is not None and env.opened_by_pid != os.getpid():
            raise StorageError(
                f"{path} was opened before this process forked; LMDB cannot be shared over fork"
            )
        if env is None:
            env = _open(path, config.map_size, sync=config.sync)
            _open_envs[path] = env
        return env


def close_env(env: StorageEnv) -> None:
    """Close `env` for the whole process; every Store over it is unusable afterwards."""
    with _registry_lock:
        if _open_envs.get(env.path) is env:
            del _open_envs[env.path]
        env.lmdb.close()


def _open(path: str, map_size: int, *, sync: bool = True) -> StorageEnv:
    handle = lmdb.open(
        path,
        map_size=map_size,
        max_dbs=MAX_DBS,
        # Durable on commit: data pages and the meta page are both flushed before commit returns.
        sync=sync,
        metasync=sync,
        mode=0o600,
    )
    try:
        cleared = handle.reader_check()
        tables = Tables(**{name: handle.open_db(name.encode()) for name in TABLE_NAMES})
    except lmdb.MapFullError as exc:
        handle.close()
        raise StorageFull(f"LMDB map of {map_size} bytes at {path} cannot hold the tables") from exc
    except BaseException:
        handle.close()
        raise
    return StorageEnv(
        path=path, lmdb=handle, tables=tables, stale_readers_cleared=cleared, opened_by_pid=os.getpid()
    )
