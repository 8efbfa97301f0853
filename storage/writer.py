"""The single writer: group commit of everything queued, acknowledged only once durable.

`WriterCore` owns no thread, so whatever drives it (a pykka actor in the service, the deterministic
runtime in simulation, `ThreadedWriter` for standalone use) decides when to flush. LMDB binds a
write transaction to the thread that began it; a flush begins and ends its transaction inside one
call, on the caller's thread.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Protocol

from storage.batch import Batch, CommitResult
from storage.errors import StorageError

OnDone = Callable[[CommitResult], None]


class Committer(Protocol):
    def commit_many(self, batches: Sequence[Batch]) -> list[CommitResult]: ...


@dataclass(frozen=True, slots=True)
class _Pending:
    batch: Batch
    on_done: OnDone


class WriterCore:
    def __init__(self, store: Committer) -> None:
        self._store = store
        self._pending: list[_Pending] = []

    @property
    def pending(self) -> int:
        return len(self._pending)

    def enqueue(self, batch: Batch, on_done: OnDone) -> None:
        self._pending.append(_Pending(batch, on_done))

    def flush(self) -> int:
        """Commit every queued batch in one transaction, then acknowledge each in enqueue order.

        Returns how many batches were flushed. A failed transaction acknowledges every batch with a
        failed result (none is durable); an error other than a StorageError is re-raised after that,
        so a bug reaches the writer's supervisor instead of leaving callers waiting.
        """
        pending, self._pending = self._pending, []
        if not pending:
            return 0
        unexpected: Exception | None = None
        try:
            results = self._store.commit_many([item.batch for item in pending])
        except StorageError as exc:
            results = [CommitResult(error=exc)] * len(pending)
        except Exception as exc:
            results = [CommitResult(error=exc)] * len(pending)
            unexpected = exc
        _acknowledge(pending, results)
        if unexpected is not None:
            raise unexpected
        return len(pending)


def _acknowledge(pending: list[_Pending], results: list[CommitResult]) -> None:
    # One caller's failing callback must not cost the callers after it their acknowledgement.
    failures: list[Exception] = []
    for item, result in zip(pending, results, strict=True):
        try:
            item.on_done(result)
        except Exception as exc:
            failures.append(exc)
    if failures:
        raise ExceptionGroup("commit acknowledgement callbacks failed", failures)


class WriterClosed(RuntimeError):
    """submit() after close(): the batch was not taken."""


_STOP = None


class ThreadedWriter:
    """WriterCore on one thread of its own: each wake-up drains the queue into one flush."""

    def __init__(
        self, store: Committer, *, max_batches_per_flush: int = 1024, name: str = "storage-writer"
    ) -> None:
        self._core = WriterCore(store)
        self._queue: queue.SimpleQueue[tuple[Batch, Future[CommitResult]] | None] = queue.SimpleQueue()
        self._max_batches = max_batches_per_flush
        self._closed = False
        self._lock = threading.Lock()
        self.flushes = 0
        self.last_error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, batch: Batch) -> Future[CommitResult]:
        """A future resolved with the batch's result once its transaction is durable (or failed)."""
        future: Future[CommitResult] = Future()
        with self._lock:
            if self._closed:
                raise WriterClosed("writer is closed")
            self._queue.put((batch, future))
        return future

    def close(self, timeout: float = 10.0) -> None:
        """Commit what is queued, then stop the thread."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._queue.put(_STOP)
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise TimeoutError(f"storage writer did not stop within {timeout} s")

    def __enter__(self) -> ThreadedWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _run(self) -> None:
        stopping = False
        while not stopping:
            stopping = self._take(self._queue.get())
            while not stopping and self._core.pending < self._max_batches:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                stopping = self._take(item)
            self._flush()

    def _take(self, item: tuple[Batch, Future[CommitResult]] | None) -> bool:
        """Queue one submission for the next flush; True when it is the stop signal."""
        if item is _STOP:
            return True
        batch, future = item
        # A future cancelled before the writer took it is not written at all.
        if future.set_running_or_notify_cancel():
            self._core.enqueue(batch, future.set_result)
        return False

    def _flush(self) -> None:
        try:
            if self._core.flush():
                self.flushes += 1
        except Exception as exc:  # every waiter already has its failed result
            self.last_error = exc
