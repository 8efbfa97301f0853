"""The actor system, wired with the Kite adapter, against `legguard sim-exchange` in another process.

Everything between the two is the real thing: `KiteConnect` over HTTP, `KiteTicker` over a
WebSocket on the process's one Twisted reactor, the exchange's own status sequence and ledger. Every
claim about positions is checked against the exchange's ledger (`GET /_sim/ledger`), never against
the service's own view.
"""

from __future__ import annotations

import dataclasses
import signal
from pathlib import Path

from e2e_app import ServeProcess, StartService, describe_view, exchange_condor, http_json, settled_view
from e2e_condor import IronCondor
from e2e_sim import OrderStream, SimExchangeProcess, is_update, net_change, wait_for

from api.views import group_view
from runtime.config import ExecutionConfig

pytest_plugins = ["e2e_fixtures"]

# No timer may tell the group what the order book says: no stale-order lookups, no phase timeouts,
# no chasing, and no watchdog replacing the muted socket. After a lost update, only the reconciliation
# after the dropped socket's reconnect can move the group on.
ONLY_RECONNECT_RECONCILES = {
    "execution": ExecutionConfig(
        protection_fill_timeout_s=120.0, risk_fill_timeout_s=120.0, child_stale_s=120.0, chase_after_s=120.0
    ),
    "watchdog_s": 120.0,
}


def flat(condor: IronCondor) -> dict[str, int]:
    return dict.fromkeys(condor.symbols, 0)


def test_iron_condor_completes_then_a_group_with_a_rejected_leg_ends_flat(
    e2e_exchange: SimExchangeProcess, e2e_service: StartService
) -> None:
    kite = e2e_service()
    start = e2e_exchange.net_positions()

    condor = kite.condor(short_steps=3, wing_steps=6)
    before = e2e_exchange.net_positions()
    view = settled_view(kite.service.store, kite.submit(condor.payload("e2e-condor")))
    assert (view["state"], view["outcome"]) == ("HEDGED", "COMPLETE"), describe_view(view)
    assert [leg["filled"] for leg in view["legs"]] == [condor.quantity] * 4, describe_view(view)
    assert net_change(before, e2e_exchange.net_positions(), condor.symbols) == condor.intended

    # The second group's short put is refused by the exchange's RMS; its wings and, possibly, its
    # short call have filled by then, and must all be taken back.
    rejected = kite.condor(short_steps=4, wing_steps=8)
    assert not set(rejected.symbols) & set(condor.symbols)
    e2e_exchange.add_rule(
        tradingsymbol=rejected.shorts[0], side="SELL", action="reject", message="RMS:Margin Exceeds (e2e)"
    )
    before = e2e_exchange.net_positions()
    view = settled_view(kite.service.store, kite.submit(rejected.payload("e2e-rejected")))
    assert (view["state"], view["outcome"]) == ("EMERGENCY_HEDGED", "FLAT"), describe_view(view)
    legs = {leg["tradingsymbol"]: leg for leg in view["legs"]}
    assert legs[rejected.shorts[0]]["filled"] == 0
    assert [o["state"] for o in legs[rejected.shorts[0]]["orders"]] == ["REJECTED"]
    for symbol in rejected.wings:  # hedge first: the wings had filled before the short was sent
        assert legs[symbol]["filled"] == legs[symbol]["reversed"] == rejected.quantity, describe_view(view)
    assert net_change(before, e2e_exchange.net_positions(), rejected.symbols) == flat(rejected)
    assert e2e_exchange.working_orders() == []
    # The first group is untouched by the second.
    assert net_change(start, e2e_exchange.net_positions(), condor.symbols) == condor.intended
    # Both groups' actors ran on the service's actor pool, not a thread each.
    pool = kite.service.health()["actor_pool"]
    assert pool["workers"] == kite.service.settings.execution.actor_pool_workers
    assert 1 <= pool["peak"] <= pool["workers"] + 8


