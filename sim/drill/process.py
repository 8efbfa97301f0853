"""The process drill: `legguard serve --broker kite` killed with SIGKILL and restarted, K times.

    sim-exchange (its own process, never killed) ← Kite protocol → service (killed, restarted)
                                                                   ↑ HTTP: the workload, a client that
                                                                     retries unanswered requests

Kill points are chosen by a seeded random delay (that is what "a random moment" means for a real
process); every other wait is bounded and waits on an answer. After the last restart everything must
settle, and then, from the exchange's books (Kite `GET /orders`, `/_sim/ledger`) and the service's
LMDB files:

- every group acknowledged (201/200) before a kill exists, under its key (nothing acknowledged is lost);
- every group ends COMPLETE (the ledger holds what it intended) or FLAT (net zero, nothing working);
- at most one exchange order per tag, and each has a durable intent naming a known group (I3, I4, I8);
- nothing is working at the exchange, and the ledger's net position is exactly what COMPLETE groups hold;
- a bad request is denied with its code and leaves no record (I12).
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from domain.instruments import InstrumentUniverse
from runtime.clock import SystemClock
from runtime.config import Settings, StorageConfig
from runtime.rng import RandomStreams
from sim.drill.params import BAD_INPUTS, BadRequest, GroupPlan
from sim.drill.procs import ACCESS_TOKEN, API_KEY, DrillError, ExchangeProcess, ServiceProcess, http_json
from sim.drill.workload import MarketView, bad_payload, group_payload
from sim.exchange.config import MarketConfig
from storage import keys
from storage.env import close_env, open_env
from storage.store import Store

SETTLE_TIMEOUT_S = 60.0
RECOVER_TIMEOUT_S = 30.0
SUBMIT_TIMEOUT_S = 20.0
# Over HTTP a NaN is not JSON: the body itself is refused.
HTTP_CODES = {**BAD_INPUTS, "nan_price": "SCHEMA_ERROR"}


@dataclass
class ProcessDrillResult:
    seed: int
    kills_planned: int
    kills: int = 0
    restarts: int = 0
    elapsed_s: float = 0.0
    acknowledged: dict[str, str] = field(default_factory=dict)  # key -> group id
    outcomes: dict[str, str] = field(default_factory=dict)  # group id -> state/outcome
    violations: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    denials: dict[str, str] = field(default_factory=dict)  # key -> code
    orders: int = 0
    workdir: str = ""

    @property
    def ok(self) -> bool:
        return not self.violations and not self.errors

    def replay_command(self) -> str:
        return f"legguard drill --process --kills {self.kills_planned} --first-seed {self.seed}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": "process",
            "ok": self.ok,
            "seed": self.seed,
            "kills": self.kills,
            "restarts": self.restarts,
            "elapsed_s": round(self.elapsed_s, 2),
            "groups": len(self.outcomes),
            "acknowledged": len(self.acknowledged),
            "orders": self.orders,
            "outcomes": dict(sorted(self.outcomes.items())),
            "denials": self.denials,
            "violations": self.violations,
            "errors": self.errors,
            "replay": self.replay_command(),
            "logs": self.workdir,
        }


class _Client:
    """The workload's client: submits each request until it is answered, across kills."""

    def __init__(self, requests: list[tuple[str, dict[str, Any], str | None]], gaps: list[float]) -> None:
        self.requests = requests  # (key, body, expected denial code or None for a valid group)
        self.gaps = gaps
        self.url = ""
        self.url_lock = threading.Lock()
        self.stop = threading.Event()
        self.wake = threading.Event()  # never set: waits on it are bounded pauses that stop can cut short
        self.acknowledged: dict[str, str] = {}
        self.ack_conflicts: list[str] = []
        self.denied: dict[str, str] = {}
        self.unanswered: list[str] = []
        self.thread = threading.Thread(target=self._run, name="drill-client", daemon=True)

    def set_url(self, url: str) -> None:
        with self.url_lock:
            self.url = url

    def _run(self) -> None:
        for (key, body, expected), gap in zip(self.requests, self.gaps, strict=True):
            if not self._submit(key, body, expected) or self.stop.wait(gap):
                break
        answered = set(self.acknowledged) | set(self.denied)
        self.unanswered = [key for key, _, _ in self.requests if key not in answered]

    def _submit(self, key: str, body: dict[str, Any], expected: str | None) -> bool:
        while not self.stop.is_set():
            with self.url_lock:
                url = self.url
            try:
                status, answer = http_json("POST", f"{url}/v1/groups", body, timeout=SUBMIT_TIMEOUT_S)
            except OSError:
                self.stop.wait(0.05)  # the service is down: try again once it is back
                continue
            if status in (200, 201):
                group_id = answer["group_id"]
                known = self.acknowledged.setdefault(key, group_id)
                if known != group_id:
                    self.ack_conflicts.append(f"ack {key}: acknowledged as {known}, then as {group_id}")
                return True
            code = (answer or {}).get("error", {}).get("code", f"HTTP {status}")
            if code in ("RECOVERING", "THROTTLED") or status >= 500:
                self.stop.wait(0.05)
                continue
            self.denied[key] = code
            return True
        return False


