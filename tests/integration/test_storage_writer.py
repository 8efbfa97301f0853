"""The single writer: group commit, acknowledgement after durability, failure reaches every caller."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from runtime.config import StorageConfig
from storage import (
    Batch,
    CommitResult,
    StaleWrite,
    StorageFull,
    Store,
    ThreadedWriter,
    WriterClosed,
    WriterCore,
    close_env,
    group_key,
    leg_key,
    open_env,
)

WAIT_S = 10.0


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    env = open_env(StorageConfig(path=str(tmp_path / "db"), map_size=64 << 20))
    yield Store(env)
    close_env(env)


class CountingStore:
    """Records each commit_many call; wraps a real store so commits still happen."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.calls: list[int] = []

    def commit_many(self, batches: Sequence[Batch]) -> list[CommitResult]:
        self.calls.append(len(batches))
        return self.store.commit_many(batches)


def test_flush_commits_all_queued_in_one_transaction_and_acks_in_order(store: Store) -> None:
    counting = CountingStore(store)
    core = WriterCore(counting)
    acked: list[tuple[str, bool, object]] = []

    def ack(name: str, key: str) -> object:
        # Reads a fresh transaction: the record is committed by the time its caller hears back.
        return lambda result: acked.append((name, result.ok, store.snapshot(key)))

    core.enqueue(Batch().put_snapshot(group_key("G1"), 1, {"s": 1}), ack("a", group_key("G1")))
    core.enqueue(Batch().put_snapshot(group_key("G1"), 0, {"s": 0}), ack("b", group_key("G1")))
    core.enqueue(Batch().put_snapshot(group_key("G2"), 1, {"s": 2}), ack("c", group_key("G2")))
    assert acked == []  # nothing is acknowledged before the flush

    assert core.flush() == 3
    assert counting.calls == [3]
    assert acked == [("a", True, (1, {"s": 1})), ("b", False, (1, {"s": 1})), ("c", True, (1, {"s": 2}))]
    assert core.flush() == 0
    assert counting.calls == [3]


def test_refused_batch_reports_its_reason_to_its_own_caller(store: Store) -> None:
    core = WriterCore(store)
    results: list[CommitResult] = []
    assert store.commit(Batch().put_snapshot(leg_key("G1", "L1"), 9, {})).ok
    core.enqueue(Batch().put_snapshot(leg_key("G1", "L1"), 8, {}), results.append)
    core.flush()
    assert results[0].refusal == StaleWrite(leg_key("G1", "L1"), 9, 8)


def test_failed_transaction_fails_every_caller_and_acknowledges_none(tmp_path: Path) -> None:
    env = open_env(StorageConfig(path=str(tmp_path / "tiny"), map_size=64 << 10))
    try:
        store = Store(env)
        core = WriterCore(store)
        results: list[CommitResult] = []
        core.enqueue(Batch().mark_open("G1"), results.append)
        big = Batch()
        for index in range(200):
            big = big.put_snapshot(leg_key("G2", f"L{index}"), 1, {"pad": "x" * 500})
        core.enqueue(big, results.append)

        assert core.flush() == 2

        assert [result.ok for result in results] == [False, False]
        assert all(isinstance(result.error, StorageFull) for result in results)
        assert store.open_groups() == []
    finally:
        close_env(env)


def test_unexpected_error_fails_callers_then_reaches_the_driver() -> None:
    class BrokenStore:
        def commit_many(self, batches: Sequence[Batch]) -> list[CommitResult]:
            raise RuntimeError("disk controller on fire")

    core = WriterCore(BrokenStore())
    results: list[CommitResult] = []
    core.enqueue(Batch().mark_open("G1"), results.append)
    with pytest.raises(RuntimeError, match="on fire"):
        core.flush()
    assert len(results) == 1 and isinstance(results[0].error, RuntimeError)


def test_a_failing_callback_does_not_cost_later_callers_their_ack(store: Store) -> None:
    core = WriterCore(store)
    results: list[CommitResult] = []

    def broken(_result: CommitResult) -> None:
        raise ValueError("caller bug")

    core.enqueue(Batch().mark_open("G1"), broken)
    core.enqueue(Batch().mark_open("G2"), results.append)
    with pytest.raises(ExceptionGroup):
        core.flush()
    assert [result.ok for result in results] == [True]
    assert store.open_groups() == ["G1", "G2"]


class GatedStore:
    """Holds the first commit until released, so submissions pile up behind it."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.calls: list[int] = []
        self.entered = threading.Event()
        self.release = threading.Event()

    def commit_many(self, batches: Sequence[Batch]) -> list[CommitResult]:
        self.calls.append(len(batches))
        self.entered.set()
        assert self.release.wait(WAIT_S)
        return self.store.commit_many(batches)


def test_threaded_writer_groups_what_queued_during_a_commit(store: Store) -> None:
    gated = GatedStore(store)
    with ThreadedWriter(gated) as writer:
        first = writer.submit(Batch().mark_open("G0"))
        assert gated.entered.wait(WAIT_S)
        queued = [writer.submit(Batch().put_snapshot(group_key(f"G{n}"), 1, {"n": n})) for n in range(1, 6)]
        assert not first.done()  # not acknowledged while its commit is still running
        gated.release.set()
        assert first.result(WAIT_S).ok
        assert all(future.result(WAIT_S).ok for future in queued)
        assert gated.calls == [1, 5]
        assert writer.flushes == 2


def test_threaded_writer_under_concurrent_submitters(store: Store) -> None:
    submitters, per_submitter = 8, 25
    errors: list[str] = []

    def submit_many(writer: ThreadedWriter, index: int) -> None:
        for seq in range(1, per_submitter + 1):
            result = writer.submit(Batch().put_snapshot(f"bench/{index}", seq, {"seq": seq})).result(WAIT_S)
            if not result.ok:
                errors.append(str(result))

    with ThreadedWriter(store) as writer:
        threads = [threading.Thread(target=submit_many, args=(writer, n)) for n in range(submitters)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(WAIT_S * 3)
        assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    assert [store.snapshot(f"bench/{n}") for n in range(submitters)] == [
        (per_submitter, {"seq": per_submitter})
    ] * 8


def test_close_commits_what_is_queued_then_refuses_more(store: Store) -> None:
    gated = GatedStore(store)
    writer = ThreadedWriter(gated)
    first = writer.submit(Batch().mark_open("G1"))
    assert gated.entered.wait(WAIT_S)
    second = writer.submit(Batch().mark_open("G2"))
    gated.release.set()
    writer.close(WAIT_S)
    assert first.result(0).ok and second.result(0).ok
    with pytest.raises(WriterClosed):
        writer.submit(Batch().mark_open("G3"))
    assert store.open_groups() == ["G1", "G2"]


def test_a_cancelled_submission_is_not_written(store: Store) -> None:
    gated = GatedStore(store)
    with ThreadedWriter(gated) as writer:
        writer.submit(Batch().mark_open("G1"))
        assert gated.entered.wait(WAIT_S)
        cancelled = writer.submit(Batch().mark_open("G2"))
        assert cancelled.cancel()
        gated.release.set()
    assert store.open_groups() == ["G1"]
