"""The pre-trade gate: every new group passes here, and nothing bypasses it.

Validation, trading state (kill switch, recovery), idempotency, the open-group cap and the margin
check run in order; a refused request gets a code and its field and leaves nothing behind. An accepted
group's intent is committed (seq 1, with its idempotency record) before its actor starts, and the
caller is answered only after that commit. At startup this actor also drives recovery: every group
that was not settled is restarted in recovery mode, and no new group is accepted until all of them
have reconciled with the broker.
"""

from __future__ import annotations

import contextlib
import sys
from dataclasses import dataclass
from typing import Any

from actors.escalation import owned_by_escalation
from actors.messages import (
    BrokerStateChanged,
    CloseGroup,
    Commit,
    CommitFailed,
    EscalateGroup,
    FailGroup,
    GroupAccepted,
    GroupChanged,
    GroupReconciled,
    KillSwitch,
    KillSwitchCommitted,
    PurgeEntries,
    ResumeEntries,
    StartGroup,
    SubmitGroup,
    SubmitIntent,
)
from actors.persist import commit, wait_for_writer
from domain.errors import DenialCode, Denied
from domain.gate import (
    IdempotencyRecord,
    TradingState,
    check_idempotency,
    check_open_groups,
    check_trading_state,
    payload_fingerprint,
)
from domain.model import GroupSpec, group_from_record
from domain.plan import GroupRecord
from domain.validation import ValidationContext, validate_group_request
from runtime.actors import new_future
from storage import keys
from storage.batch import Batch
from supervision.base import SupervisedActor, handles

# One snapshot per settled group that still holds its position, removed when it is closed.
HELD_PREFIX = "held/"


@dataclass(frozen=True)
class GroupCommitted:
    spec: GroupSpec
    future: Any


@dataclass(frozen=True)
class RecoveryTimeout:
    pass


