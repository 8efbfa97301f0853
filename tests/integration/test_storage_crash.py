"""Crash test: a writer process SIGKILLed at random moments, over and over, on one directory.

After every kill the directory is opened by this process (only once the writer is dead: one
environment per process) and checked: every acknowledged record is present and decodes to what was
acknowledged, each batch landed whole or not at all, and no record anywhere is corrupt.

The seed fixes where the kills fall (after how many acks); thread timing still varies run to run.
Replay a failure with STORAGE_CRASH_SEED=<seed>.
"""

from __future__ import annotations

import functools
import os
import random
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import pytest
import storage_crash_writer as recipe

from runtime.config import StorageConfig
from storage import Store, close_env, group_key, open_env

WRITER = str(Path(__file__).with_name("storage_crash_writer.py"))
KILLS = 120
THREADS = 4
MAX_ACKS_BEFORE_KILL = 40
LINE_WAIT_S = 20.0
EXIT_WAIT_S = 20.0
# Every cycle re-checks the whole history; rebuilding each body from its seed each time would
# dominate the run.
expected_body = functools.cache(recipe.body)


class Pipe:
    """Lines from a child's stdout, each read with a deadline."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._fd = stream.fileno()
        self._buffer = b""
        self._eof = False

    def readline(self, timeout: float) -> str | None:
        """The next whole line; None at end of stream (a torn last line is dropped, never counted)."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            if self._eof:
                return None
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no line from the writer within {timeout} s")
            readable, _, _ = select.select([self._fd], [], [], remaining)
            if readable:
                chunk = os.read(self._fd, 1 << 16)
                self._buffer += chunk
                self._eof = not chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line.decode()


@dataclass
class Acks:
    """What the writers promised: the highest acknowledged index per (boot, thread)."""

    highest: dict[tuple[int, int], int] = field(default_factory=dict)
    count: int = 0
    last_boot: int = 0

    def take(self, line: str) -> None:
        kind, *fields = line.split()
        if kind == "ready":
            boot = int(fields[0])
            assert boot > self.last_boot, f"boot counter went from {self.last_boot} to {boot}"
            self.last_boot = boot
            return
        assert kind == "ack", f"writer said: {line}"
        boot, thread, index = map(int, fields)
        assert index == self.highest.get((boot, thread), 0) + 1, f"acks out of order: {line}"
        self.highest[boot, thread] = index
        self.count += 1


def run_writer_until_killed(path: str, rng: random.Random, acks: Acks, log: IO[bytes]) -> bool:
    """Start a writer, kill it at a point drawn from `rng`, collect every ack it printed."""
    child = subprocess.Popen(
        [sys.executable, WRITER, path, str(THREADS)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=log,
    )
    assert child.stdout is not None and child.stdin is not None
    pipe = Pipe(child.stdout)
    try:
        roll = rng.random()
        # Sometimes before the store is even open, sometimes right after the boot, mostly mid-stream.
        kill_after = -1 if roll < 0.05 else 0 if roll < 0.15 else rng.randint(1, MAX_ACKS_BEFORE_KILL)
        seen = 0
        while seen <= kill_after:
            line = pipe.readline(LINE_WAIT_S)
            assert line is not None, "writer exited on its own"
            acks.take(line)
            seen += 1
        os.kill(child.pid, signal.SIGKILL)
        killed = child.wait(timeout=EXIT_WAIT_S) == -signal.SIGKILL
        # Acks already in the pipe were printed after a durable commit: they count too.
        while (line := pipe.readline(LINE_WAIT_S)) is not None:
            acks.take(line)
        return killed
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=EXIT_WAIT_S)
        child.stdin.close()
        child.stdout.close()


def verify(path: str, acks: Acks) -> None:
    env = open_env(StorageConfig(path=path, map_size=recipe.MAP_SIZE))
    try:
        store = Store(env)
        assert store.find_corrupt() == []
        recovered = store.load_recovery()
        assert recovered.corrupt == ()
        expected_open: set[str] = set()
        # Every boot the store counted, including ones killed before they said "ready".
        for boot in range(1, (store.meta("store/boot") or 0) + 1):
            for thread in range(THREADS):
                last = verify_thread(store, boot, thread, acks.highest.get((boot, thread), 0))
                if last and (last - 1) % recipe.GROUP_SPAN != recipe.GROUP_SPAN - 1:
                    expected_open.add(recipe.group_of(boot, thread, last))
        assert {group.group_id for group in recovered.groups} == expected_open
    finally:
        close_env(env)


def verify_thread(store: Store, boot: int, thread: int, acked: int) -> int:
    """Check one writer thread's records; return the last index it made durable (acked or not)."""
    journal = store.journal(recipe.stream(boot, thread))
    assert journal.corrupt == ()
    seqs = [entry.seq for entry in journal]
    # Each thread commits one batch after another, so what is durable is a gap-free run from 1.
    assert seqs == list(range(1, len(seqs) + 1))
    last = len(seqs)
    assert last >= acked, f"b{boot}t{thread}: acked up to {acked}, only {last} durable"
    for entry in journal:
        assert entry.event == expected_body(boot, thread, entry.seq)
        assert store.intent(recipe.intent_tag(boot, thread, entry.seq)) == {
            "group_id": recipe.group_of(boot, thread, entry.seq),
            "index": entry.seq,
        }
    if last == 0:
        assert store.snapshot(recipe.snapshot_key(boot, thread)) is None
        return last
    # The snapshot was written in the same batch as the journal's last entry: all or nothing.
    assert store.snapshot(recipe.snapshot_key(boot, thread)) == (last, expected_body(boot, thread, last))
    assert store.snapshot(group_key(recipe.group_of(boot, thread, last))) == (last, {"last": last})
    return last


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_acknowledged_records_survive_repeated_sigkill(tmp_path: Path) -> None:
    seed = int(os.environ.get("STORAGE_CRASH_SEED", random.SystemRandom().randrange(1 << 32)))
    rng = random.Random(seed)
    path = str(tmp_path / "db")
    acks = Acks()
    kills = 0
    with open(tmp_path / "writer.log", "wb") as log:
        for cycle in range(KILLS):
            try:
                kills += run_writer_until_killed(path, rng, acks, log)
                verify(path, acks)
            except (AssertionError, TimeoutError) as failure:
                log.flush()
                tail = (tmp_path / "writer.log").read_bytes()[-2000:].decode(errors="replace")
                pytest.fail(
                    f"cycle {cycle}, seed {seed} (replay: STORAGE_CRASH_SEED={seed}): {failure!r}\n"
                    f"writer stderr tail:\n{tail}"
                )
    assert kills == KILLS
    assert acks.count > KILLS  # the kills fell among real commits, not only at start-up
