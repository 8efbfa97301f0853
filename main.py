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
    print(
        f"  orders sent {result['orders_sent']}, duplicates {result['duplicate_orders']}, "
        f"max unhedged {result['max_unhedged_ms']} ms"
    )
    print(f"  violations: {result['violations'] or 'none'}")
    print(f"  trace hash {result['trace_hash']}")


def _settings(args: argparse.Namespace) -> object:
    from runtime.config import load_settings

    return load_settings(args.config)


def cmd_serve(args: argparse.Namespace) -> int:
    import dataclasses

    import uvicorn

    from api.app import create_app
    from api.service import Service, build_broker
    from runtime.clock import SystemClock

    settings = _settings(args)
    kite = settings.kite  # type: ignore[attr-defined]
    kite = dataclasses.replace(
        kite,
        api_root=args.api_root or kite.api_root,
        ws_root=args.ws_root or kite.ws_root,
        api_key=args.api_key if args.api_key is not None else kite.api_key,
        access_token=args.access_token if args.access_token is not None else kite.access_token,
    )
    settings = settings.replace(broker=args.broker, kite=kite)  # type: ignore[attr-defined]
    clock = SystemClock()
    choice = build_broker(settings, clock, seed=args.seed)
    service = Service(
        settings,
        broker=choice.broker,
        universe=choice.universe,
        data_dir=args.data_dir,
        clock=clock,
        on_root_gave_up=_exit_for_restart,
    )
    def shut_down() -> None:
        service.close()
        if choice.close is not None:
            choice.close()

    app = create_app(service, token=args.token, on_shutdown=shut_down)
    config = uvicorn.Config(app, host=args.host, port=args.port, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    if args.ready_file:
        _announce_when_started(server, args.ready_file)
    try:
        server.run()
    finally:
        shut_down()  # idempotent: the lifespan may already have done it
    return 0


def _exit_for_restart(reason: str) -> None:
    """The supervision tree gave up (a restart storm): exit so the platform restarts the process;
    everything durable is recovered at the next start."""
    import os

    print(f"legguard: supervision tree gave up ({reason}); exiting for a restart", file=sys.stderr, flush=True)
    os._exit(70)


def _announce_when_started(server: object, path: str) -> None:
    import threading

    def announce() -> None:
        import pathlib

        while not getattr(server, "started", False):
            if getattr(server, "should_exit", False):
                return
            threading.Event().wait(0.01)
        sockets = [s for srv in getattr(server, "servers", []) for s in srv.sockets]
        port = sockets[0].getsockname()[1] if sockets else 0
        pathlib.Path(path).write_text(str(port))

    threading.Thread(target=announce, name="ready-file", daemon=True).start()


def cmd_sim_exchange(args: argparse.Namespace) -> int:
    from sim.kite_server import READY_LINE, run_sim_exchange

    return run_sim_exchange(
        args.port,
        seed=args.seed,
        api_key=args.api_key,
        access_token=args.access_token,
        settings=_settings(args),  # type: ignore[arg-type]
        ready=lambda port: print(READY_LINE.format(port=port), flush=True),
    )


def cmd_drill(args: argparse.Namespace) -> int:
    try:
        from sim.drill.cli import run_drill
    except ImportError as exc:
        print(f"legguard drill: not available ({exc})", file=sys.stderr)
        return NOT_BUILT_EXIT
    return run_drill(args)


def cmd_bench(args: argparse.Namespace) -> int:
    try:
        from bench.cli import run_bench
    except ImportError as exc:
        print(f"legguard bench: not available ({exc})", file=sys.stderr)
        return NOT_BUILT_EXIT
    return run_bench(args)


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
    serve.add_argument("--token", default="", help="API token required from non-loopback clients")
    serve.add_argument("--api-root", help="Kite REST root (e.g. http://127.0.0.1:8750 for sim-exchange)")
    serve.add_argument("--ws-root", help="Kite WebSocket root (e.g. ws://127.0.0.1:8750/ws)")
    serve.add_argument("--api-key", default=None)
    serve.add_argument("--access-token", default=None)
    serve.add_argument("--seed", type=int, default=1, help="seed of the embedded simulated exchange")
    serve.add_argument("--ready-file", help="write the bound API port here once serving (for drills)")
    serve.set_defaults(func=cmd_serve)

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
    drill.add_argument("--first-seed", type=int, default=1)
    drill.add_argument("--process", action="store_true", help="real SIGKILL drills of the service process")
    drill.add_argument("--kills", type=int, default=20, help="SIGKILLs (with --process)")
    drill.add_argument("--actor-kills", type=int, default=0, help="actor kills in a running service")
    drill.add_argument("--json", action="store_true")
    drill.add_argument("--log-level", default="CRITICAL")
    drill.set_defaults(func=cmd_drill)

    exch = sub.add_parser("sim-exchange", help="serve the simulated exchange over the Kite protocol on loopback")
    _add_common(exch)
    exch.add_argument("--port", type=int, default=8750)
    exch.add_argument("--seed", type=int, default=1)
    exch.add_argument("--api-key")
    exch.add_argument("--access-token")
    exch.set_defaults(func=cmd_sim_exchange)

    bench = sub.add_parser("bench", help="benchmarks against the floor measured in the same run")
    _add_common(bench)
    bench.add_argument("--json", action="store_true")
    bench.add_argument("--quick", action="store_true")
    bench.add_argument("--log-level", default="CRITICAL")
    bench.set_defaults(func=cmd_bench)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from runtime.logs import configure_logging

    configure_logging(json=args.log_json, level=getattr(args, "log_level", "INFO"))
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
