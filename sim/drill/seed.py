"""One simulation seed of the drill: the workload, the faults, then faults off and everything settles.

    params = draw_params(seed)            # the seed's own "drill" stream decides everything
    boot → requests and market events on their virtual-time schedule, actor and process crashes
    fault window ends → no fault fires any more, the exchange calms down
    every group must settle (invariant 10), then the invariants are checked against the ledger

The driver behaves as a client would: a request whose answer was lost (a crash, a timeout) is sent
again under the same idempotency key, and one refused with RECOVERING or THROTTLED is retried once
recovery is over. A request that never gets an answer once faults have stopped is a liveness failure.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import pykka

from domain.errors import DenialCode, Denied
from runtime.config import Settings
from runtime.rng import RandomStreams
from sim.drill.checks import (
    Denial,
    TransitionLog,
    check_kill_switch,
    check_run,
    group_finished,
    group_record,
    stored_group_ids,
)
from sim.drill.coverage import CommitObserver, Coverage
from sim.drill.faults import DrillFaults
from sim.drill.params import BadRequest, DrillMix, GroupPlan, MarketEvent, SeedParams, draw_params, mix_to_env
from sim.drill.result import SeedResult
from sim.drill.workload import MarketView, bad_payload, group_payload
from sim.drill.world import calm_exchange, drill_universe, time_order_statuses, watch_failures
from sim.exchange import OrderRule, match, reject
from sim.exchange.config import ExchangeConfig
from sim.harness import Harness, HarnessOptions, is_exchange_timer
from sim.runtime import DeadlockError, RuntimeStepLimit, SimRuntimeError
from supervision.messages import Poison

# Virtual seconds. A circuit-breaker halt (a gap past 10 %) lasts 900 s: settling must outlast it.
SETTLE_TIMEOUT_S = 2400.0
QUIET_AFTER_SETTLE_S = 5.0
SUBMIT_TIMEOUT_S = 30.0
SUBMIT_ATTEMPTS = 12
STORM_POISONS = 8  # more than a group supervisor's restart limit (5 in 10 s)
PREDICATE_EVERY = 16  # scheduler steps between two reads of the store by a run_until predicate
# A seed that needs more scheduler steps, or sends more orders, than this is churning (a healthy one
# needs a few thousand steps and a few dozen orders): it is stopped and reported as a livelock, so
# that one cannot eat a run's time budget.
STEP_BUDGET = 150_000
ORDER_BUDGET = 400


class StepBudgetExceeded(Exception):
    pass


_RETRYABLE = (DenialCode.RECOVERING, DenialCode.THROTTLED)


def _never() -> bool:
    return False


class SeedRun:
    """Drives one seed; `run()` returns its SeedResult."""

    def __init__(self, params: SeedParams, settings: Settings | None = None) -> None:
        self.params = params
        self.seed = params.seed
        streams = RandomStreams(params.seed)
        self.rng = streams.stream("drill.run")
        self.coverage = Coverage()
        self.transitions = TransitionLog()
        self.errors: list[str] = []
        self.closing = False  # the harness's shutdown stops actors one by one: not a failure
        self.steps_used = 0
        self.engaged = False
        self._release_at: float | None = None
        self._after_release: list[GroupPlan] = []
        self.kill_switch_acks: list[tuple[float, str]] = []
        self.accepted: dict[str, str] = {}  # idempotency key -> group id
        self.denials: list[Denial] = []
        self.unanswered: list[str] = []
        self._pending_payloads: dict[str, dict[str, Any]] = {}
        options = HarnessOptions(
            settings=settings or Settings(),
            exchange=ExchangeConfig(faults=params.exchange_faults, latency=params.latency),
            universe=drill_universe(),
        )
        self.plan = DrillFaults(
            rng=streams.stream("drill.faults"),
            site_p=params.site_p,
            fire_p=params.fire_p,
            crash_process=self._crash_process,
            process_crash_at=params.process_crash_at,
            quiet_sites=params.quiet_sites,
        )
        self.h = Harness(params.seed, options=options, faults=lambda _h: self.plan)
        store = self.h.store
        self.observer = CommitObserver(
            store.commit_many, self.coverage.states, self.transitions.step, self.h.runtime.clock.monotonic
        )
        store.commit_many = self.observer  # type: ignore[method-assign]
        self.order_times = time_order_statuses(self.h.exchange, self.h.runtime.clock)
        watch_failures(self.h.runtime.trace, self.errors, self.coverage.events, lambda: self.closing)
        self.view = MarketView(self.h.exchange.universe, self.h.exchange.spot, self._ltp)

    # ------------------------------------------------------------------ observation

    def _crash_process(self) -> None:
        self.h.runtime.crash(keep_timers=is_exchange_timer)

    def _ltp(self, symbol: str) -> float:
        return self.h.exchange.ltp([symbol])[symbol]

    # ------------------------------------------------------------------ driving

    def run(self) -> SeedResult:
        h = self.h
        try:
            try:
                self._drive()
            except (DeadlockError, RuntimeStepLimit) as exc:
                self.errors.append(f"{type(exc).__name__}: {str(exc)[:2000]}")
            except StepBudgetExceeded:
                self.errors.append(
                    f"I10 livelock: over {STEP_BUDGET} scheduler steps or {ORDER_BUDGET} orders by "
                    f"t={self.h.runtime.clock.monotonic():.1f}s without settling ({self._busiest()})"
                )
            result = self._result()
        finally:
            self.closing = True
            h.close()
        return result

    def _drive(self) -> None:
        h, params = self.h, self.params
        if not self._wait_recovered():
            self.errors.append("the first boot did not finish recovery")
            return
        self.t0 = h.runtime.clock.monotonic()
        for at, action in self._timeline():
            self._release_due(at)
            self._advance_to(at)
            action()
        self._release_due(params.fault_window_s)
        self._advance_to(params.fault_window_s)
        self.plan.stop()
        calm_exchange(h.exchange)
        self._retry_unanswered()
        group_ids = stored_group_ids(h.store)
        store = h.store
        settled = self._throttled(lambda: all(group_finished(store, g) for g in group_ids))
        h.run_until(settled, SETTLE_TIMEOUT_S)  # a group still open is reported by the checks (I1/I10)
        h.run_until(self._throttled(_never), QUIET_AFTER_SETTLE_S)

    def _timeline(self) -> list[tuple[float, Callable[[], None]]]:
        params = self.params
        items: list[tuple[float, int, Callable[[], None]]] = []
        last_group = max(g.submit_at for g in params.groups)
        for n, plan in enumerate(params.groups):
            items.append((plan.submit_at, n, functools.partial(self._submit_group, plan)))
        for n, bad in enumerate(params.bad):
            # A conflicting resubmission comes after the group it conflicts with was answered.
            at = max(bad.submit_at, last_group + 0.1) if bad.kind == "idempotency_conflict" else bad.submit_at
            items.append((at, 100 + n, functools.partial(self._submit_bad, bad)))
        for n, event in enumerate(params.events):
            items.append((event.at, 200 + n, functools.partial(self._market_event, event)))
        items.sort(key=lambda item: (item[0], item[1]))
        return [(at, action) for at, _, action in items]

    def _wait_recovered(self) -> bool:
        """Harness.wait_recovered, asked again when the risk actor dies with the question in its inbox."""
        for _ in range(SUBMIT_ATTEMPTS):
            try:
                return self.h.wait_recovered()
            except pykka.ActorDeadError:
                self.coverage.events["recovered_ask_lost"] += 1
        return False

    def _release_due(self, until: float) -> None:
        """Release the kill switch when its time comes (before anything scheduled after that)."""
        if self.engaged and self._release_at is not None and self._release_at <= until:
            self._advance_to(self._release_at)
            self._kill_switch(False)
            self._release_at = None
            waiting, self._after_release = self._after_release, []
            for plan in waiting:
                self._submit_group(plan)

    def _advance_to(self, at: float) -> None:
        remaining = self.t0 + at - self.h.runtime.clock.monotonic()
        if remaining > 0:
            self.h.run_until(self._throttled(_never), remaining)

    def _throttled(self, predicate: Callable[[], bool]) -> Callable[[], bool]:
        """`predicate` read every PREDICATE_EVERY steps; every step counts against the seed's budget."""
        calls = [0]

        def check() -> bool:
            calls[0] += 1
            self.steps_used += 1
            if self.steps_used > STEP_BUDGET:
                raise StepBudgetExceeded
            if calls[0] % PREDICATE_EVERY:
                return False
            if self.h.exchange.log.counts.get("place", 0) > ORDER_BUDGET:
                raise StepBudgetExceeded
            return predicate()

        return check

    def _busiest(self) -> str:
        """Which group churned: the one with the most child orders."""
        counts = {g: sum(1 for _ in self.h.store.scan_snapshots(f"g/{g}/c/")) for g in stored_group_ids(self.h.store)}
        return ", ".join(f"{g}: {n} child orders" for g, n in sorted(counts.items(), key=lambda kv: -kv[1])[:2])

    # ------------------------------------------------------------------ requests

    def _submit(self, payload: dict[str, Any]) -> Any:
        """The answer (GroupAccepted) or the final Denied; None if no answer ever came."""
        h = self.h
        for _ in range(SUBMIT_ATTEMPTS):
            try:
                return h.submit(payload, timeout=SUBMIT_TIMEOUT_S)
            except Denied as denied:
                if denied.code not in _RETRYABLE:
                    return denied
                self.coverage.denials[f"retried:{denied.code.value}"] += 1
                self._wait_recovered()
                h.run_until(self._throttled(_never), 0.5)
            except pykka.Timeout:
                self.coverage.events["submit_timeout"] += 1
            except DeadlockError:
                self.coverage.events["submit_deadlock"] += 1
                h.run_until(self._throttled(_never), 1.0)
            except SimRuntimeError:
                raise
            except (RuntimeError, LookupError, pykka.ActorDeadError) as exc:  # the gate is down: a 503 over HTTP
                self.coverage.events[f"submit_error:{exc}"[:60]] += 1
                h.run_until(self._throttled(_never), 1.0)
        return None

    def _submit_group(self, plan: GroupPlan) -> None:
        payload = group_payload(self.view, plan)
        answer = self._submit(payload)
        if answer is None:
            self.unanswered.append(plan.key)
            self._pending_payloads[plan.key] = payload
            return
        if isinstance(answer, Denied):
            self.coverage.denials[f"valid:{answer.code.value}"] += 1
            if answer.code is DenialCode.KILL_SWITCH_ACTIVE and self.engaged:
                self._after_release.append(plan)  # the gate doing its job; the client comes back later
                return
            if answer.code in (DenialCode.MARGIN, DenialCode.EXPOSURE_LIMIT, DenialCode.POSITION_LIMIT):
                return  # the account cannot carry it now: a gate decision, not a failure
            if answer.code is DenialCode.KILL_SWITCH_ACTIVE:
                self.errors.append(
                    f"I9 request {plan.key} refused with KILL_SWITCH_ACTIVE after the kill switch "
                    "was released (acknowledged): the release did not hold"
                )
                return
            self.errors.append(f"valid request {plan.key} ({plan.strategy}) denied: {answer}")
            return
        self.accepted[plan.key] = answer.group_id
        self._aim_reversal_rejects(payload)

    def _retry_unanswered(self) -> None:
        """Once faults stop, a request that was never answered must be answered now (liveness)."""
        for key in list(self.unanswered):
            answer = self._submit(self._pending_payloads[key])
            if answer is None:
                self.errors.append(f"I10 request {key} was never answered, even after faults stopped")
            elif isinstance(answer, Denied):
                self.errors.append(f"valid request {key} denied after faults stopped: {answer}")
            else:
                self.accepted[key] = answer.group_id
                self.unanswered.remove(key)

    def _submit_bad(self, bad: BadRequest) -> None:
        conflict = None
        if bad.kind == "idempotency_conflict":
            # It must conflict with a group the gate accepted (a denied one left no key to conflict with).
            conflict = next((g for g in self.params.groups if g.key in self.accepted), None)
            if conflict is None:
                self.coverage.events["idempotency_conflict_skipped"] += 1
                return
        payload = bad_payload(self.view, bad, conflict)
        answer = self._submit(payload)
        code: str | None
        if answer is None:
            self.errors.append(f"bad request {bad.key} ({bad.kind}) was never answered")
            return
        code = answer.code.value if isinstance(answer, Denied) else None
        self.coverage.denials[code or "ACCEPTED"] += 1
        self.denials.append(Denial(bad.key, bad.kind, bad.expected_code, code, conflict.key if conflict else None))

    def _aim_reversal_rejects(self, payload: dict[str, Any]) -> None:
        """Rejects aimed at reversal orders alone: the first order on the opposite side of a leg."""
        wanted = self.params.reversal_rejects
        legs = payload["legs"]
        for leg in self.rng.sample(legs, min(wanted, len(legs))):
            opposite = "BUY" if leg["side"] == "SELL" else "SELL"
            self.h.exchange.add_rule(
                OrderRule(
                    match(tradingsymbol=leg["tradingsymbol"], side=opposite), reject("RMS: reversal rejected (drill)")
                )
            )
            self.coverage.events["reversal_reject_rule"] += 1

    # ------------------------------------------------------------------ the market and the process

    def _market_event(self, event: MarketEvent) -> None:
        h = self.h
        self.coverage.events[f"market.{event.kind}"] += 1
        if event.kind == "gap":
            h.exchange.gap(event.underlying, pct=event.value)
        elif event.kind == "halt":
            h.exchange.halt(event.underlying, event.value)
        elif event.kind == "disconnect":
            assert h.broker is not None
            h.exchange.disconnect(h.broker.account, event.value)
        elif event.kind == "clock_jump":
            h.runtime.clock.jump_wall_clock(event.value)
        elif event.kind == "storm":
            self._restart_storm(int(event.value))
        elif event.kind == "kill_switch":
            self._kill_switch(True)
            self._release_at = event.at + event.value

    def _kill_switch(self, engaged: bool) -> None:
        """Press (or release) it as an operator would: again until the risk actor answers."""
        from actors.messages import KillSwitch

        for _ in range(SUBMIT_ATTEMPTS):
            try:
                self.h.ask("risk", KillSwitch(engaged, "drill"))
                self.engaged = engaged
                # I9 is judged from when the operator was told: an acknowledged change must hold.
                self.kill_switch_acks.append((self.h.runtime.clock.monotonic(), "HALTED" if engaged else "ACTIVE"))
                return
            except (pykka.Timeout, pykka.ActorDeadError, LookupError):  # the risk actor is restarting
                self.h.run_until(self._throttled(_never), 1.0)
        self.errors.append(f"the kill switch could not be {'engaged' if engaged else 'released'}: risk never answered")

    def _restart_storm(self, index: int) -> None:
        """More crashes of one group's actor than its supervisor's limit allows: it must escalate."""
        plan = self.params.groups[index]
        group_id = self.accepted.get(plan.key)
        if group_id is None:
            return
        record = group_record(self.h.store, group_id)
        if record is None or record.settled:
            return
        assert self.h.ctx is not None
        for n in range(STORM_POISONS):
            self.h.ctx.directory.tell(f"group/{group_id}", Poison(f"restart storm {n}"))
        self.coverage.events["restart_storm"] += 1

    # ------------------------------------------------------------------ the verdict

    def _result(self) -> SeedResult:
        h, params = self.h, self.params
        violations = list(h.violations)
        violations += self.transitions.illegal
        violations += check_kill_switch(
            h.store, h.exchange, self.kill_switch_acks, self.order_times, self.observer.accepted_at
        )
        presses = sum(1 for _, state in self.observer.kill_switch if state == "HALTED")
        self.coverage.events["kill_switch_presses"] += presses
        violations += check_run(
            h.store,
            h.exchange,
            unhedged_bound_s=h.options.settings.execution.unhedged_bound_s,
            accepted=self.accepted,
            denials=self.denials,
        )
        if h.runtime.timer_errors:
            self.errors.append(f"{h.runtime.timer_errors} timer callbacks raised")
        groups = {}
        for group_id in stored_group_ids(h.store):
            record = group_record(h.store, group_id)
            assert record is not None
            groups[group_id] = f"{record.state.value}/{record.outcome.value or '-'}"
            for entry in h.store.journal(f"journal/{group_id}"):
                self.coverage.states[f"group:{entry.event['state']}"] += 1
            if record.state.value == "ESCALATED":
                self.coverage.states["group:ESCALATED"] += 1
            if record.outcome.value:
                self.coverage.states[f"outcome:{record.outcome.value}"] += 1
        cov = self.coverage
        cov.sites.update(self.plan.crashes)
        cov.process_sites.update(self.plan.process_crashes)
        cov.visits.update(self.plan.visits)
        for kind, count in h.exchange.log.counts.items():
            cov.events[f"exchange.{kind}"] += count
        cov.events["seeds"] += 1
        return SeedResult(
            seed=self.seed,
            violations=violations,
            errors=list(self.errors),
            trace_hash=h.runtime.trace.hexdigest(),
            exchange_digest=h.exchange.digest(),
            groups=groups,
            process_crashes=h.process_crashes,
            actor_crashes=sum(self.plan.crashes.values()),
            virtual_s=h.runtime.clock.monotonic(),
            steps=h.runtime.steps,
            coverage=cov,
            mix_env=mix_to_env(params.mix),
        )


def run_seed(seed: int, mix: DrillMix | None = None, settings: Settings | None = None) -> SeedResult:
    return SeedRun(draw_params(seed, mix), settings).run()


__all__ = ["SeedResult", "SeedRun", "run_seed"]
