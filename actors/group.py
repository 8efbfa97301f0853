"""One actor per order group: owns the group lifecycle and runs the plan.

Protection legs first; when every one of them is filled (event-driven, with a timeout), the risk legs.
The group's state is derived from its legs' reports. On a rejection, a timeout, or a partial fill that
will not complete, it cancels what is still working and reverses the cumulative filled quantity of
every leg with protected market orders (risk legs first, wings last), keeps listening for late fills,
and ends EMERGENCY_HEDGED (flat) — or HEDGED when everything filled as intended.
"""

from __future__ import annotations

import dataclasses
from dataclasses import asdict
from typing import Any

from actors.leg import LegActor, leg_address
from actors.messages import (
    CancelLegEntries,
    EnterLeg,
    FailGroup,
    GroupChanged,
    GroupReconciled,
    GroupSettled,
    HedgeExposure,
    LegReport,
    PhaseTimeout,
    RequestProgress,
    ReverseLeg,
)
from actors.persist import commit, wait_for_writer
from domain.execution import LegProgress
from domain.lifecycle import GroupState
from domain.model import GroupSpec, LegRole, LegSpec, OrderType, Side
from domain.plan import (
    GroupRecord,
    Outcome,
    Phase,
    derive_group_state,
    failed_legs,
    naked_short,
    next_phase,
    phase_filled,
    phase_legs,
    reversal_order,
)
from storage import keys
from storage.batch import Batch
from supervision.base import SupervisedActor, handles
from supervision.messages import ChildSpec, Restart, StartChild

# Who hears of every durable group transition (those not running are skipped).
GROUP_WATCHERS = ("risk", "margin", "exposure", "stops")


def group_address(group_id: str) -> str:
    return f"group/{group_id}"


def group_supervisor_address(group_id: str) -> str:
    return f"groupsup/{group_id}"


