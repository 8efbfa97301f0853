"""The process drill: `legguard serve --broker kite` SIGKILLed and restarted 20 times against
`legguard sim-exchange`, then checked against the exchange's books and the service's LMDB files."""

from __future__ import annotations

import pytest

from sim.drill.process import run_process_drill

KILLS = 20
SEED = 1


@pytest.mark.slow
def test_twenty_sigkills_lose_nothing_acknowledged_and_leave_every_group_complete_or_flat() -> None:
    result = run_process_drill(KILLS, SEED)
    report = "\n".join(result.violations + result.errors)
    assert result.ok, f"{result.replay_command()} (logs kept in {result.workdir}):\n{report}"
    assert result.kills == KILLS and result.restarts == KILLS
    assert result.acknowledged, "groups were acknowledged before the kills"
    assert set(result.acknowledged.values()) <= set(result.outcomes)