def _market_view(exchange: ExchangeProcess, settings: Settings) -> tuple[MarketView, Any]:
    """The chain as the service sees it (Kite's instrument dump, settings' freeze quantities), last
    prices from the exchange over the unmodified kiteconnect client, and that client."""
    from kiteconnect import KiteConnect

    from brokers.kite.instruments import parse_instrument_rows

    client = KiteConnect(API_KEY, access_token=ACCESS_TOKEN, root=exchange.api_root, timeout=10)
    freeze = {u.name: u.freeze_quantity for u in settings.underlyings}
    universe = InstrumentUniverse(parse_instrument_rows(client.instruments("NFO"), freeze))
    spots = {name: model.spot for name, model in MarketConfig().underlyings.items()}

    def ltp(symbol: str) -> float:
        return float(client.ltp([f"NFO:{symbol}"])[f"NFO:{symbol}"]["last_price"])

    return MarketView(universe, spots.__getitem__, ltp), client


def _plans(rng: Any, count: int) -> list[GroupPlan]:
    plans = []
    for index in range(count):
        strategy = rng.choice(("iron_condor", "iron_condor", "vertical_spread", "short_straddle"))
        short = rng.randint(0, 3) if strategy != "short_straddle" else 0
        plans.append(
            GroupPlan(
                key=f"proc-{index}",
                strategy=strategy,
                underlying=rng.choice(("NIFTY", "BANKNIFTY")),
                lots=rng.randint(1, 3),
                order_type=rng.choice(("LIMIT", "LIMIT", "MARKET")),
                market_protection=rng.choice((-1, rng.randint(1, 100))),
                short_offset=short + (1 if strategy == "iron_condor" else 0),
                wing_offset=short + rng.randint(3, 6),
                kind=rng.choice(("CE", "PE")),
                slack=rng.uniform(0.05, 0.3),
                submit_at=0.0,
            )
        )
    return plans


def run_process_drill(kills: int, seed: int = 1, *, keep_logs: bool = False, log: Any = None) -> ProcessDrillResult:
    result = ProcessDrillResult(seed=seed, kills_planned=kills)
    workdir = Path(tempfile.mkdtemp(prefix="legguard-process-drill-"))
    result.workdir = str(workdir)
    data_dir = workdir / "data"
    rng = RandomStreams(seed).stream("drill.process")
    settings = Settings()
    clock = SystemClock()
    started = clock.monotonic()
    exchange: ExchangeProcess | None = None
    service: ServiceProcess | None = None
    client: _Client | None = None
    try:
        exchange = ExchangeProcess(seed, workdir)
        view, kite = _market_view(exchange, settings)
        client = _Client(*_workload(rng, view, kills))
        service = ServiceProcess(exchange, data_dir, workdir, 0)
        client.set_url(f"http://127.0.0.1:{service.wait_ready(client.wake)}")
        client.thread.start()
        for number in range(1, kills + 1):
            if rng.random() < 0.5:
                _wait_recovered(service, client.wake, RECOVER_TIMEOUT_S)
            client.wake.wait(rng.uniform(0.05, 0.8))  # the kill point: a seeded random moment
            service.kill()
            result.kills += 1
            if log is not None:
                log(f"  SIGKILL {number}/{kills} at {clock.monotonic() - started:.1f}s")
            service = ServiceProcess(exchange, data_dir, workdir, number)
            client.set_url(f"http://127.0.0.1:{service.wait_ready(client.wake)}")
            result.restarts += 1
        _finish_workload(result, service, client)
        service.terminate()
        orders = [o for o in kite.orders() if str(o.get("tag") or "").startswith("LG")]
        result.orders = len(orders)
        ledger = http_json("GET", f"{exchange.api_root}/_sim/ledger")[1]
        _check(result, data_dir, orders, ledger, client)
    except DrillError as exc:
        result.errors.append(str(exc))
    finally:
        if client is not None:
            client.stop.set()
        if service is not None:
            service.kill()
        if exchange is not None:
            exchange.stop()
        result.elapsed_s = clock.monotonic() - started
        clock.close()
        if result.ok and not keep_logs:
            shutil.rmtree(workdir, ignore_errors=True)
    return result