class GroupActor(SupervisedActor):
    def __init__(
        self,
        ctx: Any,
        address: str,
        supervisor: str | None,
        spec: GroupSpec,
        *,
        recovering: bool = False,
        created_at: float = 0.0,
        **base: Any,
    ) -> None:
        super().__init__(ctx, address, supervisor, **base)
        self.spec = spec
        self.recovering = recovering
        self.record = GroupRecord(spec=spec, created_at=created_at)
        self.progress: dict[str, LegProgress] = {}
        self.unreconciled: set[str] = set()
        self.phase_generation = 0
        self.watchers: tuple[str, ...] = tuple(ctx.extras.get("group_watchers", GROUP_WATCHERS))
        self.log = self.log.bind(group_id=spec.group_id)

    @property
    def group_id(self) -> str:
        return self.spec.group_id

    # ------------------------------------------------------------------ start / rehydrate

    def started(self) -> None:
        if self.restarted or self.recovering:
            self._rehydrate()
            return
        # The gate committed this group's record (seq 1, with its margin reservation and sizing):
        # continue from it rather than from a blank one.
        accepted = self.ctx.store.snapshot(keys.group_key(self.group_id))
        if accepted is not None:
            self.record = GroupRecord.from_record(accepted[1])
        for leg in self.spec.legs:
            self._start_leg(leg.leg_id, recovering=False)
        self._begin_phase(next_phase(self.spec, None))

    def _rehydrate(self) -> None:
        wait_for_writer(self.ctx)
        stored = self.ctx.store.snapshot(keys.group_key(self.group_id))
        if stored is not None:
            self.record = GroupRecord.from_record(stored[1])
            # The stored spec may have grown since this actor's arguments were made (interim hedges).
            self.spec = self.record.spec
        if self.recovering and self.record.state is not GroupState.RECOVERING and not self.record.settled:
            self._transition(GroupState.RECOVERING)
        self.unreconciled = {leg.leg_id for leg in self.spec.legs}
        for leg in self.spec.legs:
            address = leg_address(self.group_id, leg.leg_id)
            # Alive (only this actor restarted): ask it; otherwise start it (see LegActor._rehydrate).
            if self.ctx.directory.lookup(address) is not None:
                self.tell(address, RequestProgress())
            else:
                self._start_leg(leg.leg_id, recovering=True)

    def _start_leg(self, leg_id: str, *, recovering: bool) -> None:
        spec = ChildSpec(
            leg_address(self.group_id, leg_id),
            LegActor,
            args=(self.group_id, self.spec.leg(leg_id), self.spec.product, self.actor_address),
            kwargs={"recovering": recovering},
            restart=Restart.TRANSIENT,
        )
        self.ctx.directory.reserve(spec.address)
        if self.supervisor_address is not None:
            self.tell(self.supervisor_address, StartChild(spec))

    def describe(self) -> dict[str, Any]:
        return {
            "address": self.actor_address,
            "state": self.record.state.value,
            "phase": self.record.phase.value if self.record.phase else None,
            "outcome": self.record.outcome.value,
            "legs": {k: asdict(v) for k, v in self.progress.items()},
        }

    # ------------------------------------------------------------------ events

    @handles(LegReport)
    def on_leg_report(self, message: LegReport) -> None:
        self.progress[message.progress.leg_id] = message.progress
        if self.unreconciled:
            if message.reconciled:
                self.unreconciled.discard(message.progress.leg_id)
            if not self.unreconciled:
                self._decide_after_restart()
            return
        self._evaluate()

    @handles(PhaseTimeout)
    def on_phase_timeout(self, message: PhaseTimeout) -> None:
        if message.generation != self.phase_generation or self.record.phase is not Phase(message.phase):
            return
        if phase_filled(self.spec, self.record.phase, self.progress):
            return
        self._fail(f"{message.phase} legs not filled within their timeout")

    @handles(HedgeExposure)
    def on_hedge(self, message: HedgeExposure) -> None:
        """Add an interim hedge leg (the underlying's future) and send it at once, emergency lane."""
        if self.record.settled or self.record.phase in (None, Phase.REVERSING):
            return
        hedges = [leg for leg in self.spec.legs if leg.urgent]
        leg = LegSpec(
            leg_id=f"H{len(hedges) + 1}",
            tradingsymbol=message.tradingsymbol,
            side=Side(message.side),
            quantity=message.quantity,
            role=LegRole.PROTECTION,
            order_type=OrderType.MARKET,
            market_protection=self.ctx.settings.rules.market_protection,
            urgent=True,
        )
        self.spec = dataclasses.replace(self.spec, legs=(*self.spec.legs, leg))
        self.record = self.record.with_changes(spec=self.spec)
        self.log.warning(
            "interim_hedge_leg", leg_id=leg.leg_id, side=leg.side.value, quantity=leg.quantity, reason=message.reason
        )
        self._start_leg(leg.leg_id, recovering=False)
        # The leg is part of the group from now on: durable first, then it sends.
        self.tell(
            "writer",
            commit(
                self._snapshot_batch(f"interim hedge {leg.leg_id}: {message.reason}"),
                (leg_address(self.group_id, leg.leg_id), EnterLeg()),
            ),
        )

    @handles(FailGroup)
    def on_fail(self, message: FailGroup) -> None:
        if self.record.settled and self.record.outcome is Outcome.COMPLETE:
            return
        self._fail(message.reason)

    # ------------------------------------------------------------------ the plan

    def _begin_phase(self, phase: Phase) -> None:
        if phase is Phase.DONE:
            self._complete()
            return
        if self.ctx.faults.process_crash_due(f"group.begin_phase.{phase.value}"):
            return
        now = self.ctx.clock.now()
        state = (
            GroupState.SUBMITTED
            if self.record.state in (GroupState.VALIDATED, GroupState.RECOVERING)
            else self.record.state
        )
        self.record = self.record.moved_to(state, phase=phase, phase_started_at=now)
        self.ctx.faults.hit("group.before_phase_commit")
        enter = tuple((leg_address(self.group_id, leg_id), EnterLeg()) for leg_id in phase_legs(self.spec, phase))
        # The legs are told to send only once the phase is durable.
        self.tell("writer", commit(self._snapshot_batch(f"phase {phase.value}"), *enter))
        self._publish()
        self._arm_phase_timeout(phase, self._phase_timeout(phase))

    def _phase_timeout(self, phase: Phase) -> float:
        execution = self.ctx.settings.execution
        return execution.protection_fill_timeout_s if phase is Phase.PROTECTION else execution.risk_fill_timeout_s

    def _arm_phase_timeout(self, phase: Phase, delay: float) -> None:
        self.phase_generation += 1
        self.after(max(0.0, delay), PhaseTimeout(phase.value, self.phase_generation))

    def _evaluate(self) -> None:
        if self.record.settled and self.record.outcome is Outcome.COMPLETE:
            return
        self._track_exposure()
        self._repeat_lost_commands()
        phase = self.record.phase
        if phase is Phase.REVERSING:
            self._advance_reversal()
            return
        if phase is None:
            return
        if any(p.reversing for p in self.progress.values()):
            # A leg is durably reversing but our record does not say so (our commit was lost with
            # a crash): the failure stands; follow it.
            self._fail("a leg was already reversing")
            return
        failed = failed_legs(self.spec, self.progress)
        if failed:
            self._fail(f"leg {', '.join(failed)} cannot complete")
            return
        if phase_filled(self.spec, phase, self.progress):
            self._transition(derive_group_state(self.spec, self.progress, self.ctx.universe, phase=phase, sent=True))
            upcoming = next_phase(self.spec, phase)
            if upcoming is Phase.DONE and not self._hedges_filled():
                return  # an interim hedge is still working: the group is complete when it is filled
            self._begin_phase(upcoming)
            return
        self._transition(derive_group_state(self.spec, self.progress, self.ctx.universe, phase=phase, sent=True))

    def _repeat_lost_commands(self) -> None:
        """A leg that crashed before making a command durable reports that it never got it: tell it
        again (both commands are idempotent)."""
        phase = self.record.phase
        if phase is Phase.REVERSING:
            risk, protection = reversal_order(self.spec)
            stage = risk + protection if self.record.reverse_protection else (risk or protection)
            for leg_id in stage:
                progress = self.progress.get(leg_id)
                if progress is not None and not progress.reversing:
                    self.tell(leg_address(self.group_id, leg_id), ReverseLeg(self.record.failure_reason))
        elif phase is not None and phase is not Phase.DONE:
            # The phase's legs, and every interim hedge (those are entered as soon as they exist).
            due = [*phase_legs(self.spec, phase), *(leg.leg_id for leg in self.spec.legs if leg.urgent)]
            for leg_id in dict.fromkeys(due):
                progress = self.progress.get(leg_id)
                if progress is not None and not progress.entered:
                    self.tell(leg_address(self.group_id, leg_id), EnterLeg())

    def _hedges_filled(self) -> bool:
        return all(
            (p := self.progress.get(leg.leg_id)) is not None and p.state.value == "FILLED"
            for leg in self.spec.legs
            if leg.urgent
        )

    def _complete(self) -> None:
        self._transition(GroupState.FILLED)
        self._transition(GroupState.HEDGED)
        self._settle(Outcome.COMPLETE)

    def _fail(self, reason: str) -> None:
        if self.record.phase is Phase.REVERSING:
            return
        self.log.warning("group_failed", reason=reason)
        risk, protection = reversal_order(self.spec)
        first_stage = risk or protection
        self.record = self.record.moved_to(
            GroupState.FAILED,
            phase=Phase.REVERSING,
            failure_reason=reason,
            reverse_protection=not risk,
            settled=False,
            outcome=Outcome.PENDING,
        )
        self.ctx.faults.hit("group.before_fail_commit")
        # Durable before external: the reversal orders are committed by the legs after this commit
        # was queued, and the writer commits in arrival order.
        self.tell("writer", commit(self._snapshot_batch("failed: " + reason)))
        for leg in self.spec.legs:
            self.tell(leg_address(self.group_id, leg.leg_id), CancelLegEntries(reason))
        for leg_id in first_stage:
            self.tell(leg_address(self.group_id, leg_id), ReverseLeg(reason))
        self._publish()

    def _advance_reversal(self) -> None:
        risk, protection = reversal_order(self.spec)
        if not self.record.reverse_protection and all(self._leg_flat(leg_id) for leg_id in risk):
            self.record = self.record.with_changes(reverse_protection=True)
            self.tell("writer", commit(self._snapshot_batch("reversing protection")))
            for leg_id in protection:
                self.tell(leg_address(self.group_id, leg_id), ReverseLeg(self.record.failure_reason))
        target = derive_group_state(self.spec, self.progress, self.ctx.universe, phase=Phase.REVERSING, sent=True)
        if target is GroupState.EMERGENCY_HEDGED and not self.record.reverse_protection:
            target = GroupState.FAILED
        self._transition(target)
        if target is GroupState.EMERGENCY_HEDGED:
            self._settle(Outcome.FLAT)

    def _leg_flat(self, leg_id: str) -> bool:
        progress = self.progress.get(leg_id)
        return (
            progress is not None
            and progress.net == progress.residual
            and progress.working == 0
            and progress.state.value == "FLAT"
        )

    def _track_exposure(self) -> None:
        naked = naked_short(self.spec, self.progress, self.ctx.universe)
        now = self.ctx.clock.monotonic()
        if naked and self.record.unhedged_since is None:
            self.record = self.record.with_changes(unhedged_since=now)
        elif not naked and self.record.unhedged_since is not None:
            window = now - self.record.unhedged_since
            self.record = self.record.with_changes(
                unhedged_since=None, max_unhedged_s=max(self.record.max_unhedged_s, window)
            )

    # ------------------------------------------------------------------ after a restart

    def _decide_after_restart(self) -> None:
        record = self.record
        decision = "resume"
        if record.settled:
            decision = "settled"
            self._settle(record.outcome, force=True)
        elif record.phase is Phase.REVERSING or record.state in (GroupState.FAILED, GroupState.EMERGENCY_HEDGED):
            decision = "reverse"
            self._resume_reversal()
        else:
            naked = naked_short(self.spec, self.progress, self.ctx.universe)
            if naked and self.ctx.settings.execution.recovery_policy == "reverse":
                decision = "reverse"
                self._fail(f"recovered with naked short exposure {naked}")
            elif failed_legs(self.spec, self.progress):
                decision = "reverse"
                self._fail("recovered with a leg that cannot complete")
            elif self._kill_switch_engaged():
                decision = "reverse"
                self._fail("recovered while the kill switch is engaged")
            else:
                self._resume_entry()
        if self.recovering:
            self.tell("risk", GroupReconciled(self.group_id, decision))
            self.recovering = False

    def _kill_switch_engaged(self) -> bool:
        stored = self.ctx.store.snapshot("risk/killswitch")
        return stored is not None and stored[1].get("trading_state") == "HALTED"

    def _resume_reversal(self) -> None:
        if self.record.state is GroupState.RECOVERING:
            self._transition(GroupState.FAILED)
        risk, protection = reversal_order(self.spec)
        stage = protection if self.record.reverse_protection else (risk or protection)
        for leg in self.spec.legs:
            self.tell(leg_address(self.group_id, leg.leg_id), CancelLegEntries("recovered while reversing"))
        for leg_id in stage:
            self.tell(leg_address(self.group_id, leg_id), ReverseLeg(self.record.failure_reason or "recovered"))
        self._evaluate()

    def _resume_entry(self) -> None:
        phase = self.record.phase
        if phase is None:
            self._begin_phase(next_phase(self.spec, None))
            return
        target = derive_group_state(self.spec, self.progress, self.ctx.universe, phase=phase, sent=True)
        self._transition(target)
        for leg_id in phase_legs(self.spec, phase):
            self.tell(leg_address(self.group_id, leg_id), EnterLeg())
        elapsed = self.ctx.clock.now() - self.record.phase_started_at
        self._arm_phase_timeout(phase, self._phase_timeout(phase) - elapsed)
        self._evaluate()

    # ------------------------------------------------------------------ persistence

    def _transition(self, state: GroupState) -> None:
        if state is self.record.state:
            return
        self.record = self.record.moved_to(state)
        self.tell("writer", commit(self._snapshot_batch(f"-> {state.value}")))
        self._publish()

    def _settle(self, outcome: Outcome, *, force: bool = False) -> None:
        if self.record.settled and not force:
            return
        if self.record.unhedged_since is not None:
            self._track_exposure()
        residual = {self.spec.leg(p.leg_id).tradingsymbol: p.residual for p in self.progress.values() if p.residual}
        extra = {**self.record.extra, "residual": residual} if residual else self.record.extra
        self.record = self.record.with_changes(settled=True, outcome=outcome, extra=extra)
        batch = self._snapshot_batch(f"settled {outcome.value}").mark_settled(self.group_id)
        if outcome is Outcome.COMPLETE:
            # The group holds a position now: the kill switch must find it without scanning history.
            batch = batch.put_snapshot(f"held/{self.group_id}", 1, {"group_id": self.group_id})
        self.tell(
            "writer", commit(batch, ("groups", GroupSettled(self.group_id, self.record.state.value, outcome.value)))
        )
        self._publish()

    def _snapshot_batch(self, note: str) -> Batch:
        record = self.record
        return (
            Batch()
            .put_snapshot(keys.group_key(self.group_id), record.seq, record.to_record())
            .append_journal(
                f"journal/{self.group_id}",
                record.seq,
                {
                    "state": record.state.value,
                    "phase": record.phase.value if record.phase else None,
                    "note": note,
                    "ts": self.ctx.clock.now(),
                },
            )
        )

    def _publish(self) -> None:
        record = self.record
        change = GroupChanged(
            group_id=self.group_id,
            state=record.state.value,
            seq=record.seq,
            ts=self.ctx.clock.now(),
            legs=tuple(self.progress[leg.leg_id] for leg in self.spec.legs if leg.leg_id in self.progress),
            outcome=record.outcome.value,
            reason=record.failure_reason,
        )
        for watcher in self.watchers:
            if self.ctx.directory.is_known(watcher):
                self.tell(watcher, change)
