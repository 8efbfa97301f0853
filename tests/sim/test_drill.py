"""The simulation drill (`legguard drill --seeds N`): 1,000 deterministic seeds per CI run.

The seeds run under `CI_MIX`: RELIABILITY.md's fault model minus the failure classes that are still
open (each switch in `sim.drill.params.CI_MIX` names its class). Chunks of 100 seeds, so that a
failure names its seed range; every failing seed carries the command that replays it.
"""

from __future__ import annotations

import pytest

from domain.errors import DenialCode
from sim.drill.coverage import Coverage, known_sites
from sim.drill.params import BAD_INPUTS, CI_MIX, DrillMix, draw_params, mix_from_env, mix_to_env
from sim.drill.runner import RunSummary, reruns, run_seeds
from sim.drill.seed import SeedRun

FIRST_SEED = 1
CHUNK = 100
CHUNKS = 10  # 1,000 seeds per CI run
# Seeds of `CI_MIX` that fail on failure classes still open, each with its class (the drill report
# has the analysis). Not run here; `LEGGUARD_DRILL_MIX=ci legguard drill --seeds 1 --first-seed S`
# replays one. Remove a seed once its class is fixed.
KNOWN_FAILURES: dict[int, str] = {}  # every class found so far is fixed; add "seed: reason" to park one
_summaries: dict[int, RunSummary] = {}


def _chunk(first: int) -> RunSummary:
    if first not in _summaries:
        _summaries[first] = run_seeds(first, CHUNK, CI_MIX, skip=KNOWN_FAILURES)
    return _summaries[first]


@pytest.mark.slow
@pytest.mark.parametrize("first", [FIRST_SEED + i * CHUNK for i in range(CHUNKS)], ids=lambda f: f"seeds-{f}")
def test_every_invariant_holds_on_every_seed(first: int) -> None:
    summary = _chunk(first)
    report = "\n".join(
        f"{f.replay_command()}\n    " + "\n    ".join((f.violations + f.errors)[:5]) for f in summary.failures
    )
    assert summary.failures == [], f"{len(summary.failures)} failing seeds:\n{report}"
    assert summary.reruns, "1 % of seeds are run twice for an identical trace hash"
    assert summary.process_crashes >= summary.seeds, "1-5 process crashes per seed"


def test_at_least_a_thousand_seeds_run_per_ci_run() -> None:
    run = CHUNK * CHUNKS - sum(1 for s in KNOWN_FAILURES if FIRST_SEED <= s < FIRST_SEED + CHUNK * CHUNKS)
    assert run >= 1000


@pytest.mark.slow
def test_the_run_set_reaches_every_fault_site_and_the_rare_states() -> None:
    coverage = Coverage()
    for first in [FIRST_SEED + i * CHUNK for i in range(CHUNKS)]:
        coverage.merge(_chunk(first).coverage)
    crash_sites, process_sites = known_sites()
    enabled = [s for s in crash_sites if s not in CI_MIX.quiet_sites]
    gaps = coverage.gaps(crash_sites=enabled, process_sites=process_sites)
    assert gaps["crash_sites"] == [] and gaps["process_crash_sites"] == []
    assert gaps["rare_states"] == []
    denied = {code for code in coverage.denials if code in DenialCode.__members__}
    assert denied >= set(BAD_INPUTS.values()), "every bad-input code of the workload was produced"


def test_a_seed_draws_the_same_parameters_every_time_and_other_seeds_differ() -> None:
    assert draw_params(7) == draw_params(7)
    assert draw_params(7) != draw_params(8)
    assert draw_params(7, CI_MIX).groups == draw_params(7, CI_MIX).groups


def test_the_mix_of_a_replay_round_trips_through_the_environment() -> None:
    assert mix_to_env(DrillMix()) == ""
    assert mix_from_env(mix_to_env(CI_MIX)) == CI_MIX
    odd = DrillMix(strategies=("iron_condor",), max_gap_pct=0.05)
    assert mix_from_env(mix_to_env(odd)) == odd
    with pytest.raises(ValueError):
        mix_from_env("no-such-mix")


def test_one_percent_of_seeds_are_run_twice_and_a_short_run_checks_its_first() -> None:
    assert reruns(1, 1000) == {100 * k for k in range(1, 11)}
    assert reruns(5, 3) == {5}
    assert reruns(5, 3, skip={5}) == {6}


def test_the_fault_sites_are_read_from_the_actors_source() -> None:
    crash_sites, process_sites = known_sites()
    assert "writer.after_commit" in process_sites
    assert {"group.begin_phase.protection", "group.begin_phase.risk"} <= set(process_sites)
    assert {"child.before_persist", "gateway.before_place", "risk.before_accept_commit"} <= set(crash_sites)


class _RogueOrder(SeedRun):
    """Sends an order the service never meant, straight to the exchange, before the verdict."""

    def _drive(self) -> None:
        super()._drive()
        from brokers.port import OrderRequest
        from domain.model import OrderType, Side

        symbol = next(iter(self.h.exchange.universe))
        self.h.exchange.place("default", OrderRequest(tag="LGzzzzz", tradingsymbol=symbol, side=Side.BUY,
                                                      quantity=self.h.exchange.universe[symbol].lot_size,
                                                      order_type=OrderType.MARKET, market_protection=-1))
        self.h.run_until(lambda: False, 5.0)


def test_the_checks_catch_an_order_without_a_durable_intent() -> None:
    result = _RogueOrder(draw_params(3, CI_MIX)).run()
    assert any(v.startswith("I4 ") and "LGzzzzz" in v for v in result.violations), result.violations
    assert result.replay_command() == "LEGGUARD_DRILL_MIX=ci legguard drill --seeds 1 --first-seed 3"


def test_the_command_prints_one_json_summary_and_exits_zero_when_every_invariant_held(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from main import main

    monkeypatch.setenv("LEGGUARD_DRILL_MIX", "ci")
    assert main(["drill", "--seeds", "2", "--first-seed", "1", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["seeds"], summary["ok"], summary["failures"]) == (2, True, [])
    assert summary["determinism_reruns"] == [1]
    assert "never_reached" in summary["coverage"]
