"""Memory and recovery, over one data directory holding `groups` condors in flight.

Build: condors against an exchange that holds both short legs OPEN and unfilled (scenario rule
`hold()`), so each group has its wings filled and its risk phase working. Once the system is quiet,
RSS is read (memory per in-flight group) and the service is stopped without settling anything: no
actor writes on the way down, so the directory is what a SIGKILL at that moment would leave.

While legguard is down, the held short orders are cancelled at the exchange (as a trader would from
another terminal): every group now has a risk leg that cannot complete. Recovery is a new
`api.service.Service` over the same directory and the same exchange, timed from its constructor
until every group has reconciled and the reversals of both wings of every group have been sent
(2 per group; counted where the gateway calls the broker, right after each accepted place).
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

import pykka

from bench.cpu import rss_bytes, thread_count
from bench.payloads import QTY, Condor
from bench.rig import Rig, stop_every_actor
from bench.throughput import writer_barrier
from brokers.port import OrderRequest
from domain.model import OrderType
from sim.broker import SimBroker
from sim.exchange import Exchange, OrderRule, hold, match
from storage import codec, keys
from storage.env import close_env

WAIT_S = 600.0
SETTLE_WAIT_S = 120.0
POLL_ASK_S = 1.0
ACCOUNT = "default"


class CountingBroker(SimBroker):
    """SimBroker that counts the MARKET orders it accepted (recovery sends nothing else)."""

    def __init__(self, exchange: Exchange, target: int) -> None:
        super().__init__(exchange, ACCOUNT)
        self.target = target
        self.market_orders = 0
        self.other_orders = 0
        self.reached_ns = 0
        self.reached = threading.Event()
        self._lock = threading.Lock()

    def place_order(self, request: OrderRequest) -> str:
        order_id = super().place_order(request)
        with self._lock:
            if request.order_type is OrderType.MARKET:
                self.market_orders += 1
                if self.market_orders == self.target:
                    self.reached_ns = time.perf_counter_ns()
                    self.reached.set()
            else:
                self.other_orders += 1
        return order_id


def build_in_flight(rig: Rig, condor: Condor, prices: dict[str, float], groups: int) -> dict[str, Any]:
    """Submit `groups` condors whose shorts are held, wait until the system is quiet; memory figures."""
    exchange = rig.exchange
    rules = [
        exchange.add_rule(OrderRule(match(tradingsymbol=symbol, side="SELL"), hold(), once=False))
        for symbol in (condor.short_put, condor.short_call)
    ]
    rss_before = rss_bytes()
    threads_before = thread_count()
    actors_before = len(pykka.ActorRegistry.get_all())
    futures = [rig.submit(condor.payload(f"if-{n}-{time.time_ns()}", prices)) for n in range(groups)]
    group_ids = [f.get(timeout=WAIT_S).group_id for f in futures]
    _wait_for(lambda: _held_open(exchange, condor) >= 2 * groups, "held short orders OPEN")
    _quiesce(rig)
    rss_after = rss_bytes()
    threads_after = thread_count()
    actors_after = len(pykka.ActorRegistry.get_all())
    for rule in rules:
        exchange.remove_rule(rule)
    return {
        "group_ids": group_ids,
        "rss_per_group_kb": round((rss_after - rss_before) / groups / 1024, 1),
        "rss_in_flight_mb": round((rss_after - rss_before) / 2**20, 1),
        "threads_per_group": round((threads_after - threads_before) / groups, 2),
        "actors_per_group": round((actors_after - actors_before) / groups, 2),
        "stored_kb_per_group": round(_stored_bytes(rig, group_ids[: min(50, groups)]) / 1024, 2),
    }


def _stored_bytes(rig: Rig, group_ids: list[str]) -> float:
    """Mean encoded size of a group's snapshots (group, legs, children): the state it must hold."""
    assert rig.store is not None
    total = 0
    for group_id in group_ids:
        found = rig.store.snapshot(keys.group_key(group_id))
        if found is not None:
            total += len(codec.encode({"seq": found[0], "body": found[1]}))
        # The trailing "/" keeps group g1-5 from scanning up g1-50's records.
        for snapshot in rig.store.scan_snapshots(keys.group_key(group_id) + "/"):
            total += len(codec.encode({"seq": snapshot.seq, "body": snapshot.body}))
    return total / max(1, len(group_ids))


def _held_open(exchange: Exchange, condor: Condor) -> int:
    shorts = {condor.short_put, condor.short_call}
    return sum(
        1 for o in exchange.orders(ACCOUNT)
        if o.tradingsymbol in shorts and o.transaction_type == "SELL" and o.status == "OPEN"
    )


def _quiesce(rig: Rig) -> None:
    """Until a writer barrier finds no new commit for a while: every actor has had its say."""
    assert rig.system is not None
    last = -1
    while True:
        writer_barrier(rig)
        commits = rig.system.describe("writer")["commits"]
        if commits == last:
            return
        last = commits
        time.sleep(0.3)


def _wait_for(predicate: Any, what: str, timeout: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout} s")
        time.sleep(0.05)


