"""The writer process of the crash test (run as a script; the test imports its record recipe).

    storage_crash_writer.py PATH THREADS

Opens the store, counts a boot, prints `ready BOOT`, then commits records from THREADS threads
through the group-commit writer. For each record it prints `ack BOOT THREAD INDEX` only after its
commit returned durable. It runs until killed, or until stdin closes (the test process went away).

Each record is a deterministic function of (boot, thread, index), so the verifier rebuilds what an
ack promises without being told the bodies.
"""

from __future__ import annotations

import os
import random
import sys
import threading
from typing import Any

from runtime.config import StorageConfig
from storage import Batch, Store, ThreadedWriter, group_key, open_env

MAP_SIZE = 256 << 20
GROUP_SPAN = 5  # records per group: opened at the first, settled at the last
COMMIT_WAIT_S = 30.0


def snapshot_key(boot: int, thread: int) -> str:
    return f"crash/b{boot}/t{thread}"


def stream(boot: int, thread: int) -> str:
    return f"b{boot}t{thread}"


def intent_tag(boot: int, thread: int, index: int) -> str:
    return f"b{boot}t{thread}i{index}"


def group_of(boot: int, thread: int, index: int) -> str:
    return f"B{boot}T{thread}G{(index - 1) // GROUP_SPAN}"


def body(boot: int, thread: int, index: int) -> dict[str, Any]:
    rng = random.Random(f"{boot}/{thread}/{index}")
    # Up to ~6 KB: small records share pages, large ones take LMDB overflow pages.
    pad = rng.randbytes(rng.choice((rng.randrange(0, 200), rng.randrange(200, 6000))))
    return {"boot": boot, "thread": thread, "index": index, "pad": pad, "price": rng.random() * 100}


def record_batch(boot: int, thread: int, index: int) -> Batch:
    content = body(boot, thread, index)
    group_id = group_of(boot, thread, index)
    batch = (
        Batch()
        .put_snapshot(snapshot_key(boot, thread), index, content)
        .append_journal(stream(boot, thread), index, content)
        .put_intent(intent_tag(boot, thread, index), {"group_id": group_id, "index": index})
        .put_snapshot(group_key(group_id), index, {"last": index})
    )
    position = (index - 1) % GROUP_SPAN
    if position == 0:
        batch = batch.mark_open(group_id)
    if position == GROUP_SPAN - 1:
        batch = batch.mark_settled(group_id)
    return batch


def _say(line: str) -> None:
    # One write(2) per line, below PIPE_BUF: a line reaches the pipe whole or not at all.
    os.write(1, (line + "\n").encode())


def _commit_forever(writer: ThreadedWriter, boot: int, thread: int) -> None:
    index = 0
    while True:
        index += 1
        result = writer.submit(record_batch(boot, thread, index)).result(COMMIT_WAIT_S)
        if not result.ok:
            _say(f"fail {boot} {thread} {index} {result}")
            os._exit(2)
        _say(f"ack {boot} {thread} {index}")


def main(path: str, threads: int) -> int:
    store = Store(open_env(StorageConfig(path=path, map_size=MAP_SIZE)))
    boot = store.next_boot()
    _say(f"ready {boot}")
    writer = ThreadedWriter(store)
    for thread in range(threads):
        threading.Thread(target=_commit_forever, args=(writer, boot, thread), daemon=True).start()
    sys.stdin.read()  # returns when the test process closes our stdin or dies
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], int(sys.argv[2])))