def _finish_workload(result: ProcessDrillResult, service: ServiceProcess, client: _Client) -> None:
    """After the last restart: every request answered, every acknowledged group settled."""
    if not _wait_recovered(service, client.wake, RECOVER_TIMEOUT_S):
        result.violations.append("I10 the service did not finish recovery after the last restart")
    client.thread.join(SETTLE_TIMEOUT_S)
    client.stop.set()
    client.thread.join(10.0)
    result.acknowledged = dict(client.acknowledged)
    result.denials = dict(client.denied)
    result.violations += client.ack_conflicts
    result.errors += [f"I10 request {key} was never answered" for key in client.unanswered]
    _wait_settled(service, list(result.acknowledged.values()), client.wake)


Request = tuple[str, dict[str, Any], "str | None"]  # (idempotency key, body, expected denial code)


def _workload(rng: Any, view: MarketView, kills: int) -> tuple[list[Request], list[float]]:
    plans = _plans(rng, max(3, kills // 2 + 2))
    requests: list[Request] = []
    for plan in plans:
        requests.append((plan.key, group_payload(view, plan), None))
        if rng.random() < 0.11:
            kind = rng.choice(sorted(HTTP_CODES))
            bad = BadRequest(f"bad-{len(requests)}", kind, HTTP_CODES[kind], 0.0)
            conflict = plans[0] if kind == "idempotency_conflict" else None
            if conflict is not None and conflict is plan:
                continue
            key = conflict.key if conflict else bad.key
            requests.append((key, bad_payload(view, bad, conflict), bad.expected_code))
    gaps = [rng.uniform(0.0, 0.3) for _ in requests]
    return requests, gaps


def _wait_recovered(service: ServiceProcess, wake: threading.Event, timeout: float) -> bool:
    clock = SystemClock()
    deadline = clock.monotonic() + timeout
    try:
        while clock.monotonic() < deadline:
            try:
                status, body = http_json("GET", f"{service.url}/v1/health", timeout=5.0)
                if status == 200 and not body.get("recovering"):
                    return True
            except OSError:
                pass
            wake.wait(0.02)
        return False
    finally:
        clock.close()


def _wait_settled(service: ServiceProcess, group_ids: list[str], wake: threading.Event) -> None:
    clock = SystemClock()
    deadline = clock.monotonic() + SETTLE_TIMEOUT_S
    pending = set(group_ids)
    try:
        while pending and clock.monotonic() < deadline:
            for group_id in sorted(pending):
                try:
                    status, view = http_json("GET", f"{service.url}/v1/groups/{group_id}", timeout=5.0)
                except OSError:
                    continue
                if status == 200 and (view.get("settled") or view.get("state") in ("ESCALATED", "CLOSED")):
                    pending.discard(group_id)
            if pending:
                wake.wait(0.1)
    finally:
        clock.close()


def _check(
    result: ProcessDrillResult,
    data_dir: Path,
    orders: list[dict[str, Any]],
    ledger: dict[str, Any],
    client: _Client,
) -> None:
    env = open_env(StorageConfig(path=str(data_dir)))
    try:
        store = Store(env)
        by_tag: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for order in orders:
            by_tag[order["tag"]].append(order)
        result.violations += _check_orders(store, by_tag)
        result.violations += _check_acknowledged(store, result.acknowledged)
        held_by_complete: dict[str, int] = defaultdict(int)
        prefix = keys.GROUP_PREFIX
        for snapshot in store.scan_snapshots(prefix):
            group_id = snapshot.key[len(prefix) :]
            if "/" not in group_id:
                result.violations += _check_group(store, group_id, by_tag, held_by_complete, result.outcomes)
        if ledger.get("working_orders"):
            result.violations.append(f"I1 orders still working at the exchange: {ledger['working_orders']}")
        ledger_net = {k: v for k, v in (ledger.get("net_positions") or {}).items() if v}
        if ledger_net != {k: v for k, v in held_by_complete.items() if v}:
            result.violations.append(
                f"I1 the exchange holds {ledger_net}; COMPLETE groups account for {dict(held_by_complete)}"
            )
        result.violations += _check_denials(store, result.denials, client)
    finally:
        close_env(env)


def _check_orders(store: Store, by_tag: dict[str, list[dict[str, Any]]]) -> list[str]:
    """I3 (one order per tag), I4 (a durable intent behind each), I8 (for a group that exists)."""
    out = []
    for tag, tagged in sorted(by_tag.items()):
        if len(tagged) > 1:
            out.append(f"I3 tag {tag}: {len(tagged)} orders at the exchange {[o['order_id'] for o in tagged]}")
        intent = store.intent(tag)
        if intent is None:
            out.append(f"I4 tag {tag}: order {tagged[0]['order_id']} without a durable intent")
        elif store.snapshot(keys.group_key(intent["group_id"])) is None:
            out.append(f"I8 tag {tag}: its intent names group {intent['group_id']}, which does not exist")
    return out


def _check_acknowledged(store: Store, acknowledged: dict[str, str]) -> list[str]:
    """Nothing acknowledged is lost: each acknowledged group is in the store, under its key."""
    out = []
    for key, group_id in sorted(acknowledged.items()):
        found = store.snapshot(keys.group_key(group_id))
        if found is None:
            out.append(f"acknowledged {key} -> {group_id} is lost: not in the store")
        elif found[1]["spec"]["idempotency_key"] != key:
            out.append(f"acknowledged {key} -> {group_id}: the store has it under another key")
    return out


def _check_group(
    store: Store,
    group_id: str,
    by_tag: dict[str, list[dict[str, Any]]],
    held_by_complete: dict[str, int],
    outcomes: dict[str, str],
) -> list[str]:
    """I1 from the exchange's orders under the group's tags (escalation's included)."""
    from domain.execution import ChildRecord
    from domain.plan import GroupRecord, Outcome

    found = store.snapshot(keys.group_key(group_id))
    assert found is not None
    record = GroupRecord.from_record(found[1])
    outcomes[group_id] = f"{record.state.value}/{record.outcome.value or '-'}"
    net: dict[str, int] = defaultdict(int)
    working = []
    for snapshot in store.scan_snapshots(keys.child_prefix(group_id)):
        for order in by_tag.get(ChildRecord.from_record(snapshot.body).tag, ()):
            sign = 1 if order["transaction_type"] == "BUY" else -1
            net[order["tradingsymbol"]] += sign * int(order["filled_quantity"])
            if order["status"] not in ("COMPLETE", "CANCELLED", "REJECTED"):
                working.append(order["order_id"])
    held = {k: v for k, v in net.items() if v}
    if not record.settled:
        return [f"I1/I10 {group_id}: not settled (state {record.state.value}), the ledger holds {held}"]
    if record.outcome is Outcome.COMPLETE:
        for symbol, quantity in held.items():
            held_by_complete[symbol] += quantity
        intended = {leg.tradingsymbol: leg.signed_quantity for leg in record.spec.legs}
        if held != {k: v for k, v in intended.items() if v}:
            return [f"I1 {group_id}: COMPLETE but the ledger holds {held}, intended {intended}"]
        return []
    if record.outcome is Outcome.FLAT:
        return [f"I1 {group_id}: FLAT but the ledger holds {held}, working {working}"] if held or working else []
    return [f"I1 {group_id}: ended {record.state.value}/{record.outcome.value}, not COMPLETE or FLAT"]


def _check_denials(store: Store, denials: dict[str, str], client: _Client) -> list[str]:
    """I12: a bad request denied with its code, and no record left behind."""
    out = []
    for key, code in sorted(denials.items()):
        expected = next((e for k, _, e in client.requests if k == key and e is not None), None)
        if expected is None:
            continue  # a valid request refused by the gate (margin): legitimate, reported in the outcomes
        if code != expected:
            out.append(f"I12 {key}: denied with {code}, expected {expected}")
        if expected != "IDEMPOTENCY_CONFLICT" and store.idempotency(key) is not None:
            out.append(f"I12 {key}: denied but an idempotency record exists")
    return out
