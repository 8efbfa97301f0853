"""The gateway: the only caller of the broker.

It throttles to the account's order budget with a lane reserved for emergency orders, counts
modifications per order (Kite allows 25), classifies what the broker says (final, retryable, unknown
outcome) and routes order updates to the child-order actor that owns them, by tag and order id.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from typing import Any

from actors.messages import (
    BrokerConnection,
    BrokerOrderUpdate,
    BrokerRead,
    BrokerStateChanged,
    BrokerTick,
    CancelOrder,
    CancelRefused,
    ChildUpdate,
    DrainQueue,
    FetchBook,
    LookupOrder,
    LookupTag,
    ModifyOrder,
    OrderSent,
    PlaceOrder,
    PurgeEntries,
    ResumeEntries,
    Route,
    SendRejected,
    SendUnknown,
    SubscribeTicks,
    TagLookedUp,
)
from brokers.port import Broker, BrokerError, BrokerRejected, BrokerRetryable, BrokerUnknownOutcome
from domain.messages import OrderUpdate, Tick
from domain.model import OrderType
from domain.throttle import OrderBudget
from supervision.base import SupervisedActor, handles


class _Listener:
    """Receives the broker's pushes on the broker's own thread and hands them to the gateway.

    Through the directory, not a ref: pushes that arrive while the gateway restarts are held for
    its successor instead of being lost with the dead instance.
    """

    def __init__(self, directory: Any, address: str) -> None:
        self._directory = directory
        self._address = address

    def on_order_update(self, update: OrderUpdate) -> None:
        self._directory.tell(self._address, BrokerOrderUpdate(update))

    def on_tick(self, tick: Tick) -> None:
        self._directory.tell(self._address, BrokerTick(tick))

    def on_connection(self, connected: bool) -> None:
        self._directory.tell(self._address, BrokerConnection(connected))


class GatewayActor(SupervisedActor):
    # Broker calls block on the network: a thread of its own, never a pool worker (runtime.pool).
    dedicated_thread = True
    UNROUTED_KEEP = 2048
    BOOK_REUSE_S = 0.25  # a lookup may answer from a book fetched this recently
    READS = frozenset({"margins", "basket_margins", "ltp", "positions", "orders", "trades", "order_history"})

    def started(self) -> None:
        self.broker: Broker = self.ctx.extras["broker"]
        rules = self.ctx.settings.rules
        self.budget = OrderBudget(
            per_second=rules.orders_per_second,
            per_minute=rules.orders_per_minute,
            per_day=rules.orders_per_day,
            emergency_reserve=self.ctx.settings.execution.emergency_lane_per_second,
        )
        self.normal: deque[PlaceOrder] = deque()
        self.emergency: deque[PlaceOrder] = deque()
        self.drain_armed = False
        self.routes: dict[str, str] = {}  # tag -> child address
        self.order_tags: dict[str, str] = {}  # order id -> tag
        self.modifications: dict[str, int] = {}
        # Updates that carry one of our tags but arrived before its route (recovery, reordering).
        self.unrouted: OrderedDict[str, OrderUpdate] = OrderedDict()
        self.sent = 0
        self.probe = self.ctx.extras.get("probe")
        self._book_index: dict[str, OrderUpdate] | None = None
        self._book_at = 0.0
        # Entries never leave while the kill switch is engaged, even ones queued (or held for this
        # instance while it restarted) before the purge arrives: the switch is durable before it acts.
        stored = self.ctx.store.snapshot("risk/killswitch")
        self.halted = stored is not None and stored[1].get("trading_state") == "HALTED"
        self._rebuild_routes()
        self.broker.subscribe(_Listener(self.ctx.directory, self.actor_address))
        self.connected = self._push_connected()
        # The gate stays closed to new risk until the push channel is up (and reconciled).
        self.tell("risk", BrokerStateChanged(reconciling=not self.connected))
        if self.restarted:
            # Updates in the dead instance's inbox are gone: replay the book to their owners.
            self.tell_self(BrokerConnection(True))

    def _push_connected(self) -> bool:
        """Whether the broker's push channel is up now (in-process brokers have no channel to lose)."""
        push = getattr(self.broker, "push", None)
        return bool(getattr(push, "connected", True)) if push is not None else True

    @handles(BrokerStateChanged)
    def on_state_asked(self, _message: BrokerStateChanged) -> None:
        self.tell("risk", BrokerStateChanged(reconciling=not self.connected))

    def _rebuild_routes(self) -> None:
        """Routes of every intent of a group that is not settled, from the store (after a restart
        the in-memory table is gone, and updates must still reach their owners)."""
        recovery = self.ctx.store.load_recovery()
        for group in recovery.groups:
            for intent in group.intents:
                child_id = intent.body.get("child_id")
                if intent.body.get("leg_id") == "ESC":
                    self.routes[intent.tag] = "escalation"
                elif child_id:
                    self.routes[intent.tag] = f"child/{group.group_id}/{child_id}"

    def describe(self) -> dict[str, Any]:
        return {
            "address": self.actor_address,
            "queued_normal": len(self.normal),
            "queued_emergency": len(self.emergency),
            "routes": len(self.routes),
            "sent": self.sent,
        }

    # ------------------------------------------------------------------ sending

    @handles(PlaceOrder)
    def on_place(self, message: PlaceOrder) -> None:
        self.routes[message.request.tag] = message.child_address
        if self.halted and not message.emergency:
            self.tell(
                message.child_address, SendRejected(message.request.tag, "not sent: kill switch engaged", "LOCAL")
            )
            return
        (self.emergency if message.emergency else self.normal).append(message)
        self._drain()

    @handles(SubscribeTicks)
    def on_subscribe_ticks(self, message: SubscribeTicks) -> None:
        try:
            self.broker.subscribe_ticks(list(message.tokens))
        except (BrokerError, RuntimeError) as exc:
            self.log.warning("tick_subscription_failed", reason=str(exc))

    @handles(ResumeEntries)
    def on_resume(self, _message: ResumeEntries) -> None:
        self.halted = False

    @handles(PurgeEntries)
    def on_purge(self, message: PurgeEntries) -> int:
        if message.group_id is None:
            self.halted = True
        purged = [m for m in self.normal if message.group_id in (None, m.correlation_id)]
        self.normal = deque(m for m in self.normal if m not in purged)
        for queued in purged:
            self.tell(queued.child_address, SendRejected(queued.request.tag, f"not sent: {message.reason}", "LOCAL"))
        if purged:
            self.log.warning("entries_purged", count=len(purged), reason=message.reason)
        return len(purged)

    @handles(DrainQueue)
    def on_drain(self, _message: DrainQueue) -> None:
        self.drain_armed = False
        self._drain()

    def _drain(self) -> None:
        now = self.ctx.clock.monotonic()
        for lane, emergency in ((self.emergency, True), (self.normal, False)):
            while lane:
                if not self.budget.can_send(now, emergency=emergency):
                    self._arm_drain(self.budget.next_slot(now, emergency=emergency))
                    break
                message = lane.popleft()
                self.budget.record(now)
                if not self._send(message):
                    lane.appendleft(message)
                    break

    def _arm_drain(self, delay: float | None) -> None:
        if delay is None:
            self.log.error("daily_order_cap_reached")
            delay = 60.0
        if not self.drain_armed:
            self.drain_armed = True
            self.after(delay, DrainQueue())

    def _send(self, message: PlaceOrder) -> bool:
        """False when the broker asked us to retry later (the message goes back to its lane)."""
        request = message.request
        self.ctx.faults.hit("gateway.before_place")
        try:
            order_id = self.broker.place_order(request)
        except BrokerRejected as exc:
            self.tell(message.child_address, SendRejected(request.tag, exc.message, exc.kind))
            return True
        except BrokerRetryable as exc:
            self.log.warning("place_retry", tag=request.tag, reason=exc.message)
            self._arm_drain(exc.retry_after_s)
            return False
        except BrokerUnknownOutcome as exc:
            self.tell(message.child_address, SendUnknown(request.tag, exc.message))
            return True
        self.sent += 1
        self._book_index = None  # the book has a new order: a cached one would not show it
        if self.probe is not None:
            self.probe.order_left(request.tag, self.ctx.clock.monotonic())
        self.order_tags[order_id] = request.tag
        self.tell(message.child_address, OrderSent(request.tag, order_id))
        return True

    @handles(CancelOrder)
    def on_cancel(self, message: CancelOrder) -> None:
        try:
            self.broker.cancel_order(message.order_id, variety=message.variety)
        except BrokerError as exc:
            # A cancel that fails is reported; the order's own updates say what really happened.
            self.tell(message.child_address, CancelRefused(message.order_id, exc.message))

    @handles(ModifyOrder)
    def on_modify(self, message: ModifyOrder) -> None:
        count = self.modifications.get(message.order_id, 0)
        if count >= self.ctx.settings.rules.max_modifications:
            self.tell(message.child_address, CancelRefused(message.order_id, "modification cap reached"))
            return
        self.modifications[message.order_id] = count + 1
        try:
            self.broker.modify_order(
                message.order_id,
                quantity=message.quantity,
                price=message.price,
                trigger_price=message.trigger_price,
                order_type=OrderType(message.order_type) if message.order_type else None,
            )
        except BrokerError as exc:
            self.tell(message.child_address, CancelRefused(message.order_id, exc.message))

    # ------------------------------------------------------------------ lookups

    @handles(LookupTag)
    def on_lookup_tag(self, message: LookupTag) -> None:
        self.routes[message.tag] = message.child_address
        if any(m.request.tag == message.tag for lane in (self.emergency, self.normal) for m in lane):
            # Still waiting for its turn in the order budget: not lost, not sent.
            self.tell(message.child_address, TagLookedUp(message.tag, None, queued=True))
            return
        found = self._book_by_tag(message.tag)
        if found is not None:
            self.order_tags[found.order_id] = message.tag
        self.tell(message.child_address, TagLookedUp(message.tag, found))

    @handles(LookupOrder)
    def on_lookup_order(self, message: LookupOrder) -> None:
        try:
            history = self.broker.order_history(message.order_id)
        except BrokerError as exc:
            self.log.warning("lookup_failed", order_id=message.order_id, reason=exc.message)
            return
        if history:
            self.tell(message.child_address, ChildUpdate(history[-1]))

    @handles(BrokerRead)
    def on_read(self, message: BrokerRead) -> None:
        if message.method not in self.READS:
            message.future.set_exception((ValueError, ValueError(f"not a read: {message.method}"), None))
            return
        try:
            message.future.set(getattr(self.broker, message.method)(*message.args, **message.kwargs))
        except BrokerError as exc:
            message.future.set_exception((type(exc), exc, exc.__traceback__))

    @handles(FetchBook)
    def on_fetch_book(self, message: FetchBook) -> None:
        try:
            message.future.set(self.broker.orders())
        except BrokerError as exc:
            message.future.set_exception((type(exc), exc, exc.__traceback__))

    def _book_by_tag(self, tag: str) -> OrderUpdate | None:
        """The broker's order for a tag, from one book fetch shared by the lookups that come in a
        burst (after a restart every child looks itself up: one REST call, not one per child)."""
        now = self.ctx.clock.monotonic()
        if self._book_index is None or now - self._book_at > self.BOOK_REUSE_S:
            try:
                book = self.broker.orders()
            except BrokerError as exc:
                self.log.warning("book_fetch_failed", reason=exc.message)
                return None
            index: dict[str, OrderUpdate] = {}
            for order in book:
                if order.tag:
                    index[order.tag] = order  # the book is in time order: the last one wins
            self._book_index, self._book_at = index, now
        return self._book_index.get(tag)

    # ------------------------------------------------------------------ pushes

    @handles(Route)
    def on_route(self, message: Route) -> None:
        self.routes[message.tag] = message.address
        stashed = self.unrouted.pop(message.tag, None)
        if stashed is not None:
            self.tell(message.address, ChildUpdate(stashed))

    @handles(BrokerOrderUpdate)
    def on_order_update(self, message: BrokerOrderUpdate) -> None:
        update = message.update
        if self.probe is not None:
            self.probe.update_arrived(update, self.ctx.clock.monotonic())
        tag = update.tag or self.order_tags.get(update.order_id)
        address = self.routes.get(tag) if tag else None
        if address is None:
            if tag:
                self.unrouted[tag] = update
                while len(self.unrouted) > self.UNROUTED_KEEP:
                    self.unrouted.popitem(last=False)
            return
        self.order_tags.setdefault(update.order_id, tag)  # type: ignore[arg-type]
        self.tell(address, ChildUpdate(update))

    @handles(BrokerTick)
    def on_tick(self, message: BrokerTick) -> None:
        if self.ctx.directory.is_known("market"):
            self.tell("market", message)

    @handles(BrokerConnection)
    def on_connection(self, message: BrokerConnection) -> None:
        self.connected = message.connected
        if not message.connected:
            self.log.warning("broker_disconnected")
            self.tell("risk", BrokerStateChanged(reconciling=True))
            return
        # Updates sent while we were disconnected are lost: replay the book to every owner.
        try:
            book = self.broker.orders()
        except BrokerError as exc:
            self.log.error("reconcile_after_reconnect_failed", reason=exc.message)
            self.after(1.0, message)
            return
        for update in book:
            tag = update.tag or self.order_tags.get(update.order_id)
            address = self.routes.get(tag) if tag else None
            if address is not None:
                self.tell(address, ChildUpdate(update))
        self.log.info("reconciled_after_reconnect", orders=len(book))
        self.tell("risk", BrokerStateChanged(reconciling=False))
