"""The simulated exchange: one object that the test, the scenario, SimBroker and the Kite-protocol
server all talk to.

Requests (`place`, `modify`, `cancel`) answer at once, like Kite's REST API: an order id means
"accepted for processing". What happens next arrives as order updates, hop by hop on the clock.
One re-entrant lock guards all state: requests come from the gateway's thread, timers fire on the
clock's thread; listeners are only ever called from timers, never inside a request.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterable

from brokers.port import BrokerListener, OrderRequest
from domain.instruments import InstrumentUniverse, round_to_tick
from domain.model import OrderType
from runtime.actors import Trace
from runtime.clock import Clock, Timer
from runtime.rng import RandomStreams
from sim.exchange.accounts import Accounts
from sim.exchange.books import Books
from sim.exchange.config import ExchangeConfig
from sim.exchange.delivery import Delivery
from sim.exchange.depth import DepthBook
from sim.exchange.errors import InputRejected, OrderRefused, OutcomeUnknown
from sim.exchange.events import EventLog
from sim.exchange.flow import Modification, OrderFlow
from sim.exchange.ledger import BookOrder, Ledger
from sim.exchange.margin import MarginModel
from sim.exchange.market import Market
from sim.exchange.orders import check_price, check_quantity, validate_request
from sim.exchange.rules import RuleAction, RuleBook, UnknownOutcomeAction
from sim.exchange.scenario import ScenarioControl
from sim.exchange.throttle import OrderRateLimiter
from sim.exchange.universe import default_universe


class Exchange(Books, ScenarioControl):
    """The exchange core. Requests: `place`, `modify`, `cancel` (per account). Push: `subscribe`,
    `subscribe_ticks`, `unsubscribe`. Books and ledger: see `Books`. Scenario control: see
    `ScenarioControl`. Determinism: `digest()`; same seed and script, same digest."""

    def __init__(
        self,
        clock: Clock,
        streams: RandomStreams,
        *,
        config: ExchangeConfig | None = None,
        universe: InstrumentUniverse | None = None,
        trace: Trace | None = None,
    ) -> None:
        self.clock = clock
        self.config = config or ExchangeConfig()
        self.rules = self.config.rules
        spots = {name: model.spot for name, model in self.config.market.underlyings.items()}
        self.universe = universe or default_universe(clock.now(), spots)
        self._lock = threading.RLock()
        self.log = EventLog(trace)
        self.market = Market(clock, streams, self.universe, self.config.market)
        self.ledger = Ledger()
        self._depth = DepthBook(self.config.market, streams.stream("exchange.depth").getrandbits(64))
        self.margin = MarginModel(self.market, self.config.margin)
        self.accounts = Accounts(self.ledger, self.market, self.margin, self.config.margin)
        self._delivery = Delivery(clock, streams, self.config, self.log)
        self._flow = OrderFlow(
            clock=clock,
            streams=streams,
            config=self.config,
            lock=self._lock,
            market=self.market,
            depth=self._depth,
            accounts=self.accounts,
            ledger=self.ledger,
            delivery=self._delivery,
            log=self.log,
            on_enter=self._sync,
            on_exit=self._arm,
        )
        self._rules = RuleBook()
        self._limiter = OrderRateLimiter(self.config.rules)
        self._order_numbers = itertools.count(1)
        self._unknown_rng = streams.stream("faults.unknown")
        self._lost_rng = streams.stream("faults.lost")
        self._index_tokens = {m.token: name for name, m in self.config.market.underlyings.items() if m.token}
        self._step_timer: Timer | None = None
        self._closed = False

    # ------------------------------------------------------------------ requests

    def place(self, account: str, request: OrderRequest) -> str:
        """Accept an order for processing and return its id; or raise InputRejected, RateLimited,
        OutcomeUnknown (the order may exist: look it up by tag)."""
        with self._lock:
            self._sync()
            inst = validate_request(request, self.universe, self.config.rules)
            self._limiter.admit(account, self.clock.monotonic())
            action = self._rules.decide(account, request)
            if self._lost(action):
                self.log.record("lost_send", account, request.tag)
                raise OutcomeUnknown("Gateway timeout: the order request was not answered")
            order_id = f"{self.config.order_id_prefix}{next(self._order_numbers):011d}"
            order = BookOrder(order_id, account, request, inst, self.clock.now())
            self.log.record(
                "place",
                order_id,
                account,
                request.tag,
                request.tradingsymbol,
                request.side.value,
                request.quantity,
                request.order_type.value,
                request.price,
                request.trigger_price,
            )
            self._flow.accept(order, action)
            self._arm()
            if self._unknown(action):
                self.log.record("unknown_outcome", order_id)
                raise OutcomeUnknown("Gateway timeout: the order may have been placed")
            return order_id

    def _lost(self, action: RuleAction | None) -> bool:
        if isinstance(action, UnknownOutcomeAction):
            return not action.accepted
        rate = self.config.faults.lost_send_rate
        return rate > 0.0 and self._lost_rng.random() < rate

    def _unknown(self, action: RuleAction | None) -> bool:
        if isinstance(action, UnknownOutcomeAction):
            return action.accepted
        rate = self.config.faults.unknown_outcome_rate
        return rate > 0.0 and self._unknown_rng.random() < rate

    def modify(
        self,
        account: str,
        order_id: str,
        *,
        quantity: int | None = None,
        price: float | None = None,
        trigger_price: float | None = None,
        order_type: OrderType | None = None,
    ) -> str:
        with self._lock:
            self._sync()
            order = self._own(account, order_id)
            if order.is_terminal or order.cancel_requested or not order.live:
                raise OrderRefused(f"Order cannot be modified: it is {order.status}")
            if order.modifications >= self.config.rules.max_modifications:
                raise OrderRefused("Maximum allowed order modifications exceeded")
            self._check_modification(order, quantity, price, trigger_price, order_type)
            self._flow.request_modify(order, Modification(quantity, price, trigger_price, order_type))
            return order_id

    def _check_modification(
        self,
        order: BookOrder,
        quantity: int | None,
        price: float | None,
        trigger_price: float | None,
        order_type: OrderType | None,
    ) -> None:
        inst = order.instrument
        if quantity is not None:
            check_quantity(quantity, inst)
            if quantity <= order.filled_quantity:
                raise OrderRefused(f"Quantity {quantity} is not above the filled quantity {order.filled_quantity}")
        if price is not None:
            check_price("price", price, inst)
        if trigger_price is not None:
            check_price("trigger_price", trigger_price, inst)
        new_type = order_type or order.order_type
        if new_type in (OrderType.MARKET, OrderType.SL_M) and not order.request.market_protection:
            raise InputRejected("Market orders without `market_protection` are not allowed via API")
        if new_type is OrderType.SL_M and inst.is_option and not self.config.rules.sl_m_allowed_on_options:
            raise InputRejected("SL-M orders are not allowed for options")
        band = self.market.band(inst)
        effective_price = price if price is not None else order.price
        if new_type in (OrderType.LIMIT, OrderType.SL) and not band.contains(effective_price):
            raise OrderRefused(
                f"Order price {effective_price:.2f} is outside the price band {band.low:.2f} - {band.high:.2f}"
            )

    def cancel(self, account: str, order_id: str) -> str:
        with self._lock:
            self._sync()
            order = self._own(account, order_id)
            if order.is_terminal or order.cancel_requested:
                raise OrderRefused(f"Order cannot be cancelled as it is {order.status}")
            self._flow.request_cancel(order)
            return order_id

    # ------------------------------------------------------------------ subscriptions

    def subscribe(self, account: str, listener: BrokerListener, tokens: Iterable[int] = ()) -> None:
        with self._lock:
            self._sync()
            self._delivery.subscribe(account, listener, tokens)
            self._arm()

    def subscribe_ticks(self, listener: BrokerListener, tokens: Iterable[int]) -> None:
        with self._lock:
            self._sync()
            self._delivery.add_tokens(listener, tokens)
            self._arm()

    def unsubscribe(self, listener: BrokerListener) -> None:
        with self._lock:
            self._delivery.unsubscribe(listener)

    # ------------------------------------------------------------------ time

    def _sync(self) -> None:
        """Bring the market up to the clock, and let stops and working orders see the moves."""
        moved = self.market.catch_up()
        if moved:
            self._after_move(moved)

    def _after_move(self, underlyings: list[str]) -> None:
        self._flow.on_prices_moved(underlyings)
        if self._delivery.has_tick_subscribers():
            self._delivery.publish_ticks(self._tick_prices(underlyings), self.clock.now())

    def _tick_prices(self, underlyings: list[str]) -> dict[int, tuple[float, str]]:
        prices: dict[int, tuple[float, str]] = {}
        for token in self._delivery.wanted_tokens():
            index = self._index_tokens.get(token)
            if index is not None:
                if index in underlyings and not self.market.is_halted(index):
                    prices[token] = (round_to_tick(self.market.spot(index), 0.05), index)
                continue
            inst = self.universe.by_token(token)
            if inst is not None and inst.underlying in underlyings and not self.market.is_halted(inst.underlying):
                prices[token] = (self.market.ltp(inst), inst.tradingsymbol)
        return prices

    def _arm(self) -> None:
        """Keep the price-step timer running while anything depends on prices moving."""
        if self._closed or self._step_timer is not None:
            return
        if not (self._flow.live or self._delivery.has_tick_subscribers()):
            return
        delay = max(0.0, self.market.next_step_time() - self.clock.monotonic())
        self._step_timer = self.clock.call_later(delay, self._on_step)

    def _on_step(self) -> None:
        with self._lock:
            self._step_timer = None
            self._sync()
            self._arm()

    def close(self) -> None:
        """Stop the price-step timer; nothing more is pushed to anyone."""
        with self._lock:
            self._closed = True
            self._delivery.close()
            if self._step_timer is not None:
                self._step_timer.cancel()
                self._step_timer = None
