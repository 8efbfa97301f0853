"""The writer: the only actor that writes LMDB, with group commit.

LMDB allows one write transaction at a time, bound to its thread, so one actor owns it. Every
`Commit` that arrives is queued; the first one also queues a `Flush` to this actor's own inbox, so
every Commit that arrived before that Flush is written in the same durable transaction. The cost of
an fsync is shared by everything that was waiting for it, with no timer and no extra thread.
"""

from __future__ import annotations

from typing import Any

from actors.messages import Barrier, Commit, CommitFailed, Flush
from storage.writer import WriterCore
from supervision.base import SupervisedActor, handles


class WriterActor(SupervisedActor):
    # Commits block on fsync: a thread of its own, never a pool worker (runtime.pool).
    dedicated_thread = True

    def started(self) -> None:
        # The queue outlives this instance: commits accepted before a crash of the writer are written
        # by its successor (the callers were promised an answer; the process has not died).
        self.core = self.ctx.extras.setdefault("writer_core", WriterCore(self.ctx.store))
        # Barriers waiting for a flush, kept with the queue: one that was being handled when the
        # writer crashed is answered by the successor.
        self.barriers: list[Any] = self.ctx.extras.setdefault("writer_barriers", [])
        self.flush_queued = False
        if self.core.pending or self.barriers:
            self._queue_flush()
        self.commits = 0
        self.transactions = 0

    def describe(self) -> dict[str, Any]:
        return {"address": self.actor_address, "commits": self.commits, "transactions": self.transactions}

    @handles(Commit)
    def on_commit(self, message: Commit) -> None:
        self.core.enqueue(message.batch, lambda result, m=message: self._done(m, result))
        self._queue_flush()

    @handles(Barrier)
    def on_barrier(self, message: Barrier) -> bool:
        if message.future is not None:
            self.barriers.append(message.future)
        self._flush()
        return True

    @handles(Flush)
    def on_flush(self, _message: Flush) -> None:
        self.flush_queued = False
        self._flush()

    def _queue_flush(self) -> None:
        if not self.flush_queued:
            self.flush_queued = True
            self.tell_self(Flush())

    def _flush(self) -> None:
        self.ctx.faults.hit("writer.before_commit")
        committed = self.core.flush()
        if committed:
            self.transactions += 1
            self.commits += committed
        waiting, self.barriers[:] = list(self.barriers), []
        for future in waiting:
            future.set(True)

    def _done(self, message: Commit, result: Any) -> None:
        if not result.ok:
            # str(result) covers both a failed transaction and a refused batch (stale or conflicting).
            self.log.error("commit_failed", reason=str(result))
            if message.reply_to is not None:
                self.tell(message.reply_to, CommitFailed(str(result), message.batch))
            if message.future is not None:
                message.future.set(result)
            return
        if message.future is not None:
            message.future.set(result)
        if self.ctx.faults.process_crash_due("writer.after_commit"):
            # Simulation: the process dies here, durable but before anything it causes has happened
            # (the hardest point to recover from). The runtime stops scheduling; nothing is delivered.
            return
        for address, follow_up in message.then:
            self.tell(address, follow_up)
