"""A helper process for the environment tests (run as a script, not collected by pytest).

hold-reader PATH      open the store, begin a read transaction, say "reading", wait on stdin
report-cleared PATH   open the store and print how many stale reader slots the open cleared
"""

from __future__ import annotations

import sys

from runtime.config import StorageConfig
from storage import open_env


def main(mode: str, path: str) -> int:
    env = open_env(StorageConfig(path=path, map_size=16 << 20))
    if mode == "hold-reader":
        txn = env.lmdb.begin()
        print("reading", flush=True)
        sys.stdin.readline()  # the parent kills us here, with the read transaction open
        txn.abort()
        return 0
    print(env.stale_readers_cleared, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