def test_fill_lost_with_a_dropped_socket_is_reconciled_from_the_order_book(
    e2e_exchange: SimExchangeProcess, e2e_service: StartService
) -> None:
    """The short put's fill is pushed to a socket that hears nothing, then the socket is dropped: the
    adapter reconnects, the gateway replays the REST order book, and the group completes."""
    kite = e2e_service(**ONLY_RECONNECT_RECONCILES)
    condor = kite.condor(short_steps=3, wing_steps=6)
    short_put = condor.shorts[0]
    e2e_exchange.add_rule(tradingsymbol=short_put, side="SELL", action="hold")  # OPEN until released
    before = e2e_exchange.net_positions()

    with OrderStream(e2e_exchange.ws_root) as exchange_says:
        group_id = kite.submit(condor.payload("e2e-drop-fill"))
        held = exchange_says.next_order(is_update(symbol=short_put, side="SELL", status="OPEN"), "short put OPEN")

    connects = kite.push.connects
    e2e_exchange.mute_websockets()  # the service's socket stays open and hears nothing from here on
    with OrderStream(e2e_exchange.ws_root) as exchange_says:
        e2e_exchange.release(held["order_id"])
        exchange_says.next_order(is_update(held["order_id"], status="COMPLETE"), "short put COMPLETE")
    assert net_change(before, e2e_exchange.net_positions(), (short_put,)) == {short_put: -condor.quantity}
    # The fill happened at the exchange and its update was lost on the way: the service cannot know.
    unsettled = group_view(kite.service.store, group_id)
    assert unsettled is not None and not unsettled["settled"], describe_view(unsettled)

    e2e_exchange.drop_websockets()
    view = settled_view(kite.service.store, group_id)
    assert (view["state"], view["outcome"]) == ("HEDGED", "COMPLETE"), describe_view(view)
    assert kite.push.connects > connects  # reconnected; the replay of the book is what told the group
    assert net_change(before, e2e_exchange.net_positions(), condor.symbols) == condor.intended
    assert e2e_exchange.working_orders() == []


def test_reversal_fill_lost_with_a_dropped_socket_still_ends_flat(
    e2e_exchange: SimExchangeProcess, e2e_service: StartService
) -> None:
    """A rejected short makes the group take its wings back; the put wing's reversal fills while the
    service hears nothing, then the socket drops: after the reconnect the group learns it is flat."""
    kite = e2e_service(**ONLY_RECONNECT_RECONCILES)
    condor = kite.condor(short_steps=3, wing_steps=6)
    wing_put, short_put = condor.wings[0], condor.shorts[0]
    e2e_exchange.add_rule(tradingsymbol=short_put, side="SELL", action="reject", message="RMS: e2e")
    e2e_exchange.add_rule(tradingsymbol=wing_put, side="SELL", action="hold")  # the wing's reversal
    before = e2e_exchange.net_positions()

    with OrderStream(e2e_exchange.ws_root) as exchange_says:
        group_id = kite.submit(condor.payload("e2e-drop-reversal"))
        held = exchange_says.next_order(is_update(symbol=wing_put, side="SELL", status="OPEN"), "wing reversal OPEN")

    connects = kite.push.connects
    e2e_exchange.mute_websockets()
    with OrderStream(e2e_exchange.ws_root) as exchange_says:
        e2e_exchange.release(held["order_id"])
        exchange_says.next_order(is_update(held["order_id"], status="COMPLETE"), "wing reversal COMPLETE")
    assert net_change(before, e2e_exchange.net_positions(), (wing_put,)) == {wing_put: 0}
    unsettled = group_view(kite.service.store, group_id)
    assert unsettled is not None and not unsettled["settled"], describe_view(unsettled)

    e2e_exchange.drop_websockets()
    view = settled_view(kite.service.store, group_id)
    assert (view["state"], view["outcome"]) == ("EMERGENCY_HEDGED", "FLAT"), describe_view(view)
    assert kite.push.connects > connects
    wing = next(leg for leg in view["legs"] if leg["tradingsymbol"] == wing_put)
    assert wing["filled"] == wing["reversed"] == condor.quantity, describe_view(view)
    assert net_change(before, e2e_exchange.net_positions(), condor.symbols) == flat(condor)
    assert e2e_exchange.working_orders() == []


