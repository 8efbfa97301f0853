"""Recovery reads: every group that is not settled, with its legs, children and intents.

Everything is read in one read transaction, so the set is one consistent point in time. A record
that fails its checks is collected in `corrupt` with its key and the rest still loads: one bad
record must never stop a restart.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from storage import codec, keys
from storage.env import INTENT_GROUPS, INTENTS, SNAPSHOTS, Tables
from storage.errors import CorruptRecord
from storage.records import Intent, Scan, Snapshot, read_snapshot

if TYPE_CHECKING:
    from storage.env import Db, Txn


@dataclass(frozen=True, slots=True)
class RecoveredGroup:
    group_id: str
    # None when the group's own snapshot is missing or corrupt (then it is in RecoverySet.corrupt).
    snapshot: Snapshot | None
    legs: tuple[Snapshot, ...]
    children: tuple[Snapshot, ...]
    intents: tuple[Intent, ...]


@dataclass(frozen=True, slots=True)
class RecoverySet:
    groups: tuple[RecoveredGroup, ...]
    # Snapshots under the prefixes asked for (e.g. "risk/"), outside any group.
    snapshots: tuple[Snapshot, ...]
    corrupt: tuple[CorruptRecord, ...]


def load_recovery(txn: Txn, tables: Tables, prefixes: Iterable[str] = ()) -> RecoverySet:
    corrupt: list[CorruptRecord] = []
    groups = tuple(_recover_group(txn, tables, group_id, corrupt) for group_id in open_group_ids(txn, tables))
    snapshots: list[Snapshot] = []
    for prefix in prefixes:
        scan = scan_snapshots(txn, tables, prefix)
        snapshots.extend(scan.items)
        corrupt.extend(scan.corrupt)
    return RecoverySet(groups=groups, snapshots=tuple(snapshots), corrupt=tuple(corrupt))


def open_group_ids(txn: Txn, tables: Tables) -> list[str]:
    cursor = txn.cursor(db=tables.open_groups)
    return [key.decode("utf-8") for key in cursor.iternext(keys=True, values=False)]


def scan_snapshots(txn: Txn, tables: Tables, prefix: str) -> Scan[Snapshot]:
    found: list[Snapshot] = []
    corrupt: list[CorruptRecord] = []
    for raw_key, raw in prefixed(txn, tables.snapshots, prefix.encode("utf-8")):
        try:
            found.append(read_snapshot(raw_key.decode("utf-8"), raw, SNAPSHOTS))
        except CorruptRecord as exc:
            corrupt.append(exc)
    return Scan(tuple(found), tuple(corrupt))


def prefixed(txn: Txn, db: Db, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
    """Key/value pairs whose key starts with `prefix`, in key order."""
    cursor = txn.cursor(db=db)
    if not cursor.set_range(prefix):
        return
    for key, value in cursor.iternext():
        if not key.startswith(prefix):
            return
        yield key, value


def _recover_group(txn: Txn, tables: Tables, group_id: str, corrupt: list[CorruptRecord]) -> RecoveredGroup:
    legs = scan_snapshots(txn, tables, keys.leg_prefix(group_id))
    children = scan_snapshots(txn, tables, keys.child_prefix(group_id))
    corrupt.extend(legs.corrupt)
    corrupt.extend(children.corrupt)
    return RecoveredGroup(
        group_id=group_id,
        snapshot=_group_snapshot(txn, tables, group_id, corrupt),
        legs=legs.items,
        children=children.items,
        intents=tuple(_group_intents(txn, tables, group_id, corrupt)),
    )


def _group_snapshot(txn: Txn, tables: Tables, group_id: str, corrupt: list[CorruptRecord]) -> Snapshot | None:
    key = keys.group_key(group_id)
    raw = txn.get(key.encode("utf-8"), db=tables.snapshots)
    if raw is None:
        return None
    try:
        return read_snapshot(key, raw, SNAPSHOTS)
    except CorruptRecord as exc:
        corrupt.append(exc)
        return None


def _group_intents(txn: Txn, tables: Tables, group_id: str, corrupt: list[CorruptRecord]) -> Iterator[Intent]:
    index_prefix = keys.intent_group_prefix(group_id)
    for index_key, _ in prefixed(txn, tables.intent_groups, index_prefix):
        tag = index_key[len(index_prefix) :].decode("utf-8")
        raw = txn.get(index_key[len(index_prefix) :], db=tables.intents)
        if raw is None:
            reason = f"indexed under group {group_id!r} but missing"
            corrupt.append(CorruptRecord(tag, reason, table=INTENT_GROUPS))
            continue
        try:
            body = codec.decode(tag, raw, table=INTENTS)
        except CorruptRecord as exc:
            corrupt.append(exc)
            continue
        if body.get("group_id") != group_id:
            reason = f"indexed under group {group_id!r} but names {body.get('group_id')!r}"
            corrupt.append(CorruptRecord(tag, reason, table=INTENTS))
            continue
        yield Intent(tag, body)
