"""The LMDB environment: one per process per directory, durable flags, stale readers cleared."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from runtime.config import StorageConfig
from storage import StorageError, StorageFull, close_env, open_env
from storage.env import TABLE_NAMES

PROBE = str(Path(__file__).with_name("storage_reader_probe.py"))
WAIT_S = 20


def test_same_directory_gives_the_same_environment(tmp_path: Path) -> None:
    env = open_env(StorageConfig(path=str(tmp_path / "db")))
    try:
        os.symlink(tmp_path / "db", tmp_path / "alias")
        assert open_env(StorageConfig(path=str(tmp_path / "db") + "/")) is env
        assert open_env(StorageConfig(path=str(tmp_path / "alias"))) is env
        assert open_env(StorageConfig(path=str(tmp_path / "other"))) is not env
    finally:
        close_env(open_env(StorageConfig(path=str(tmp_path / "other"))))
        close_env(env)


def test_reopen_after_close_is_a_new_environment(tmp_path: Path) -> None:
    config = StorageConfig(path=str(tmp_path / "db"))
    first = open_env(config)
    close_env(first)
    second = open_env(config)
    try:
        assert second is not first
    finally:
        close_env(second)


def test_environment_is_durable_with_its_tables_and_reserved_map(tmp_path: Path) -> None:
    env = open_env(StorageConfig(path=str(tmp_path / "db")))
    try:
        flags = env.lmdb.flags()
        assert flags["sync"] and flags["metasync"]
        assert env.lmdb.info()["map_size"] == StorageConfig().map_size == 1 << 32
        with env.lmdb.begin() as txn:
            assert sorted(name.decode() for name in env.lmdb.dbs(txn)) == sorted(TABLE_NAMES)
        # The map is reserved, not written: the data file stays small.
        assert os.path.getsize(tmp_path / "db" / "data.mdb") < 1 << 20
    finally:
        close_env(env)


def test_reader_slot_of_a_killed_process_is_cleared_at_open(tmp_path: Path) -> None:
    path = str(tmp_path / "db")
    # Held open here so the lock file is not reset when the killed reader's process is gone.
    env = open_env(StorageConfig(path=path, map_size=16 << 20))
    holder = subprocess.Popen(
        [sys.executable, PROBE, "hold-reader", path], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "reading"
        os.kill(holder.pid, signal.SIGKILL)
        assert holder.wait(timeout=WAIT_S) == -signal.SIGKILL
        report = subprocess.run(
            [sys.executable, PROBE, "report-cleared", path],
            capture_output=True,
            text=True,
            timeout=WAIT_S,
            check=True,
        )
        assert int(report.stdout) >= 1
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait(timeout=WAIT_S)
        if holder.stdin:
            holder.stdin.close()
        if holder.stdout:
            holder.stdout.close()
        close_env(env)


def test_a_map_too_small_for_the_tables_is_storage_full(tmp_path: Path) -> None:
    with pytest.raises(StorageFull):
        open_env(StorageConfig(path=str(tmp_path / "db"), map_size=4096))
    # The failed open left nothing registered: a proper open of the same directory works.
    close_env(open_env(StorageConfig(path=str(tmp_path / "db"), map_size=1 << 20)))


def test_an_environment_inherited_over_fork_is_refused_in_the_child(tmp_path: Path) -> None:
    config = StorageConfig(path=str(tmp_path / "db"))
    env = open_env(config)
    try:
        pid = os.fork()
        if pid == 0:  # the child: report through the exit code only, never return into pytest
            try:
                open_env(config)
            except StorageError:
                os._exit(7)
            except BaseException:
                os._exit(1)
            os._exit(0)
        exited = os.pidfd_open(pid)
        try:
            assert select.select([exited], [], [], WAIT_S)[0], "forked child did not exit"
        finally:
            os.close(exited)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 7
    finally:
        close_env(env)
