"""What goes wrong in storage, by kind.

`StorageFull` and `StorageError` mean a commit did not happen: nothing of its transaction is on disk
and nobody may be told it is. `CorruptRecord` means one stored record cannot be trusted: it names the
key so recovery can report it and carry on with the rest.
"""

from __future__ import annotations


class StorageError(Exception):
    """The store could not do what was asked; no partial effect is left behind."""


class StorageFull(StorageError):
    """The LMDB map is full: the transaction was aborted as a whole."""


class CorruptRecord(StorageError):
    """A stored record failed its magic, version, checksum or shape check."""

    def __init__(self, key: bytes | str, reason: str, *, table: str = "") -> None:
        self.key = key if isinstance(key, str) else key.decode("utf-8", errors="backslashreplace")
        self.reason = reason
        self.table = table
        where = f"{table}:{self.key}" if table else self.key
        super().__init__(f"corrupt record {where!r}: {reason}")

    def __reduce__(self) -> tuple[object, ...]:
        # Keyword-only `table` is not in args; keep the exception picklable across processes.
        return (_rebuild_corrupt, (self.key, self.reason, self.table))


def _rebuild_corrupt(key: str, reason: str, table: str) -> CorruptRecord:
    return CorruptRecord(key, reason, table=table)
