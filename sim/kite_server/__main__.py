"""`python -m sim.kite_server --port P`: the same as `legguard sim-exchange --port P`.

Prints `LEGGUARD_SIM_EXCHANGE_READY port=N` on stdout once it serves (N is the bound port, useful with
`--port 0`), then runs until SIGINT / SIGTERM.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from sim.kite_server.entry import DEFAULT_FACTORY, READY_LINE, run_sim_exchange


def _announce(port: int) -> None:
    print(READY_LINE.format(port=port), flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sim.kite_server", description=__doc__)
    parser.add_argument("--port", type=int, default=8750)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--api-key")
    parser.add_argument("--access-token")
    parser.add_argument("--config", help="TOML settings file")
    parser.add_argument("--heartbeat-s", type=float, default=1.0)
    parser.add_argument("--broker-factory", default=DEFAULT_FACTORY, help="package.module:callable")
    args = parser.parse_args(argv)

    from runtime.config import load_settings
    from runtime.logs import configure_logging

    configure_logging(json=True)
    return run_sim_exchange(
        args.port,
        host=args.host,
        seed=args.seed,
        api_key=args.api_key,
        access_token=args.access_token,
        ready=_announce,
        settings=load_settings(args.config),
        broker_factory=args.broker_factory,
        heartbeat_s=args.heartbeat_s,
    )


if __name__ == "__main__":
    sys.exit(main())
