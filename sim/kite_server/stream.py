"""The WebSocket face (`/ws`): order updates as text, ticks as binary frames, heartbeats in between.

The hub is the broker's `BrokerListener`: the broker calls it from its own thread, and the hub hands
each push to the event loop, which fans it out to every client's queue. Each client has a writer (its
queue, or a heartbeat when the queue stays empty for `heartbeat_s`, as Kite does) and a reader (the
client's `subscribe` / `unsubscribe` / `mode` messages).

Two test hooks model a broken network: `drop_all()` closes every socket (the client sees it and
reconnects) and `mute_all()` makes every current socket go silent without closing it (a dead TCP
path: only a client-side watchdog notices).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import structlog
from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocket, WebSocketDisconnect

from brokers.kite.packets import HEARTBEAT, MODE_FULL, MODE_LTP, MODE_QUOTE, encode_frame, encode_tick_packet
from domain.messages import OrderUpdate, Tick
from sim.kite_server.shapes import postback_payload

log = structlog.get_logger("kite_server.stream")

_MODES = frozenset({MODE_LTP, MODE_QUOTE, MODE_FULL})
_DROP = object()  # queued to a client's writer: close the socket
_CLOSE_CODE = 1011  # "server error": what a crashed Kite edge would send


@dataclass(eq=False)
class _Client:
    websocket: WebSocket
    queue: asyncio.Queue[Any] = field(default_factory=asyncio.Queue)
    modes: dict[int, str] = field(default_factory=dict)  # token -> mode
    muted: bool = False


class StreamHub:
    def __init__(
        self,
        *,
        heartbeat_s: float,
        snapshot: Callable[[Iterable[int]], Mapping[int, float]],
        watch_tokens: Callable[[frozenset[int]], None],
        token_of: Callable[[str], int],
    ) -> None:
        self._heartbeat_s = heartbeat_s
        self._snapshot = snapshot  # tokens -> last prices, sent on subscribe as Kite does
        self._watch_tokens = watch_tokens  # tell the broker which tokens to tick
        self._token_of = token_of
        self._loop: asyncio.AbstractEventLoop | None = None
        self._clients: set[_Client] = set()
        self._watched: frozenset[int] = frozenset()

    def bind_loop(self, loop: asyncio.AbstractEventLoop | None) -> None:
        self._loop = loop

    @property
    def client_count(self) -> int:
        return len(self._clients)

    # ------------------------------------------------------------------ BrokerListener (broker's thread)

    def on_order_update(self, update: OrderUpdate) -> None:
        payload = postback_payload(update, instrument_token=self._token_of(update.tradingsymbol))
        self._post(self._broadcast, json.dumps({"type": "order", "data": payload}))

    def on_tick(self, tick: Tick) -> None:
        self._post(self._fan_out_tick, tick.instrument_token, tick.last_price)

    def on_connection(self, connected: bool) -> None:
        return None  # the broker is in-process: it has no connection to lose

    # ------------------------------------------------------------------ test hooks (any thread)

    def drop_all(self) -> None:
        self._post(self._for_each, lambda client: client.queue.put_nowait(_DROP))

    def mute_all(self) -> None:
        self._post(self._for_each, lambda client: setattr(client, "muted", True))

    def _post(self, fn: Callable[..., None], *args: Any) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed between the check and the call
                loop.call_soon_threadsafe(fn, *args)

    # ------------------------------------------------------------------ event loop

    def _for_each(self, action: Callable[[_Client], None]) -> None:
        for client in list(self._clients):
            action(client)

    def _broadcast(self, frame: str | bytes) -> None:
        for client in self._clients:
            client.queue.put_nowait(frame)

    def _fan_out_tick(self, token: int, last_price: float) -> None:
        for client in self._clients:
            mode = client.modes.get(token)
            if mode is not None:
                self._send_ticks(client, {token: last_price})

    def _send_ticks(self, client: _Client, prices: Mapping[int, float]) -> None:
        packets = []
        for token, price in prices.items():
            try:
                packets.append(encode_tick_packet(token, price, mode=client.modes.get(token, MODE_LTP)))
            except (ValueError, OverflowError):  # a bad tick (NaN, negative) has no wire form
                log.warning("tick_not_encodable", token=token, last_price=price)
        if packets:
            client.queue.put_nowait(encode_frame(packets))

    async def serve(self, websocket: WebSocket) -> None:
        client = _Client(websocket)
        # Registered before the handshake completes: an update pushed the moment the client sees
        # its socket open is queued for it, not lost in between.
        self._clients.add(client)
        try:
            await websocket.accept()
        except Exception:
            self._clients.discard(client)
            raise
        reader = asyncio.ensure_future(self._read(client))
        writer = asyncio.ensure_future(self._write(client))
        try:
            await asyncio.wait({reader, writer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._clients.discard(client)
            for task in (reader, writer):
                task.cancel()
            await asyncio.gather(reader, writer, return_exceptions=True)

    async def _write(self, client: _Client) -> None:
        while True:
            try:
                frame = await asyncio.wait_for(client.queue.get(), timeout=self._heartbeat_s)
            except TimeoutError:
                frame = HEARTBEAT
            if frame is _DROP:
                await client.websocket.close(code=_CLOSE_CODE)
                return
            if client.muted:
                continue
            if isinstance(frame, bytes):
                await client.websocket.send_bytes(frame)
            else:
                await client.websocket.send_text(frame)

    async def _read(self, client: _Client) -> None:
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                message = await client.websocket.receive()
                if message["type"] == "websocket.disconnect":
                    return
                raw = message.get("text") or message.get("bytes") or b""
                await self._handle_request(client, raw)

    async def _handle_request(self, client: _Client, raw: str | bytes) -> None:
        try:
            request = json.loads(raw)
            action, value = request["a"], request["v"]
        except (ValueError, KeyError, TypeError):
            client.queue.put_nowait(json.dumps({"type": "error", "data": "Invalid message"}))
            return
        if action == "subscribe":
            tokens = [int(t) for t in value]
            for token in tokens:
                client.modes.setdefault(token, MODE_QUOTE)  # Kite's default mode
            await self._tokens_changed(client, tokens)
        elif action == "unsubscribe":
            for token in value:
                client.modes.pop(int(token), None)
        elif action == "mode" and len(value) == 2 and value[0] in _MODES:
            mode, tokens = value[0], [int(t) for t in value[1]]
            for token in tokens:
                client.modes[token] = mode
            await self._tokens_changed(client, tokens)

    async def _tokens_changed(self, client: _Client, tokens: list[int]) -> None:
        watched = frozenset().union(*(c.modes for c in self._clients))
        if watched != self._watched:
            await run_in_threadpool(self._watch_tokens, watched)
            # Remembered only once the broker has been told: a request cut short on the way (its client
            # left and `serve` cancelled the reader) must leave the next subscriber to tell it again.
            self._watched = watched
        prices = await run_in_threadpool(self._snapshot, tokens)
        self._send_ticks(client, prices)