class RiskActor(SupervisedActor):
    KILL_SWITCH_KEY = "risk/killswitch"

    def started(self) -> None:
        # A kill switch queued for commit by a dead predecessor must be read, not missed.
        wait_for_writer(self.ctx)
        self.trading_state = TradingState.ACTIVE
        self.kill_switch_seq = 0
        stored = self.ctx.store.snapshot(self.KILL_SWITCH_KEY)
        if stored is not None:
            self.kill_switch_seq = stored[0]
            # The kill switch survives restarts: engaged stays engaged until someone releases it.
            self.trading_state = TradingState(stored[1]["trading_state"])
        self.settled_with_position: dict[str, str] = {}
        # Closed until the gateway says the broker's push channel is up and reconciled.
        self.broker_reconciling = True
        self.open_groups: dict[str, str] = {}  # group id -> last known state
        self.pending_keys: dict[str, str] = {}  # idempotency key -> fingerprint, until committed
        self.pending_commits: dict[str, tuple[GroupSpec, Any]] = {}  # group id -> (spec, caller's future)
        self.recovering: set[str] = set()
        self.recovery_started = False
        if self.restarted:
            # The gateway only announces changes: a restarted gate asks where the broker stands.
            self.tell("gateway", BrokerStateChanged(reconciling=True))
        self._start_recovery()

    def describe(self) -> dict[str, Any]:
        return {
            "address": self.actor_address,
            "trading_state": self.trading_state.value,
            "recovering": sorted(self.recovering),
            "broker_reconciling": self.broker_reconciling,
            "open_groups": len(self.open_groups),
        }

    # ------------------------------------------------------------------ recovery

    def _start_recovery(self) -> None:
        store = self.ctx.store
        for group_id in store.open_groups():
            found = store.snapshot(keys.group_key(group_id))
            if found is None:
                self.log.error("open_group_without_snapshot", group_id=group_id)
                self.tell("escalation", EscalateGroup(group_id, "no readable snapshot at recovery"))
                continue
            record = GroupRecord.from_record(found[1])
            if owned_by_escalation(store, record):
                continue  # its own actors kept failing; the escalation actor resumes it itself
            self.open_groups[group_id] = record.state.value
            if self.ctx.directory.is_known(f"group/{group_id}"):
                # Alive: only this gate restarted, not the process. Nothing to recover.
                continue
            self.recovering.add(group_id)
            self.tell("groups", StartGroup(record.spec, recovering=True))
        self.recovery_started = True
        if self.recovering:
            self.log.info("recovery_started", groups=len(self.recovering))
            self.after(self.ctx.settings.execution.recovery_timeout_s, RecoveryTimeout())

    @handles(GroupReconciled)
    def on_reconciled(self, message: GroupReconciled) -> None:
        self.recovering.discard(message.group_id)
        if not self.recovering:
            self.log.info("recovery_done")

    @handles(RecoveryTimeout)
    def on_recovery_timeout(self, _message: RecoveryTimeout) -> None:
        for group_id in sorted(self.recovering):
            self.tell("escalation", EscalateGroup(group_id, "did not reconcile within the recovery timeout"))
        self.recovering.clear()

    @property
    def is_recovering(self) -> bool:
        return bool(self.recovering) or self.broker_reconciling or not self.recovery_started

    @handles(BrokerStateChanged)
    def on_broker_state(self, message: BrokerStateChanged) -> None:
        self.broker_reconciling = message.reconciling

    @handles(GroupChanged)
    def on_group_changed(self, message: GroupChanged) -> None:
        if message.outcome:
            self.open_groups.pop(message.group_id, None)
            if message.outcome == "COMPLETE" and message.state != "CLOSED":
                self.settled_with_position[message.group_id] = message.state
            else:
                self.settled_with_position.pop(message.group_id, None)
        else:
            self.open_groups[message.group_id] = message.state

    # ------------------------------------------------------------------ the kill switch

    @handles(KillSwitch)
    def on_kill_switch(self, message: KillSwitch) -> dict[str, Any]:
        state = TradingState.HALTED if message.engaged else TradingState.ACTIVE
        self.trading_state = state  # refuse new risk from this message on
        self.kill_switch_seq += 1
        body = {"trading_state": state.value, "reason": message.reason, "ts": self.ctx.clock.now()}
        self.log.critical("kill_switch", engaged=message.engaged, reason=message.reason)
        batch = Batch().put_snapshot(self.KILL_SWITCH_KEY, self.kill_switch_seq, body)
        # Durable before anything it causes, and before the caller hears it is engaged: this actor
        # waits for the commit (a kill switch is rare; one fsync is the price of "it survives kill -9").
        durable = new_future(self.ctx.runtime)
        self.tell("writer", Commit(batch=batch, future=durable))
        result = durable.get(timeout=self.ctx.settings.execution.writer_barrier_timeout_s)
        if not result.ok:
            raise RuntimeError(f"the kill switch could not be made durable: {result}")
        self.on_kill_switch_committed(KillSwitchCommitted(message.engaged, message.reason))
        return {
            "trading_state": state.value,
            "open_groups": len(self.open_groups),
            "held_positions": len(self.settled_with_position),
        }

    @handles(KillSwitchCommitted)
    def on_kill_switch_committed(self, message: KillSwitchCommitted) -> None:
        if not message.engaged:
            self.tell("gateway", ResumeEntries())
            return
        reason = f"kill switch: {message.reason}"
        self.tell("gateway", PurgeEntries(reason))
        for group_id in list(self.open_groups):
            self.tell(f"group/{group_id}", FailGroup(reason))
        for group_id in self._held_groups():
            self.tell("escalation", CloseGroup(group_id, reason))
        if self.ctx.directory.is_known("stops"):
            self.tell("stops", KillSwitchCommitted(message.engaged, message.reason))

    def _held_groups(self) -> list[str]:
        """Settled groups still holding their position (COMPLETE, not yet closed): the `held/` index."""
        held = set(self.settled_with_position)
        held.update(s.body["group_id"] for s in self.ctx.store.scan_snapshots(HELD_PREFIX))
        return sorted(held)

    # ------------------------------------------------------------------ the gate

    @handles(SubmitGroup)
    def on_submit(self, message: SubmitGroup) -> None:
        try:
            self._admit(message)
        except Denied as denied:
            self._answer_denied(message.future, denied)
        except Exception as exc:
            # This actor is about to fail; the caller hears now (not at its timeout) that the request
            # was not accepted and may be sent again (under its idempotency key).
            if message.future is not None:
                failure = RuntimeError(f"the gate failed while handling the request, which was not accepted: {exc!r}")
                with contextlib.suppress(Exception):  # already answered: nothing to add
                    message.future.set_exception((RuntimeError, failure, None))
            raise

    @handles(SubmitIntent)
    def on_submit_intent(self, message: SubmitIntent) -> None:
        """Strategies say direction; risk decides the quantity, then the group goes through the gate."""
        from actors.margin import CheckMargin
        from actors.sizing import confidence_of, payload_for_sets, refuse_zero, sizing_inputs
        from domain.sizing import size_sets

        try:
            confidence = confidence_of(message.payload)
            universe = self.ctx.universe

            def lot_size_of(symbol: Any) -> int | None:
                inst = universe.get(symbol) if isinstance(symbol, str) else None
                return inst.lot_size if inst is not None else None

            one_set = payload_for_sets(message.payload, 1, lot_size_of)
            spec = validate_group_request(one_set, self._validation_context("sizing"))
            existing = self._idempotency(spec.idempotency_key)
            original = check_idempotency(existing, payload_fingerprint(message.payload))
            if original is not None:
                self._answer(message.future, GroupAccepted(original, duplicate=True))
                return
            check_trading_state(self.trading_state, spec, recovering=self.is_recovering, positions=self._positions())
            ref = self.ctx.directory.lookup("margin")
            if ref is None:
                raise Denied(DenialCode.MARGIN, "legs", "no margin check available to size with")
            try:
                priced = ref.ask(
                    CheckMargin(spec, reserve=False), timeout=self.ctx.settings.execution.margin_check_timeout_s
                )
                inputs = sizing_inputs(self.ctx, spec, priced.required, priced.available, confidence)
            except Exception as exc:  # sizing needs the margin and the market: without them, no size
                raise Denied(DenialCode.MARGIN, "legs", f"could not size the intent: {exc!r}") from exc
            decision = size_sets(inputs)
            refuse_zero(decision)
            sized = payload_for_sets(message.payload, decision.sets, lot_size_of)
            self._admit(
                SubmitGroup(sized, future=message.future), fingerprint_of=message.payload, sizing=decision.as_dict()
            )
        except Denied as denied:
            self._answer_denied(message.future, denied)

    def _admit(self, message: SubmitGroup, *, fingerprint_of: Any = None, sizing: dict[str, Any] | None = None) -> None:
        group_id = self.ctx.ids.next("g")
        spec = validate_group_request(message.payload, self._validation_context(group_id))
        fingerprint = payload_fingerprint(fingerprint_of if fingerprint_of is not None else message.payload)
        existing = self._idempotency(spec.idempotency_key)
        original = check_idempotency(existing, fingerprint)
        if original is not None:
            # A retry of an accepted request gets its group back, whatever the gate says now.
            self._answer(message.future, GroupAccepted(original, duplicate=True))
            return
        check_trading_state(self.trading_state, spec, recovering=self.is_recovering, positions=self._positions())
        pending = self.pending_keys.get(spec.idempotency_key)
        if pending is not None:
            if pending != fingerprint:
                raise Denied(
                    DenialCode.IDEMPOTENCY_CONFLICT,
                    "idempotency_key",
                    "the same key is being submitted with another payload",
                )
            raise Denied(
                DenialCode.THROTTLED,
                "idempotency_key",
                "this request is already being accepted; retry for its group id",
            )
        check_open_groups(len(self.open_groups), self.ctx.settings.risk.max_open_groups)
        margin = self._check_margin(spec)
        self.pending_keys[spec.idempotency_key] = fingerprint
        self.pending_commits[group_id] = (spec, message.future)
        if sizing is not None:
            margin = {**margin, "sizing": sizing}
        self.open_groups[group_id] = "VALIDATED"
        record = GroupRecord(spec=spec, created_at=self.ctx.clock.now(), extra=margin)
        batch = (
            Batch()
            .put_snapshot(keys.group_key(group_id), record.seq, record.to_record())
            .append_journal(
                f"journal/{group_id}", record.seq, {"state": "VALIDATED", "note": "accepted", "ts": record.created_at}
            )
            .put_idempotency(
                spec.idempotency_key,
                {"fingerprint": fingerprint, "group_id": group_id, "idempotency_key": spec.idempotency_key},
            )
            .mark_open(group_id)
        )
        self.ctx.faults.hit("risk.before_accept_commit")
        # The group's actor starts, and the caller hears "accepted", only once the intent is durable.
        self.tell(
            "writer",
            commit(
                batch, ("risk", GroupCommitted(spec, message.future)), ("groups", StartGroup(spec)), reply_to="risk"
            ),
        )

    @handles(GroupCommitted)
    def on_committed(self, message: GroupCommitted) -> None:
        self.pending_keys.pop(message.spec.idempotency_key, None)
        self.pending_commits.pop(message.spec.group_id, None)
        found = self.ctx.store.snapshot(keys.group_key(message.spec.group_id))
        sizing = GroupRecord.from_record(found[1]).extra.get("sizing") if found else None
        self._answer(message.future, GroupAccepted(message.spec.group_id, spec=message.spec, sizing=sizing))

    @handles(CommitFailed)
    def on_commit_failed(self, message: CommitFailed) -> None:
        group_ids = [op.group_id for op in message.batch.ops if type(op).__name__ == "MarkOpen"]
        for group_id in group_ids:
            spec, future = self.pending_commits.pop(group_id, (None, None))
            self.open_groups.pop(group_id, None)
            if spec is not None:
                self.pending_keys.pop(spec.idempotency_key, None)
            if future is not None:
                future.set_exception((RuntimeError, RuntimeError(f"not accepted: {message.reason}"), None))

    def _positions(self) -> dict[str, int]:
        """Net positions for reduce-only checks (filled in by the kill-switch / positions wiring)."""
        return dict(self.ctx.extras.get("positions", {}))

    def _check_margin(self, spec: GroupSpec) -> dict[str, Any]:
        """The worst-case margin check over every partial-fill state (the margin actor)."""
        ref = self.ctx.directory.lookup("margin")
        if ref is None:
            return {}
        from actors.margin import CheckMargin

        try:
            decision = ref.ask(CheckMargin(spec), timeout=self.ctx.settings.execution.margin_check_timeout_s)
        except Exception as exc:  # the check could not be made: that is not a pass
            raise Denied(DenialCode.MARGIN, "legs", f"the margin check could not be made: {exc!r}") from exc
        if not decision.fits:
            raise Denied(
                DenialCode.MARGIN,
                "legs",
                f"worst-case state '{decision.state}' needs {decision.required:,.0f} after a "
                f"{self.ctx.settings.risk.shock_pct:.0%} adverse move; {decision.available:,.0f} available",
                state=decision.state,
                required=decision.required,
                available=decision.available,
                **decision.detail,
            )
        return {"margin_required": decision.required, "margin_check_ms": round(decision.elapsed_ms, 3)}

    def _validation_context(self, group_id: str) -> ValidationContext:
        import datetime as dt

        # Expiry dates are exchange (IST) dates, not UTC ones.
        ist = dt.timezone(dt.timedelta(hours=5, minutes=30))
        today = dt.datetime.fromtimestamp(self.ctx.clock.now(), tz=ist).date()
        return ValidationContext(
            group_id=group_id,
            today=today,
            universe=self.ctx.universe,
            risk=self.ctx.settings.risk,
            rules=self.ctx.settings.rules,
            quotes=self.ctx.extras.get("quotes", {}),
        )

    def _idempotency(self, key: str) -> IdempotencyRecord | None:
        found = self.ctx.store.idempotency(key)
        if found is None:
            return None
        return IdempotencyRecord(found["idempotency_key"], found["fingerprint"], found["group_id"])

    @staticmethod
    def _answer(future: Any, value: Any) -> None:
        if future is not None:
            future.set(value)

    @staticmethod
    def _answer_denied(future: Any, denied: Denied) -> None:
        if future is not None:
            try:
                raise denied
            except Denied:
                future.set_exception(sys.exc_info())


__all__ = ["GroupCommitted", "RiskActor", "group_from_record"]
