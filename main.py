"""legguard command line: the one wiring point (config → logging → storage → broker → supervisors → API).

Nothing runs at import time; each subcommand builds what it needs from a frozen Settings object.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

NOT_BUILT_EXIT = 3


def _not_built(name: str, issue: str) -> Callable[[argparse.Namespace], int]:
    def run(_args: argparse.Namespace) -> int:
        print(f"legguard {name}: not built yet ({issue}).", file=sys.stderr)
        return NOT_BUILT_EXIT

    return run


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="TOML settings file (defaults are today's NSE/Kite rules)")
    parser.add_argument("--log-json", action="store_true", default=None, help="JSON log lines on stderr")


def cmd_sim(args: argparse.Namespace) -> int:
    import json

    from sim.scenarios import SCENARIOS, run_scenario

    if args.list:
        print("\n".join(sorted(SCENARIOS)))
        return 0
    if args.scenario not in SCENARIOS:
        print(f"unknown scenario {args.scenario!r}; known: {', '.join(sorted(SCENARIOS))}", file=sys.stderr)
        return 2
    result = run_scenario(args.scenario, args.seed).as_dict()
    if args.json:
        print(json.dumps(result, sort_keys=False))
    else:
        _print_scenario(result)
    return 0 if not result["violations"] else 1


def _print_scenario(result: dict[str, object]) -> None:
    print(f"scenario {result['scenario']} seed {result['seed']}: {result['final_state']} ({result['outcome']})")
    for leg in result["legs"]:  # type: ignore[attr-defined]
        print(
            f"  {leg['side']:4} {leg['symbol']:22} {leg['role']:10} intended {leg['intended']:>6} "
            f"filled {leg['filled']:>6} reversed {leg['reversed']:>6}"
        )
    print(f"  net position (exchange ledger): {result['net_position']}")
    print(f"  orders sent {result['orders_sent']}, duplicates {result['duplicate_orders']}, "
          f"max unhedged {result['max_unhedged_ms']} ms")
    print(f"  violations: {result['violations'] or 'none'}")
    print(f"  trace hash {result['trace_hash']}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="legguard",
        description="Execute multi-leg NSE option strategies on Kite Connect without leaving a leg naked.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the service (HTTP API over the actor system)")
    _add_common(serve)
    serve.add_argument("--broker", choices=("sim", "kite"), default="sim")
    serve.add_argument("--data-dir", default="var/legguard")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8740)
    serve.set_defaults(func=_not_built("serve", "the service lands after the supervised actors, issue 4"))

    sim = sub.add_parser("sim", help="run a scenario on the deterministic runtime against the simulated exchange")
    _add_common(sim)
    sim.add_argument("--scenario", default="iron-condor")
    sim.add_argument("--seed", type=int, default=1)
    sim.add_argument("--json", action="store_true", help="print one JSON object")
    sim.add_argument("--list", action="store_true", help="list the scenarios")
    sim.add_argument("--log-level", default="WARNING")
    sim.set_defaults(func=cmd_sim)

    drill = sub.add_parser("drill", help="fault-injection drills: kill actors and processes, check invariants")
    _add_common(drill)
    drill.add_argument("--seeds", type=int, default=100)
    drill.set_defaults(func=_not_built("drill", "drills land after issue 4"))

    exch = sub.add_parser("sim-exchange", help="serve the simulated exchange over the Kite protocol on loopback")
    _add_common(exch)
    exch.add_argument("--port", type=int, default=8750)
    exch.add_argument("--seed", type=int, default=1)
    exch.add_argument("--api-key")
    exch.add_argument("--access-token")
    exch.set_defaults(func=_not_built("sim-exchange", "issue 6"))

    bench = sub.add_parser("bench", help="benchmarks against the floor measured in the same run")
    _add_common(bench)
    bench.add_argument("--json", action="store_true")
    bench.add_argument("--quick", action="store_true")
    bench.set_defaults(func=_not_built("bench", "issue 7"))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from runtime.logs import configure_logging

    configure_logging(json=args.log_json, level=getattr(args, "log_level", "INFO"))
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
