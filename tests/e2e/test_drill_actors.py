"""The actor-kill drill: 200 Poison kills in a running threaded service while groups execute.

The targets are narrowed to the kinds whose failure classes are fixed (see `CI_TARGETS`): child
orders (a restarted child declares its still-queued order LOST), group supervisors (a crashed
supervisor leaves its children running beside the escalation) and the risk actor (a restarted gate
re-runs start-up recovery over live groups) wait for theirs; `legguard drill --actor-kills N` kills
all of them.
"""

from __future__ import annotations

import pytest

from sim.drill.actor_kills import run_actor_kill_drill

KILLS = 200
SEED = 1
CI_TARGETS = ("leg", "group", "writer", "gateway", "escalation", "margin", "market", "exposure", "stops", "groups")


@pytest.mark.slow
def test_two_hundred_actor_kills_every_group_settles_with_every_invariant() -> None:
    result = run_actor_kill_drill(KILLS, SEED, targets=CI_TARGETS)
    report = "\n".join(result.violations + result.errors)
    assert result.ok, f"{result.replay_command()}:\n{report}"
    assert result.kills >= KILLS
    assert {"leg", "group", "gateway"} <= set(result.by_kind)
    assert result.groups, "groups executed while actors were killed"
