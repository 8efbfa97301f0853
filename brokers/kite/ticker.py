"""The push channel: `KiteTicker` order updates and LTP ticks delivered to a `BrokerListener`.

Three things the bare client does not do, done here:

- **A watchdog.** kiteconnect 5.2.2 still schedules its ping loop, but the loop no longer sends a
  ping (upstream removed `sendPing`), and its pong check only acts once a pong has been seen — which
  never happens. A socket that dies silently (no FIN, no RST) is therefore never noticed. Kite sends
  a heartbeat frame every second or so on a live socket, so "no frame for `watchdog_s`" means dead:
  the watchdog aborts the connection and KiteTicker's own reconnect logic dials again. If that logic
  has given up (`on_noreconnect`), the watchdog dials afresh.
- **A reliable reconnect signal.** Every successful (re)connect — ours or KiteTicker's — ends in
  `listener.on_connection(True)`, after the tick subscriptions are re-sent, and every drop in
  `on_connection(False)`. Updates sent while the socket was down are lost, so the owner must
  reconcile from the REST order book on True before taking new risk.
- **One reactor per process** (`brokers.kite.reactor`): the channel never stops the reactor.

Callbacks run on the reactor thread; the listener must not block (a pykka `tell` is right).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import structlog

from brokers.kite.packets import parse_tick_frame
from brokers.kite.parse import parse_order
from brokers.kite.reactor import call_in_reactor, call_in_reactor_and_wait
from brokers.port import BrokerListener
from runtime.clock import Clock, Timer
from runtime.config import KiteConfig

log = structlog.get_logger("kite.ticker")

# KiteTicker refuses a max delay under 5 s and more than 300 tries; a trading system wants both ends.
RECONNECT_MAX_DELAY_S = 5
RECONNECT_MAX_TRIES = 300
# How often the watchdog looks, as a share of `watchdog_s`: a dead socket is noticed within 1.25x.
WATCHDOG_CHECKS_PER_PERIOD = 4


def _default_ticker(config: KiteConfig) -> Any:
    from kiteconnect import KiteTicker

    return KiteTicker(
        config.api_key,
        config.access_token,
        root=config.ws_root,
        reconnect=True,
        reconnect_max_tries=RECONNECT_MAX_TRIES,
        reconnect_max_delay=RECONNECT_MAX_DELAY_S,
    )


class KitePushChannel:
    def __init__(
        self,
        config: KiteConfig,
        *,
        clock: Clock,
        reconnect_initial_delay_s: float = 1.0,
        ticker_factory: Callable[[KiteConfig], Any] = _default_ticker,
    ) -> None:
        self._config = config
        self._clock = clock
        self._initial_delay_s = reconnect_initial_delay_s
        self._ticker = ticker_factory(config)
        self._listener: BrokerListener | None = None
        self._tokens: set[int] = set()  # mutated on the reactor thread only
        self._connected = False
        self._gave_up = False
        self._closed = False
        self._last_frame = clock.monotonic()
        self._watchdog: Timer | None = None
        self._start_requested = False
        self.connects = 0  # successful (re)connects, for logs and tests

    @property
    def connected(self) -> bool:
        return self._connected

    # ------------------------------------------------------------------ owner's side (any thread)

    def start(self, listener: BrokerListener, tokens: Iterable[int] = ()) -> None:
        """Connect and push to `listener`. Called again (a restarted owner), it replaces the
        listener, adds the tokens and, when connected, tells the new listener so at once."""
        self._start_requested = True
        call_in_reactor(self._attach, listener, frozenset(tokens))

    def subscribe_ticks(self, tokens: Iterable[int]) -> None:
        call_in_reactor(self._subscribe, frozenset(tokens))

    def close(self) -> None:
        self._closed = True  # read by the reactor thread: nothing is dialled or delivered after this
        if self._watchdog is not None:
            self._watchdog.cancel()
        if not self._start_requested:
            return  # never started: no socket, and no reason to start a reactor
        # Waited for, so that no reconnect is attempted once the owner believes the channel closed.
        call_in_reactor_and_wait(self._shutdown)

    # ------------------------------------------------------------------ reactor thread

    def _attach(self, listener: BrokerListener, tokens: frozenset[int]) -> None:
        first = self._listener is None
        self._listener = listener
        self._subscribe(tokens)
        if first:
            self._wire_callbacks()
            self._dial()
            self._arm_watchdog()
        elif self._connected:
            self._deliver("on_connection", True)

    def _wire_callbacks(self) -> None:
        ticker = self._ticker
        ticker.on_connect = self._on_connect
        ticker.on_close = self._on_close
        ticker.on_error = self._on_error
        ticker.on_message = self._on_message
        ticker.on_order_update = self._on_order_update
        ticker.on_reconnect = self._on_reconnect
        ticker.on_noreconnect = self._on_noreconnect

    def _shutdown(self) -> None:
        # close() = stop_retry + a close frame. Never stop(): that stops the process's only reactor.
        if getattr(self._ticker, "factory", None) is not None:  # only set once connect() has run
            self._ticker.close()

    def _dial(self) -> None:
        if self._closed:
            return
        self._gave_up = False
        # On the reactor thread the reactor already runs, so connect() only dials.
        self._ticker.connect(threaded=True)
        # Twisted's ReconnectingClientFactory starts at 1 s and grows by e; a shorter first delay
        # shortens the unhedged-blind window after a drop.
        factory = self._ticker.factory
        factory.initialDelay = factory.delay = self._initial_delay_s

    def _subscribe(self, tokens: frozenset[int]) -> None:
        fresh = sorted(tokens - self._tokens)
        self._tokens |= tokens
        if fresh and self._connected:
            self._send_subscription(fresh)

    def _send_subscription(self, tokens: list[int]) -> None:
        self._ticker.subscribe(tokens)
        self._ticker.set_mode(self._ticker.MODE_LTP, tokens)

    def _on_connect(self, _ws: Any, _response: Any) -> None:
        self._connected = True
        self._last_frame = self._clock.monotonic()
        self.connects += 1
        if self._tokens:
            self._send_subscription(sorted(self._tokens))
        log.info("kite_ws_connected", connects=self.connects)
        self._deliver("on_connection", True)

    def _on_close(self, _ws: Any, code: Any, reason: Any) -> None:
        was_connected, self._connected = self._connected, False
        log.warning("kite_ws_closed", code=code, reason=str(reason))
        if was_connected:
            self._deliver("on_connection", False)

    def _on_error(self, _ws: Any, code: Any, reason: Any) -> None:
        log.warning("kite_ws_error", code=code, reason=str(reason))

    def _on_message(self, _ws: Any, payload: bytes, is_binary: bool) -> None:
        self._last_frame = self._clock.monotonic()  # heartbeats count: they prove the socket lives
        if is_binary:
            for tick in parse_tick_frame(payload, ts=self._clock.now()):
                self._deliver("on_tick", tick)

    def _on_order_update(self, _ws: Any, data: dict[str, Any]) -> None:
        try:
            update = parse_order(data, ts=self._clock.now())
        except (KeyError, TypeError, ValueError):
            log.exception("kite_ws_bad_order_update", data=data)
            return
        self._deliver("on_order_update", update)

    def _on_reconnect(self, _ws: Any, attempts: int) -> None:
        log.info("kite_ws_reconnecting", attempt=attempts)

    def _on_noreconnect(self, _ws: Any) -> None:
        self._gave_up = True
        log.error("kite_ws_gave_up")

    def _deliver(self, method: str, value: Any) -> None:
        if self._closed or self._listener is None:
            return
        try:
            getattr(self._listener, method)(value)
        except Exception:  # a listener bug must not kill the reactor thread's callback chain
            log.exception("kite_listener_failed", method=method)

    def _drop_if_silent(self) -> None:
        silent_for = self._clock.monotonic() - self._last_frame
        if self._closed or not self._connected or silent_for <= self._config.watchdog_s:
            return
        log.warning("kite_ws_silent", silent_for=round(silent_for, 3))
        self._last_frame = self._clock.monotonic()
        ws = self._ticker.ws
        if ws is not None:
            ws.dropConnection(abort=True)  # KiteTicker's factory then reconnects

    # ------------------------------------------------------------------ watchdog (clock thread)

    def _arm_watchdog(self) -> None:
        if not self._closed:
            period = self._config.watchdog_s / WATCHDOG_CHECKS_PER_PERIOD
            self._watchdog = self._clock.call_later(period, self._check)

    def _check(self) -> None:
        if self._closed:
            return
        if self._connected and self._clock.monotonic() - self._last_frame > self._config.watchdog_s:
            call_in_reactor(self._drop_if_silent)  # re-checked there: the reactor owns the socket
        elif self._gave_up:
            call_in_reactor(self._dial)
        self._arm_watchdog()
