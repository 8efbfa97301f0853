"""The one Twisted reactor `KiteTicker` runs on: started once per process, never stopped.

Twisted's reactor cannot be restarted (a second `run()` raises ReactorNotRestartable), and
`KiteTicker.connect(threaded=True)` only starts it when `reactor.running` is false, which races when
two tickers connect at once. So the reactor is started here, once, on a daemon thread, and every
ticker is connected from inside it (`connect()` then sees a running reactor and only dials). Twisted
is not thread-safe: anything that touches a ticker's socket goes through `call_in_reactor`.

Nothing in legguard may call `KiteTicker.stop()` (it stops the reactor for the whole process); close a
ticker with `KiteTicker.close()`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

STARTUP_TIMEOUT_S = 10.0

_lock = threading.Lock()
_running = threading.Event()
_threads: list[threading.Thread] = []  # at most one: the reactor thread this module started


class ReactorUnavailable(RuntimeError):
    """The process's reactor did not start, or was stopped and cannot run again."""


def _reactor() -> Any:
    from twisted.internet import reactor

    return reactor


def _run() -> None:
    # Signals belong to the main thread; the service installs its own handlers.
    _reactor().run(installSignalHandlers=False)


def ensure_reactor_running(timeout: float = STARTUP_TIMEOUT_S) -> None:
    """Start the reactor thread if this process has none; return once the reactor runs."""
    reactor = _reactor()
    with _lock:
        if not _threads and not reactor.running:
            if getattr(reactor, "_startedBefore", False):  # Twisted's own ReactorNotRestartable test
                raise ReactorUnavailable(
                    "the Twisted reactor was stopped; it cannot run again in this process"
                )
            reactor.callWhenRunning(_running.set)
            thread = threading.Thread(target=_run, name="kite-reactor", daemon=True)
            _threads.append(thread)
            thread.start()
        elif reactor.running:
            _running.set()  # started by someone else (a bare KiteTicker.connect): use it
    if not _running.wait(timeout):
        raise ReactorUnavailable(f"the Twisted reactor did not start within {timeout}s")
    if not reactor.running:
        raise ReactorUnavailable("the Twisted reactor has stopped; it cannot run again in this process")


def call_in_reactor(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """Run `fn` on the reactor thread (the only thread allowed to touch Twisted objects)."""
    ensure_reactor_running()
    _reactor().callFromThread(fn, *args, **kwargs)


def call_in_reactor_and_wait(fn: Callable[..., Any], *args: Any, timeout: float = STARTUP_TIMEOUT_S) -> None:
    """`call_in_reactor`, returning once `fn` has run there (or at once, when already on that thread)."""
    from twisted.python import threadable

    if threadable.isInIOThread():  # type: ignore[no-untyped-call]
        fn(*args)
        return
    done = threading.Event()

    def run() -> None:
        try:
            fn(*args)
        finally:
            done.set()

    call_in_reactor(run)
    if not done.wait(timeout):
        raise ReactorUnavailable(
            f"the reactor did not run {getattr(fn, '__qualname__', fn)} within {timeout}s"
        )


def connect_ticker(ticker: Any) -> None:
    """Connect a `KiteTicker` on the shared reactor: `connect(threaded=True)` run inside it only dials."""
    call_in_reactor(ticker.connect, threaded=True)
