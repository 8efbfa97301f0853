"""`legguard drill`: simulation seeds (default), `--process --kills K`, `--actor-kills N`.

    legguard drill --seeds 1000 [--first-seed S] [--json]     deterministic simulation seeds
    legguard drill --process --kills 20 [--first-seed S]       SIGKILLs of a real service process
    legguard drill --actor-kills 200 [--first-seed S]          Poison to actors of a running service

The simulation's fault mix is the full model of RELIABILITY.md unless `LEGGUARD_DRILL_MIX` names a
narrower one (`ci`, or a JSON object of `DrillMix` fields); a failing seed prints the one command that
replays it, mix included. Exit status 0 when every invariant held, 1 otherwise.
"""

from __future__ import annotations

import json
import os
import sys
from argparse import Namespace
from typing import Any, TextIO

from sim.drill.params import DrillMix, mix_from_env

MIX_ENV = "LEGGUARD_DRILL_MIX"


def run_drill(args: Namespace) -> int:
    out = sys.stdout
    if args.process:
        return _process(args, out)
    if args.actor_kills:
        return _actor_kills(args, out)
    return _simulation(args, out)


def _simulation(args: Namespace, out: TextIO) -> int:
    from sim.drill.runner import run_seeds

    try:
        mix = mix_from_env(os.environ.get(MIX_ENV, ""))
    except ValueError as exc:
        print(f"legguard drill: {MIX_ENV}: {exc}", file=sys.stderr)
        return 2
    settings = _settings(args)

    def progress(result: Any) -> None:
        if not args.json and not result.ok:
            _print_failure(result, out)

    if not args.json:
        print(f"legguard drill: {args.seeds} simulation seeds from {args.first_seed} ({mix.describe()})", file=out)
    summary = run_seeds(args.first_seed, args.seeds, mix, on_result=progress, settings=settings)
    if args.json:
        json.dump(summary.as_dict(), out, indent=1)
        out.write("\n")
    else:
        _print_summary(summary, out)
    return 0 if summary.ok else 1


def _settings(args: Namespace) -> Any:
    if not getattr(args, "config", None):
        return None
    from runtime.config import load_settings

    return load_settings(args.config)


def _print_failure(result: Any, out: TextIO) -> None:
    print(f"FAIL seed {result.seed}: {len(result.violations)} violations, {len(result.errors)} errors", file=out)
    for line in (result.violations + result.errors)[:8]:
        print(f"    {line[:400]}", file=out)
    print(f"  replay: {result.replay_command()}", file=out)


def _print_summary(summary: Any, out: TextIO) -> None:
    data = summary.as_dict()
    cov = data["coverage"]
    print(
        f"{data['seeds']} seeds in {data['elapsed_s']:.1f}s: {data['seeds_per_s']:.1f} seeds/s, "
        f"{data['virtual_s']:.0f} virtual seconds",
        file=out,
    )
    print(f"  groups {data['groups']}: " + ", ".join(f"{k} {v}" for k, v in data["outcomes"].items()), file=out)
    print(
        f"  process crashes {data['process_crashes']}, actor crashes {data['actor_crashes']}, "
        f"determinism re-runs {len(data['determinism_reruns'])}",
        file=out,
    )
    print(f"  denials: {cov['denials']}", file=out)
    gaps = cov["never_reached"]
    print("  coverage, never reached:", file=out)
    for name, missing in gaps.items():
        print(f"    {name}: {', '.join(missing) if missing else 'none'}", file=out)
    if data["failures"]:
        print(f"FAILED: {len(data['failures'])} of {data['seeds']} seeds", file=out)
        for failure in data["failures"]:
            first = (failure["violations"] + failure["errors"])[0]
            print(f"  {failure['replay']}    # {first[:160]}", file=out)
    else:
        print("OK: every invariant held on every seed", file=out)


def _process(args: Namespace, out: TextIO) -> int:
    from sim.drill.process import run_process_drill

    log = None if args.json else (lambda line: print(line, file=out, flush=True))
    if not args.json:
        print(
            f"legguard drill --process: {args.kills} SIGKILLs of `legguard serve --broker kite` "
            f"against `legguard sim-exchange` (seed {args.first_seed})",
            file=out,
            flush=True,
        )
    result = run_process_drill(args.kills, args.first_seed, log=log)
    return _finish(result, args, out)


def _actor_kills(args: Namespace, out: TextIO) -> int:
    from sim.drill.actor_kills import run_actor_kill_drill

    log = None if args.json else (lambda line: print(line, file=out, flush=True))
    if not args.json:
        print(
            f"legguard drill --actor-kills: {args.actor_kills} Poison kills in a running service "
            f"(seed {args.first_seed})",
            file=out,
            flush=True,
        )
    result = run_actor_kill_drill(args.actor_kills, args.first_seed, log=log)
    return _finish(result, args, out)


def _finish(result: Any, args: Namespace, out: TextIO) -> int:
    data = result.as_dict()
    if args.json:
        json.dump(data, out, indent=1)
        out.write("\n")
        return 0 if result.ok else 1
    print(f"  {data['elapsed_s']:.1f}s, groups {data['groups']}: {data['outcomes']}", file=out)
    for line in (data["violations"] + data["errors"])[:40]:
        print(f"    {line[:400]}", file=out)
    if result.ok:
        print("OK: every invariant held", file=out)
    else:
        print(f"FAILED: {len(data['violations'])} violations, {len(data['errors'])} errors", file=out)
        print(f"  replay: {result.replay_command()}", file=out)
    return 0 if result.ok else 1


__all__ = ["MIX_ENV", "DrillMix", "run_drill"]