def cancel_held_shorts(exchange: Exchange, condor: Condor) -> int:
    """What a trader does from another terminal while legguard is down."""
    shorts = {condor.short_put, condor.short_call}
    held = [
        o.order_id for o in exchange.orders(ACCOUNT)
        if o.tradingsymbol in shorts and o.transaction_type == "SELL" and o.status == "OPEN"
    ]
    for order_id in held:
        exchange.cancel(ACCOUNT, order_id)
    _wait_for(lambda: _held_open(exchange, condor) == 0, "held shorts cancelled")
    return len(held)


def measure_recovery(
    exchange: Exchange, condor: Condor, group_ids: list[str], build_service: Any
) -> dict[str, Any]:
    """A new Service over the stopped rig's directory; seconds until all reconciled and reversed.

    Afterwards (outside the figure): every group settled, and the exchange's ledger moved by exactly
    one wing reversal per group per wing (an over-reversal would leave a naked short)."""
    groups = len(group_ids)
    broker = CountingBroker(exchange, target=2 * groups)
    before = _net(exchange)
    started = time.perf_counter_ns()
    service = build_service(broker)
    try:
        reconciled_ns = 0
        deadline = time.monotonic() + WAIT_S
        while not (reconciled_ns and broker.reached.is_set()):
            if not reconciled_ns and _reconciled(service):
                reconciled_ns = time.perf_counter_ns()
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"recovery: {broker.market_orders} of {2 * groups} reversals sent in {WAIT_S} s"
                )
            broker.reached.wait(0.02)  # the bench's own polling stays a small share of the CPU
        done_ns = max(reconciled_ns, broker.reached_ns)
        settled = _wait_settled(service, group_ids, started)
    finally:
        close_notes = _close(service)
    after = _net(exchange)
    moved = {symbol: after.get(symbol, 0) - before.get(symbol, 0) for symbol in condor.symbols}
    return {
        "recovery_1000_groups_s": round((done_ns - started) / 1e9, 3),
        "recovery_groups": groups,
        "recovery_reconciled_s": round((reconciled_ns - started) / 1e9, 3),
        "recovery_reversals_sent": broker.market_orders,
        "recovery_unexpected_orders": broker.other_orders,
        "recovery_net_units_moved": moved,
        "recovery_net_units_expected": {
            symbol: -QTY * groups if symbol in (condor.wing_put, condor.wing_call) else 0
            for symbol in condor.symbols
        },
        **settled,
        "recovery_close_notes": close_notes,
    }


def _net(exchange: Exchange) -> dict[str, int]:
    return {p.tradingsymbol: p.quantity for p in exchange.positions(ACCOUNT)}


def _reconciled(service: Any) -> bool:
    """The risk actor is up and has heard every recovering group report back (a busy risk actor
    that does not answer within the poll is "not yet")."""
    try:
        risk = service.system.describe("risk", timeout=POLL_ASK_S)
    except pykka.Timeout:
        return False
    return risk is not None and not risk["recovering"]


def _close(service: Any) -> list[str]:
    """`Service.close()`, and every actor stopped even if it gives up waiting (the next figure
    must not share the machine with a half-stopped service). Never raises: the figures are taken."""
    began = time.monotonic()
    try:
        service.close()
        notes = []
    except pykka.Timeout as exc:
        notes = [f"Service.close() raised pykka.Timeout ({exc}) after {time.monotonic() - began:.1f} s"]
        notes += stop_every_actor()
        with contextlib.suppress(Exception):
            close_env(service.env)  # what close() did not reach
    return notes


def _wait_settled(service: Any, group_ids: list[str], started_ns: int) -> dict[str, Any]:
    """After the figure: until the store shows every group settled. Seconds from the constructor
    (None if some never did within SETTLE_WAIT_S), and the stored states of those left open."""
    deadline = time.monotonic() + SETTLE_WAIT_S
    wanted = set(group_ids)
    while open_ := wanted & set(service.store.open_groups()):
        if time.monotonic() > deadline:
            states: dict[str, int] = {}
            for group_id in open_:
                found = service.store.snapshot(keys.group_key(group_id))
                state = found[1]["state"] if found else "NO SNAPSHOT"
                states[state] = states.get(state, 0) + 1
            return {"recovery_all_flat_s": None, "recovery_left_open": states}
        time.sleep(0.1)
    return {"recovery_all_flat_s": round((time.perf_counter_ns() - started_ns) / 1e9, 3)}

def recovery_floor(data_dir: str, exchange: Exchange) -> dict[str, Any]:
    """What recovery cannot avoid: reading every open group's records once, and the broker's book once."""
    from bench.rig import MAP_SIZE
    from runtime.config import StorageConfig
    from storage.env import open_env
    from storage.store import Store

    env = open_env(StorageConfig(path=data_dir, map_size=MAP_SIZE))
    try:
        started = time.perf_counter_ns()
        recovery = Store(env).load_recovery()
        exchange.orders(ACCOUNT)
        elapsed = time.perf_counter_ns() - started
    finally:
        close_env(env)
    return {"recovery_floor_s": round(elapsed / 1e9, 3), "recovery_floor_groups_read": len(recovery.groups)}
