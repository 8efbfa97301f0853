"""Running the Kite-protocol server: on a thread of this process (tests), or as its own process.

The socket is bound before uvicorn starts, so port 0 works (the kernel picks a free port and the
caller learns it before the first request) and nothing races for a "free" port number. Readiness is
uvicorn's own `started` flag, surfaced as a callback once the listener is serving.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from typing import Any, Self

import uvicorn
from starlette.applications import Starlette

STARTUP_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 10.0
# Handlers still running at shutdown (a delayed answer, an open WebSocket) get this long.
GRACEFUL_SHUTDOWN_S = 1
LOOPBACK = "127.0.0.1"


def bind_socket(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    return sock


class _Uvicorn(uvicorn.Server):
    """uvicorn.Server that says when it is serving (its `started` flag is a plain attribute)."""

    def __init__(self, config: uvicorn.Config, on_started: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_started = on_started

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            self._on_started()


def uvicorn_server(app: Starlette, on_started: Callable[[], None]) -> uvicorn.Server:
    config = uvicorn.Config(
        app,
        log_config=None,  # leave the host process's logging alone
        log_level="warning",
        access_log=False,
        # websockets' sans-I/O protocol: the legacy one is deprecated and warns (tests make warnings errors)
        ws="websockets-sansio",
        lifespan="on",
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
    )
    return _Uvicorn(config, on_started)


class KiteServerThread:
    """The server on a daemon thread of this process. Signal handlers stay with the main thread."""

    def __init__(self, app: Starlette, *, host: str = LOOPBACK, port: int = 0) -> None:
        self.app = app
        self.host = host
        self._socket = bind_socket(host, port)
        self.port: int = self._socket.getsockname()[1]
        self._settled = threading.Event()  # started, or died trying
        self._started = False
        self._failure: BaseException | None = None
        self._server = uvicorn_server(app, self._mark_started)
        self._thread = threading.Thread(target=self._run, name=f"kite-server-{self.port}", daemon=True)

    @property
    def api_root(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws_root(self) -> str:
        return f"ws://{self.host}:{self.port}/ws"

    def _mark_started(self) -> None:
        self._started = True
        self._settled.set()

    def _run(self) -> None:
        try:
            self._server.run(sockets=[self._socket])
        except BaseException as exc:  # SystemExit from a failed lifespan included
            self._failure = exc
        finally:
            self._settled.set()

    def start(self, timeout: float = STARTUP_TIMEOUT_S) -> Self:
        self._thread.start()
        if not self._settled.wait(timeout):
            raise TimeoutError(f"the Kite server did not start within {timeout}s")
        if not self._started:
            raise RuntimeError("the Kite server failed to start") from self._failure
        return self

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> None:
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout)
        self._socket.close()
        if self._thread.is_alive():
            raise TimeoutError(f"the Kite server did not stop within {timeout}s")

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_exc: Any) -> None:
        self.stop()


def serve_forever(app: Starlette, *, host: str, port: int, ready: Callable[[int], None] | None = None) -> int:
    """Serve on the calling (main) thread until SIGINT / SIGTERM; uvicorn handles both gracefully."""
    sock = bind_socket(host, port)
    bound_port: int = sock.getsockname()[1]
    server = uvicorn_server(app, (lambda: ready(bound_port)) if ready is not None else (lambda: None))
    try:
        server.run(sockets=[sock])
    except SystemExit as exc:  # uvicorn exits this way when the app's startup fails
        return int(exc.code or 1)
    finally:
        sock.close()
    return 0 if server.started else 1