def test_a_fresh_data_dir_never_takes_an_earlier_process_order_for_its_own(
    e2e_exchange: SimExchangeProcess, e2e_service: StartService
) -> None:
    """Kite's order book holds the whole day, whatever happened to the service's LMDB directory. A
    service started on a fresh directory (a new host, a wiped disk, a second instance) must not read
    an earlier process's order, found under the same tag, as the fill of its own lost order."""
    first = e2e_service()
    condor = first.condor(short_steps=3, wing_steps=6)
    view = settled_view(first.service.store, first.submit(condor.payload("e2e-first-process")))
    assert view["outcome"] == "COMPLETE", describe_view(view)
    first.close()

    second = e2e_service()  # a fresh LMDB directory: boot 1 again
    later = second.condor(short_steps=4, wing_steps=8)
    for wing in later.wings:  # both wings are lost on the way: the place call times out, no order exists
        e2e_exchange.add_rule(tradingsymbol=wing, side="BUY", action="unknown_outcome", accepted=False)
    before = e2e_exchange.net_positions()
    view = settled_view(second.service.store, second.submit(later.payload("e2e-second-process")))
    at_exchange = net_change(before, e2e_exchange.net_positions(), later.symbols)
    believed = {
        leg["tradingsymbol"]: (leg["filled"] - leg["reversed"]) * (1 if leg["side"] == "BUY" else -1)
        for leg in view["legs"]
    }
    assert believed == at_exchange, describe_view(view)
    # No wing ever reached the exchange, so no short may be sent: nothing happened, and the group says so.
    assert (view["outcome"], at_exchange) == ("FLAT", flat(later)), describe_view(view)


def test_place_timeouts_after_the_exchange_accepted_resolve_by_tag(
    e2e_exchange: SimExchangeProcess, e2e_service: StartService
) -> None:
    """Every entry order is accepted by the exchange, but its place call answers 504: the outcome is
    unknown, and each child must find its order by tag, never send it again, and the group complete.
    28 lots a leg is two children a leg (NIFTY's freeze is 1,800 units): eight unknown outcomes."""
    kite = e2e_service()
    condor = dataclasses.replace(kite.condor(short_steps=3, wing_steps=6), quantity=28 * 65)
    for wing in condor.wings:
        e2e_exchange.add_rule(tradingsymbol=wing, side="BUY", action="unknown_outcome", once=False)
    for short in condor.shorts:
        e2e_exchange.add_rule(tradingsymbol=short, side="SELL", action="unknown_outcome", once=False)
    before = e2e_exchange.net_positions()
    view = settled_view(kite.service.store, kite.submit(condor.payload("e2e-unknown")))
    assert (view["state"], view["outcome"]) == ("HEDGED", "COMPLETE"), describe_view(view)
    assert net_change(before, e2e_exchange.net_positions(), condor.symbols) == condor.intended
    tags = [order.tag for order in kite.broker.orders()]
    assert len(tags) == len(set(tags)) == 8  # one order per intent: nothing sent twice


def test_serve_broker_kite_process_runs_a_group_over_http(e2e_exchange: SimExchangeProcess, tmp_path: Path) -> None:
    """`legguard serve --broker kite` as its own process: one iron condor over the HTTP API."""
    condor = exchange_condor(e2e_exchange, short_steps=2, wing_steps=5)
    before = e2e_exchange.net_positions()
    with ServeProcess(e2e_exchange, tmp_path) as serve:
        serve.wait_trading()
        status, body = http_json(f"{serve.root}/v1/groups", condor.payload("e2e-serve"))
        assert status == 201, body
        group_url = f"{serve.root}/v1/groups/{body['group_id']}"

        def settled() -> dict[str, object] | None:
            status, view = http_json(group_url)
            assert status == 200, view
            return view if view["settled"] else None

        view = wait_for(settled, "group settled over HTTP")
        assert (view["state"], view["outcome"]) == ("HEDGED", "COMPLETE"), view
        assert net_change(before, e2e_exchange.net_positions(), condor.symbols) == condor.intended
        # uvicorn re-raises SIGTERM once it has shut down, which ends the process before `cmd_serve`'s
        # `finally: service.close()` runs (issue 6 report): either exit is accepted here.
        assert serve.stop() in (0, -signal.SIGTERM)
