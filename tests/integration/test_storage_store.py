"""Store over a real LMDB environment: batches, stale writes, indexes, recovery reads, a full map."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime.config import StorageConfig
from storage import (
    Batch,
    CorruptRecord,
    KeyConflict,
    StaleWrite,
    StorageFull,
    Store,
    child_key,
    close_env,
    group_key,
    leg_key,
    open_env,
)
from storage.codec import encode

GROUP = {"strategy": "iron_condor", "state": "SUBMITTED", "legs": ["L1", "L2", "L3", "L4"]}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    env = open_env(StorageConfig(path=str(tmp_path / "db"), map_size=64 << 20))
    yield Store(env)
    close_env(env)


def corrupt_in_place(store: Store, db: object, key: bytes) -> None:
    """Flip one byte of a stored value, as a bad disk sector would."""
    with store.env.lmdb.begin(write=True) as txn:
        raw = bytearray(txn.get(key, db=db))
        raw[-1] ^= 0x01
        txn.put(key, bytes(raw), db=db)


def test_snapshot_round_trip_with_seq(store: Store) -> None:
    assert store.commit(Batch().put_snapshot(group_key("G1"), 3, GROUP)).ok
    assert store.snapshot(group_key("G1")) == (3, GROUP)
    assert store.snapshot(group_key("G2")) is None


def test_stale_batch_is_refused_whole_while_the_others_in_the_commit_land(store: Store) -> None:
    assert store.commit(Batch().put_snapshot(group_key("G1"), 5, GROUP)).ok
    stale = (
        Batch().put_snapshot(leg_key("G1", "L1"), 1, {"filled": 0}).put_snapshot(group_key("G1"), 4, GROUP)
    )
    fresh = Batch().put_snapshot(group_key("G2"), 1, GROUP).mark_open("G2")

    results = store.commit_many([stale, fresh])

    assert results[0].refusal == StaleWrite(group_key("G1"), stored_seq=5, new_seq=4)
    assert "g/G1" in str(results[0]) and "5" in str(results[0]) and "4" in str(results[0])
    assert results[1].ok
    # Nothing of the refused batch, including its first (valid) op, reached the disk.
    assert store.snapshot(leg_key("G1", "L1")) is None
    assert store.snapshot(group_key("G1")) == (5, GROUP)
    assert store.snapshot(group_key("G2")) == (1, GROUP)
    assert store.open_groups() == ["G2"]


def test_same_seq_different_body_is_stale(store: Store) -> None:
    assert store.commit(Batch().put_snapshot(group_key("G1"), 2, GROUP)).ok
    result = store.commit(Batch().put_snapshot(group_key("G1"), 2, {**GROUP, "state": "FILLED"}))
    assert result.refusal == StaleWrite(group_key("G1"), 2, 2)
    assert store.snapshot(group_key("G1")) == (2, GROUP)


def test_same_seq_same_body_is_an_idempotent_no_op(store: Store) -> None:
    assert store.commit(Batch().put_snapshot(group_key("G1"), 2, GROUP)).ok
    reordered = dict(reversed(list(GROUP.items())))  # equal map, different bytes
    assert store.commit(Batch().put_snapshot(group_key("G1"), 2, reordered)).ok
    assert store.commit(Batch().put_snapshot(group_key("G1"), 2, GROUP)).ok
    assert store.snapshot(group_key("G1")) == (2, GROUP)


def test_later_batch_is_checked_against_an_earlier_batch_of_the_same_commit(store: Store) -> None:
    first = Batch().put_snapshot(group_key("G1"), 7, GROUP)
    behind = Batch().put_snapshot(group_key("G1"), 6, GROUP)
    results = store.commit_many([first, behind])
    assert results[0].ok
    assert results[1].refusal == StaleWrite(group_key("G1"), 7, 6)


def test_ops_inside_one_batch_see_each_other(store: Store) -> None:
    result = store.commit(
        Batch().put_snapshot("risk/killswitch", 2, {"on": True}).put_snapshot("risk/killswitch", 1, {})
    )
    assert result.refusal == StaleWrite("risk/killswitch", 2, 1)
    assert store.snapshot("risk/killswitch") is None


def test_journal_scans_one_stream_in_seq_order(store: Store) -> None:
    # Written out of order and beside a stream whose name extends this one's.
    batch = Batch()
    for seq in (300, 2, 256, 1, 10):
        batch = batch.append_journal("G1", seq, {"n": seq})
    batch = batch.append_journal("G10", 5, {"n": "other"})
    assert store.commit(batch).ok

    assert [entry.seq for entry in store.journal("G1")] == [1, 2, 10, 256, 300]
    assert [entry.event["n"] for entry in store.journal("G1", from_seq=10)] == [10, 256, 300]
    assert [entry.seq for entry in store.journal("G10")] == [5]


def test_journal_entry_is_written_once(store: Store) -> None:
    assert store.commit(Batch().append_journal("G1", 1, {"e": "LegFilled"})).ok
    assert store.commit(Batch().append_journal("G1", 1, {"e": "LegFilled"})).ok  # a retry
    result = store.commit(Batch().append_journal("G1", 1, {"e": "LegCancelled"}))
    assert result.refusal == KeyConflict("journal", "G1#1")
    assert [entry.event for entry in store.journal("G1")] == [{"e": "LegFilled"}]


def test_intent_tag_and_idempotency_key_are_write_once(store: Store) -> None:
    intent = {"group_id": "G1", "leg_id": "L1", "qty": 1800}
    assert store.commit(Batch().put_intent("c1-1", intent).put_idempotency("req-9", {"group_id": "G1"})).ok
    clash = store.commit(Batch().put_intent("c1-1", {**intent, "qty": 65}))
    assert clash.refusal == KeyConflict("intents", "c1-1")
    twice = store.commit(Batch().put_idempotency("req-9", {"group_id": "G2"}).mark_open("G2"))
    assert twice.refusal == KeyConflict("idempotency", "req-9")
    assert store.intent("c1-1") == intent
    assert store.idempotency("req-9") == {"group_id": "G1"}
    assert store.open_groups() == []


def test_open_index_follows_mark_open_and_mark_settled(store: Store) -> None:
    assert store.commit(Batch().mark_open("G1").mark_open("G2").mark_open("G3")).ok
    assert store.commit(Batch().mark_settled("G2")).ok
    assert store.open_groups() == ["G1", "G3"]


def test_meta_values_and_reserved_keys(store: Store) -> None:
    assert store.commit(Batch().put_meta("sim/seed", 42)).ok
    assert store.meta("sim/seed") == 42
    assert store.meta("absent") is None
    with pytest.raises(ValueError, match="reserved"):
        Batch().put_meta("store/boot", 0)


def test_boot_counter_increments_durably(store: Store, tmp_path: Path) -> None:
    assert [store.next_boot() for _ in range(3)] == [1, 2, 3]
    close_env(store.env)
    reopened = Store(open_env(StorageConfig(path=str(tmp_path / "db"))))
    assert reopened.next_boot() == 4
    assert reopened.meta("store/boot") == 4


def test_load_recovery_groups_legs_children_and_intents(store: Store) -> None:
    g1 = (
        Batch()
        .mark_open("G1")
        .put_snapshot(group_key("G1"), 4, GROUP)
        .put_snapshot(leg_key("G1", "L1"), 2, {"filled": 65})
        .put_snapshot(leg_key("G1", "L2"), 1, {"filled": 0})
        .put_snapshot(child_key("G1", "C1"), 3, {"order_id": "250101000001"})
        .put_intent("c1-1", {"group_id": "G1", "child_id": "C1"})
    )
    # G10's keys share G1's prefix characters: they must not leak into G1.
    g10 = (
        Batch()
        .mark_open("G10")
        .put_snapshot(group_key("G10"), 1, GROUP)
        .put_intent("c1-2", {"group_id": "G10"})
    )
    settled = Batch().put_snapshot(group_key("G9"), 9, GROUP).put_intent("c1-3", {"group_id": "G9"})
    other = (
        Batch()
        .put_snapshot("risk/killswitch", 1, {"engaged": False})
        .put_intent("c1-4", {"purpose": "probe"})
    )
    assert all(result.ok for result in store.commit_many([g1, g10, settled, other]))

    recovered = store.load_recovery(prefixes=["risk/"])

    assert recovered.corrupt == ()
    assert [group.group_id for group in recovered.groups] == ["G1", "G10"]
    g1_loaded = recovered.groups[0]
    assert g1_loaded.snapshot is not None and g1_loaded.snapshot.seq == 4
    assert [(leg.key, leg.seq) for leg in g1_loaded.legs] == [("g/G1/l/L1", 2), ("g/G1/l/L2", 1)]
    assert [child.body for child in g1_loaded.children] == [{"order_id": "250101000001"}]
    assert [intent.tag for intent in g1_loaded.intents] == ["c1-1"]
    assert [intent.tag for intent in recovered.groups[1].intents] == ["c1-2"]
    assert recovered.groups[1].legs == ()
    assert [(snap.key, snap.body) for snap in recovered.snapshots] == [
        ("risk/killswitch", {"engaged": False})
    ]


def test_corrupt_snapshot_is_reported_with_its_key_and_the_rest_loads(store: Store) -> None:
    batch = (
        Batch()
        .mark_open("G1")
        .put_snapshot(group_key("G1"), 1, GROUP)
        .put_snapshot(leg_key("G1", "L1"), 1, {"filled": 65})
        .put_snapshot(leg_key("G1", "L2"), 1, {"filled": 0})
        .put_intent("c1-1", {"group_id": "G1"})
    )
    assert store.commit(batch).ok
    corrupt_in_place(store, store.env.tables.snapshots, b"g/G1/l/L1")

    recovered = store.load_recovery()

    assert [(bad.key, bad.table) for bad in recovered.corrupt] == [("g/G1/l/L1", "snapshots")]
    group = recovered.groups[0]
    assert group.snapshot is not None
    assert [leg.key for leg in group.legs] == ["g/G1/l/L2"]
    assert [intent.tag for intent in group.intents] == ["c1-1"]
    with pytest.raises(CorruptRecord) as caught:
        store.snapshot(leg_key("G1", "L1"))
    assert caught.value.key == "g/G1/l/L1"
    assert [bad.key for bad in store.find_corrupt()] == ["g/G1/l/L1"]


def test_corrupt_group_snapshot_and_intent_are_both_collected(store: Store) -> None:
    batch = (
        Batch().mark_open("G1").put_snapshot(group_key("G1"), 1, GROUP).put_intent("c1-1", {"group_id": "G1"})
    )
    assert store.commit(batch).ok
    corrupt_in_place(store, store.env.tables.snapshots, b"g/G1")
    corrupt_in_place(store, store.env.tables.intents, b"c1-1")

    recovered = store.load_recovery()

    assert recovered.groups[0].snapshot is None
    assert recovered.groups[0].intents == ()
    assert sorted((bad.table, bad.key) for bad in recovered.corrupt) == [
        ("intents", "c1-1"),
        ("snapshots", "g/G1"),
    ]


def test_overwriting_a_corrupt_snapshot_must_be_explicit(store: Store) -> None:
    assert store.commit(Batch().put_snapshot(group_key("G1"), 1, GROUP)).ok
    corrupt_in_place(store, store.env.tables.snapshots, b"g/G1")

    refused = store.commit(Batch().put_snapshot(group_key("G1"), 2, GROUP))
    assert isinstance(refused.refusal, CorruptRecord) and refused.refusal.key == "g/G1"

    assert store.commit(Batch().delete_snapshot(group_key("G1")).put_snapshot(group_key("G1"), 2, GROUP)).ok
    assert store.snapshot(group_key("G1")) == (2, GROUP)


def test_corrupt_journal_entry_is_reported_in_the_scan(store: Store) -> None:
    assert store.commit(Batch().append_journal("G1", 1, {"e": 1}).append_journal("G1", 2, {"e": 2})).ok
    corrupt_in_place(store, store.env.tables.journal, b"G1\x00" + (1).to_bytes(8, "big"))
    scan = store.journal("G1")
    assert [entry.seq for entry in scan] == [2]
    assert [bad.key for bad in scan.corrupt] == ["G1#1"]


def test_bad_keys_and_bodies_fail_in_the_caller_not_in_the_writer() -> None:
    with pytest.raises(ValueError):
        Batch().put_snapshot("x" * 600, 1, {})
    with pytest.raises(ValueError):
        Batch().put_snapshot("k", -1, {})
    with pytest.raises(ValueError):
        Batch().append_journal("G\x001", 1, {})
    with pytest.raises(ValueError):
        group_key("G1/evil")
    with pytest.raises(TypeError):
        Batch().put_snapshot("k", 1, {"when": object()})


def test_batch_is_an_immutable_value() -> None:
    empty = Batch()
    one = empty.mark_open("G1")
    assert len(empty) == 0 and len(one) == 1


def test_full_map_is_a_clear_error_and_nothing_is_half_written(tmp_path: Path) -> None:
    env = open_env(StorageConfig(path=str(tmp_path / "tiny"), map_size=64 << 10))
    try:
        store = Store(env)
        assert store.commit(Batch().put_snapshot("risk/killswitch", 1, {"engaged": False})).ok
        # One batch of many small records, so the first pages fit and a later one does not.
        filler = Batch().mark_open("G1")
        for index in range(200):
            filler = filler.put_snapshot(leg_key("G1", f"L{index}"), 1, {"pad": "x" * 500})
        with pytest.raises(StorageFull, match="map full"):
            store.commit_many([filler, Batch().mark_open("G2")])

        assert store.scan_snapshots("g/").items == ()
        assert store.open_groups() == []
        assert store.snapshot("risk/killswitch") == (1, {"engaged": False})
        assert store.commit(Batch().put_snapshot("risk/killswitch", 2, {"engaged": True})).ok
    finally:
        close_env(env)


def test_a_raw_record_written_by_another_tool_is_checked_too(store: Store) -> None:
    with store.env.lmdb.begin(write=True) as txn:
        txn.put(b"g/G7", encode({"no": "seq"}), db=store.env.tables.snapshots)
    scan = store.scan_snapshots("g/")
    assert scan.items == ()
    assert "seq" in scan.corrupt[0].reason
